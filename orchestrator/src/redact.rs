//! Redaction of tenant secrets from everything saasctl writes or prints.
//! Terraform masks `sensitive` values in its own plan output, but not in
//! `show -json` or in error messages that quote a value, so every byte we
//! persist goes through a `Redactor` first.

pub const REDACTED: &str = "(sensitive value)";

/// Replaces each secret (raw and JSON-escaped) with [`REDACTED`].
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    needles: Vec<String>,
}

impl Redactor {
    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a String>) -> Self {
        let mut needles: Vec<String> = Vec::new();
        for secret in secrets.into_iter().filter(|s| !s.is_empty()) {
            let escaped = serde_json::to_string(secret).unwrap_or_default();
            let escaped = escaped.trim_matches('"').to_string();
            for needle in [secret.clone(), escaped] {
                if !needle.is_empty() && !needles.contains(&needle) {
                    needles.push(needle);
                }
            }
        }
        // Longest first, so a secret that contains another is replaced whole.
        needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
        Redactor { needles }
    }

    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for needle in &self.needles {
            if out.contains(needle.as_str()) {
                out = out.replace(needle.as_str(), REDACTED);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_raw_and_json_escaped_secrets() {
        let secrets = ["s3cr\"et".to_string(), "tok".to_string(), String::new()];
        let r = Redactor::new(&secrets);
        assert_eq!(r.redact("a s3cr\"et b"), "a (sensitive value) b");
        assert_eq!(
            r.redact(r#"{"v":"s3cr\"et"}"#),
            r#"{"v":"(sensitive value)"}"#
        );
        assert_eq!(r.redact("tok tok"), "(sensitive value) (sensitive value)");
        assert_eq!(Redactor::default().redact("tok"), "tok");
    }
}
