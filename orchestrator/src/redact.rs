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

    /// For a tenant's typed sensitive values: every string in them, and
    /// every number of four digits or more (a shorter number or a bool
    /// would redact far more than the secret). A list or object is redacted
    /// through its leaves, whatever its layout in the text.
    pub fn for_values<'a>(values: impl IntoIterator<Item = &'a serde_json::Value>) -> Self {
        fn leaves(value: &serde_json::Value, out: &mut Vec<String>) {
            match value {
                serde_json::Value::String(s) => out.push(s.clone()),
                serde_json::Value::Number(n) if n.to_string().len() >= 4 => out.push(n.to_string()),
                serde_json::Value::Array(items) => items.iter().for_each(|v| leaves(v, out)),
                serde_json::Value::Object(map) => map.values().for_each(|v| leaves(v, out)),
                _ => {}
            }
        }
        let mut texts = Vec::new();
        for value in values {
            leaves(value, &mut texts);
        }
        Redactor::new(&texts)
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

    #[test]
    fn typed_secrets_are_redacted_through_their_leaves() {
        let secrets = [
            serde_json::json!({"user": "admin-x", "pin": 914273, "on": true}),
            serde_json::json!(["k3y-one", 7]),
        ];
        let r = Redactor::for_values(&secrets);
        assert_eq!(
            r.redact(r#"user=admin-x pin=914273 keys=["k3y-one",7] on=true"#),
            r#"user=(sensitive value) pin=(sensitive value) keys=["(sensitive value)",7] on=true"#
        );
    }
}
