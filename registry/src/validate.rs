//! Input validation. Every check returns `RegistryError::Invalid` naming the
//! attribute path, so the provider can attach it to a diagnostic and the CLI
//! can print it on one line. Ids are validated here before they reach any
//! path, key, bucket or table name.

use crate::error::{RegistryError, Result};
use crate::model::{Application, Isolation, LockKind, Tenant};

pub const MAX_SLUG_LEN: usize = 40;
const MAX_NAME_LEN: usize = 256;
const MAX_EMAIL_LEN: usize = 254;

/// Names that break a run directory on some CI runners' file systems.
const RESERVED_SLUGS: [&str; 22] = [
    "con", "prn", "aux", "nul", "com1", "com2", "com3", "com4", "com5", "com6", "com7", "com8",
    "com9", "lpt1", "lpt2", "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9",
];

/// Suffixes and prefixes S3 reserves, so no derived bucket may use them.
const BUCKET_RESERVED_PREFIXES: [&str; 3] = ["xn--", "sthree-", "amzn-s3-demo-"];
const BUCKET_RESERVED_SUFFIXES: [&str; 4] = ["-s3alias", "--ol-s3", "--x-s3", "--table-s3"];

/// A lowercase DNS label: `[a-z0-9]([a-z0-9-]*[a-z0-9])?`, 1 to 40 chars.
pub fn slug(field: &str, value: &str) -> Result<()> {
    let fail = |why: &str| {
        Err(RegistryError::invalid(
            field,
            format!("{:?} {why}", shorten(value)),
        ))
    };
    if value.is_empty() {
        return fail("is empty; expected a lowercase DNS label (a-z, 0-9, '-')");
    }
    if value.len() > MAX_SLUG_LEN {
        return Err(RegistryError::invalid(
            field,
            format!(
                "is {} characters long; at most {MAX_SLUG_LEN} are allowed",
                value.chars().count()
            ),
        ));
    }
    if let Some(c) = value
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return fail(&format!(
            "contains {c:?}; only lowercase letters a-z, digits and '-' are allowed"
        ));
    }
    if value.starts_with('-') || value.ends_with('-') {
        return fail("must start and end with a letter or digit");
    }
    if RESERVED_SLUGS.contains(&value) {
        return fail("is a reserved name (a device name on Windows runners)");
    }
    Ok(())
}

/// A deliberately plain address check: one '@', a non-empty local part, a
/// dotted domain of DNS labels, no spaces or control characters.
pub fn email(field: &str, value: &str) -> Result<()> {
    let fail = |why: &str| {
        Err(RegistryError::invalid(
            field,
            format!("{:?} is not a valid email address: {why}", shorten(value)),
        ))
    };
    if value.len() > MAX_EMAIL_LEN {
        return fail("too long");
    }
    let Some((local, domain)) = value.split_once('@') else {
        return fail("missing '@'");
    };
    if local.is_empty() || domain.contains('@') {
        return fail("expected exactly one '@' with text before it");
    }
    if value
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || !c.is_ascii())
    {
        return fail("contains spaces, control or non-ASCII characters");
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2
        || labels.iter().any(|l| {
            l.is_empty()
                || l.starts_with('-')
                || l.ends_with('-')
                || !l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
    {
        return fail("the domain must be dotted labels like example.com");
    }
    Ok(())
}

/// Free text that is shown to people: non-empty, bounded, no control chars.
pub fn display_name(field: &str, value: &str) -> Result<()> {
    if value.trim().is_empty() {
        return Err(RegistryError::invalid(field, "must not be empty"));
    }
    if value.chars().count() > MAX_NAME_LEN {
        return Err(RegistryError::invalid(
            field,
            format!("is longer than {MAX_NAME_LEN} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(RegistryError::invalid(field, "contains control characters"));
    }
    Ok(())
}

/// Map keys that become Terraform variable names or label keys.
pub fn map_keys<'a>(field: &str, keys: impl IntoIterator<Item = &'a String>) -> Result<()> {
    for key in keys {
        let ok = !key.is_empty()
            && key.len() <= 128
            && key
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.' || c == '/');
        if !ok {
            return Err(RegistryError::invalid(
                format!("{field}[{key:?}]"),
                "keys must start with a letter or '_' and use only letters, digits, '_', '-', '.', '/'",
            ));
        }
    }
    Ok(())
}

/// S3 bucket naming rules (the subset without dots, which we never emit).
pub fn bucket_name(field: &str, name: &str) -> Result<()> {
    let fail = |why: String| {
        Err(RegistryError::invalid(
            field,
            format!("bucket name {name:?} {why}"),
        ))
    };
    if !(3..=63).contains(&name.len()) {
        return fail(format!("is {} characters; S3 allows 3 to 63", name.len()));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return fail("may contain only a-z, 0-9 and '-'".into());
    }
    if name.starts_with('-') || name.ends_with('-') {
        return fail("must start and end with a letter or digit".into());
    }
    if let Some(p) = BUCKET_RESERVED_PREFIXES
        .iter()
        .find(|p| name.starts_with(*p))
    {
        return fail(format!("starts with the reserved prefix {p:?}"));
    }
    if let Some(s) = BUCKET_RESERVED_SUFFIXES.iter().find(|s| name.ends_with(*s)) {
        return fail(format!("ends with the reserved suffix {s:?}"));
    }
    Ok(())
}

/// DynamoDB table naming rules.
pub fn table_name(field: &str, name: &str) -> Result<()> {
    if !(3..=255).contains(&name.len())
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return Err(RegistryError::invalid(
            field,
            format!(
                "table name {name:?} must be 3 to 255 characters of a-z, A-Z, 0-9, '_', '-', '.'"
            ),
        ));
    }
    Ok(())
}

/// The key template must put `{application}` and `{tenant}` each in a path
/// segment of their own, so a key names exactly one (application, tenant).
pub fn key_template(field: &str, template: &str) -> Result<()> {
    let segments: Vec<&str> = template.split('/').collect();
    for placeholder in ["{application}", "{tenant}"] {
        if segments.iter().filter(|s| **s == placeholder).count() != 1 {
            return Err(RegistryError::invalid(
                field,
                format!("key template {template:?} must contain {placeholder} exactly once, as a whole path segment"),
            ));
        }
    }
    if template.starts_with('/')
        || segments
            .iter()
            .any(|s| s.is_empty() || *s == "." || *s == "..")
    {
        return Err(RegistryError::invalid(
            field,
            format!("key template {template:?} has an empty, '.' or '..' segment"),
        ));
    }
    let stripped = template
        .replace("{application}", "")
        .replace("{tenant}", "");
    if stripped.contains('{') || stripped.contains('}') {
        return Err(RegistryError::invalid(field, format!("key template {template:?} uses an unknown placeholder; only {{application}} and {{tenant}} exist")));
    }
    Ok(())
}

pub fn application(app: &Application) -> Result<()> {
    slug("name", &app.name)?;
    if app.tiers.is_empty() {
        return Err(RegistryError::invalid(
            "tiers",
            "must list at least one tier",
        ));
    }
    for tier in &app.tiers {
        slug("tiers", tier)?;
    }
    map_keys("labels", app.labels.keys())?;
    let st = &app.state;
    if st.region.is_empty()
        || !st
            .region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(RegistryError::invalid(
            "state.region",
            format!("{:?} is not an AWS region name", st.region),
        ));
    }
    key_template("state.key", &st.key)?;
    match st.isolation {
        Isolation::Prefix => {
            let bucket = st.bucket.as_deref().ok_or_else(|| {
                RegistryError::invalid("state.bucket", "is required when isolation is \"prefix\"")
            })?;
            bucket_name("state.bucket", bucket)?;
            if st.bucket_prefix.is_some() {
                return Err(RegistryError::invalid(
                    "state.bucket_prefix",
                    "applies only when isolation is \"bucket\"",
                ));
            }
        }
        Isolation::Bucket => {
            let prefix = st.bucket_prefix.as_deref().ok_or_else(|| {
                RegistryError::invalid(
                    "state.bucket_prefix",
                    "is required when isolation is \"bucket\"",
                )
            })?;
            // The shortest and longest tenant ids must both give valid buckets.
            bucket_name("state.bucket_prefix", &format!("{prefix}-a"))?;
            if prefix.len() + 1 + MAX_SLUG_LEN > 63 {
                return Err(RegistryError::invalid(
                    "state.bucket_prefix",
                    format!("{prefix:?} is too long: with a {MAX_SLUG_LEN}-character tenant id the bucket would exceed 63 characters (use at most {} characters)", 63 - 1 - MAX_SLUG_LEN),
                ));
            }
            if st.bucket.is_some() {
                return Err(RegistryError::invalid(
                    "state.bucket",
                    "applies only when isolation is \"prefix\"",
                ));
            }
        }
    }
    match st.lock {
        LockKind::Dynamodb => {
            let table = st.lock_table.as_deref().ok_or_else(|| {
                RegistryError::invalid("state.lock_table", "is required when lock is \"dynamodb\"")
            })?;
            table_name("state.lock_table", table)?;
        }
        LockKind::S3 => {
            if st.lock_table.is_some() {
                return Err(RegistryError::invalid(
                    "state.lock_table",
                    "applies only when lock is \"dynamodb\"",
                ));
            }
        }
    }
    Ok(())
}

/// Checks a tenant on its own (no lookups).
pub fn tenant(t: &Tenant) -> Result<()> {
    slug("id", &t.id)?;
    display_name("name", &t.name)?;
    email("email", &t.email)?;
    slug("tier", &t.tier)?;
    for app in &t.applications {
        slug("applications", app)?;
    }
    map_keys("variables", t.variables.keys())?;
    map_keys("sensitive_variables", t.sensitive_variables.keys())?;
    if let Some(k) = t
        .variables
        .keys()
        .find(|k| t.sensitive_variables.contains_key(*k))
    {
        return Err(RegistryError::invalid(
            format!("sensitive_variables[{k:?}]"),
            "is also set in variables; a variable is either sensitive or not",
        ));
    }
    map_keys("labels", t.labels.keys())?;
    Ok(())
}

/// Checks a tenant against the applications it names: each must exist (be
/// in `known`) and allow the tenant's tier.
pub fn tenant_references(t: &Tenant, known: &[Application]) -> Result<()> {
    for name in &t.applications {
        let app = known.iter().find(|a| &a.name == name).ok_or_else(|| {
            RegistryError::invalid("applications", format!("unknown application {name:?}"))
        })?;
        if !app.tiers.contains(&t.tier) {
            let allowed: Vec<&str> = app.tiers.iter().map(String::as_str).collect();
            return Err(RegistryError::invalid(
                "tier",
                format!(
                    "tier {:?} is not allowed by application {name:?} (allowed: {})",
                    t.tier,
                    allowed.join(", ")
                ),
            ));
        }
        // The id must also make valid bucket/table names for this application.
        crate::backend::derive(app, &t.id).map_err(|e| match e {
            RegistryError::Invalid { message, .. } => RegistryError::invalid(
                "id",
                format!("cannot be used with application {name:?}: {message}"),
            ),
            other => other,
        })?;
    }
    Ok(())
}

/// Two applications may share state storage only where their tenants still
/// cannot collide: a shared bucket needs one key template, and no shared
/// bucket may fall inside another application's per-tenant bucket space.
pub fn state_compatible(app: &Application, others: &[Application]) -> Result<()> {
    for other in others.iter().filter(|o| o.name != app.name) {
        let (a, b) = (&app.state, &other.state);
        match (a.isolation, b.isolation) {
            (Isolation::Prefix, Isolation::Prefix) if a.bucket == b.bucket && a.key != b.key => {
                return Err(RegistryError::invalid(
                    "state.key",
                    format!("application {:?} shares bucket {:?} with key template {:?}; applications sharing a bucket must use the same key template", other.name, b.bucket.as_deref().unwrap_or_default(), b.key),
                ));
            }
            (Isolation::Prefix, Isolation::Bucket) | (Isolation::Bucket, Isolation::Prefix) => {
                let (shared, prefix) = if a.isolation == Isolation::Prefix {
                    (a.bucket.as_deref(), b.bucket_prefix.as_deref())
                } else {
                    (b.bucket.as_deref(), a.bucket_prefix.as_deref())
                };
                if let (Some(shared), Some(prefix)) = (shared, prefix) {
                    if shared.starts_with(&format!("{prefix}-")) {
                        let field = if a.isolation == Isolation::Prefix {
                            "state.bucket"
                        } else {
                            "state.bucket_prefix"
                        };
                        return Err(RegistryError::invalid(
                            field,
                            format!("shared bucket {shared:?} lies inside the per-tenant bucket space \"{prefix}-*\" of application {:?}", other.name),
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn shorten(value: &str) -> String {
    const MAX: usize = 64;
    if value.chars().count() <= MAX {
        value.to_string()
    } else {
        format!("{}…", value.chars().take(MAX).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        for ok in ["a", "acme", "acme-2", "0", &"a".repeat(40)] {
            assert!(slug("id", ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "Acme",
            "../evil",
            "-a",
            "a-",
            "a_b",
            "a.b",
            "ａ",
            &"a".repeat(41),
            "a\0b",
        ] {
            let err = slug("id", bad).unwrap_err();
            assert_eq!(err.field(), Some("id"), "{bad}");
        }
    }

    #[test]
    fn emails() {
        assert!(email("email", "ops@acme.example").is_ok());
        for bad in [
            "", "a", "a@b", "@b.c", "a@@b.c", "a b@c.d", "a@-b.c", "a@b..c",
        ] {
            assert!(email("email", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn key_templates() {
        assert!(key_template("k", "{application}/{tenant}/terraform.tfstate").is_ok());
        assert!(key_template("k", "env/{tenant}/{application}/tf.tfstate").is_ok());
        for bad in [
            "{tenant}.tfstate",
            "{application}-{tenant}/x",
            "{application}/x",
            "/{application}/{tenant}",
            "{application}/../{tenant}",
            "{application}/{tenant}/{region}",
        ] {
            assert!(key_template("k", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn buckets() {
        assert!(bucket_name("b", "acme-state").is_ok());
        for bad in [
            "ab",
            "Acme",
            "a_b",
            "xn--a",
            "a-s3alias",
            "-ab",
            &"a".repeat(64),
        ] {
            assert!(bucket_name("b", bad).is_err(), "{bad}");
        }
    }
}
