//! What both storage backends share: the JSON body of a record, the typed
//! errors a failed conditional write turns into, and how a listing is
//! filtered and ordered once the backend has read it.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{RecordKind, RegistryError, Result};
use crate::model::{Tenant, TenantFilter};

/// The stored body of a record.
pub(crate) fn encode<T: Serialize>(kind: RecordKind, id: &str, record: &T) -> Result<String> {
    serde_json::to_string(record)
        .map_err(|e| RegistryError::Backend(format!("cannot encode {kind} {id:?}: {e}")))
}

/// Reads a stored body back. A body that does not parse is reported with
/// the record it belongs to, so a hand-edited registry is easy to repair.
pub(crate) fn decode<T: DeserializeOwned>(kind: RecordKind, id: &str, body: &str) -> Result<T> {
    serde_json::from_str(body)
        .map_err(|e| RegistryError::Backend(format!("stored {kind} {id:?} is corrupt: {e}")))
}

pub(crate) fn not_found(kind: RecordKind, id: &str) -> RegistryError {
    RegistryError::NotFound {
        kind,
        id: id.to_string(),
    }
}

pub(crate) fn already_exists(kind: RecordKind, id: &str) -> RegistryError {
    RegistryError::AlreadyExists {
        kind,
        id: id.to_string(),
    }
}

pub(crate) fn conflict(kind: RecordKind, id: &str, expected: u64, actual: u64) -> RegistryError {
    RegistryError::Conflict {
        kind,
        id: id.to_string(),
        expected,
        actual,
    }
}

/// A tenant names an application that does not exist (any more).
pub(crate) fn unknown_application(name: &str) -> RegistryError {
    RegistryError::invalid("applications", format!("unknown application {name:?}"))
}

/// Checks the version a conditional write found against the one it expected.
/// `None` means the record does not exist; `expected: None` means any version.
pub(crate) fn check_version(
    kind: RecordKind,
    id: &str,
    found: Option<u64>,
    expected: Option<u64>,
) -> Result<u64> {
    let actual = found.ok_or_else(|| not_found(kind, id))?;
    match expected {
        Some(expected) if expected != actual => Err(conflict(kind, id, expected, actual)),
        _ => Ok(actual),
    }
}

/// Applies every criterion of `filter` and orders the result by id, the
/// order the `Store` contract promises.
pub(crate) fn finish_tenant_listing(tenants: Vec<Tenant>, filter: &TenantFilter) -> Vec<Tenant> {
    let mut tenants: Vec<Tenant> = tenants.into_iter().filter(|t| filter.matches(t)).collect();
    tenants.sort_by(|a, b| a.id.cmp(&b.id));
    tenants
}

/// A stored version is a `u64`; SQLite and DynamoDB hand back signed or
/// textual numbers.
pub(crate) fn version_from_i64(kind: RecordKind, id: &str, raw: i64) -> Result<u64> {
    u64::try_from(raw).map_err(|_| {
        RegistryError::Backend(format!("stored {kind} {id:?} has a negative version {raw}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A tenant body as the release before typed inputs stored it: every
    /// variable a string. It reads back as JSON strings (no migration) and
    /// is written back the same.
    #[test]
    fn a_string_only_body_of_the_previous_release_reads_back_unchanged() {
        let old = r#"{"id":"acme","name":"Acme","email":"ops@acme.example","tier":"basic","status":"active","applications":["shop"],"variables":{"replicas":"2","region":"eu"},"sensitive_variables":{"token":"s3cret"},"labels":{},"meta":{"version":3,"created_at":"2026-11-01T00:00:00Z","updated_at":"2026-11-02T00:00:00Z"}}"#;
        let tenant: Tenant = decode(RecordKind::Tenant, "acme", old).unwrap();
        assert_eq!(tenant.variables["replicas"], json!("2"));
        assert_eq!(tenant.sensitive_variables["token"], json!("s3cret"));
        let again: serde_json::Value =
            serde_json::from_str(&encode(RecordKind::Tenant, "acme", &tenant).unwrap()).unwrap();
        assert_eq!(again["variables"], json!({"replicas": "2", "region": "eu"}));
    }

    #[test]
    fn typed_values_keep_their_json_type() {
        let mut tenant = Tenant::new("acme", "Acme", "ops@acme.example", "basic");
        tenant.variables = [
            ("replicas".to_string(), json!(2)),
            ("cidrs".to_string(), json!(["10.1.0.0/16"])),
            ("limits".to_string(), json!({"cpu": 4, "burst": 0.5})),
            ("public".to_string(), json!(true)),
            ("zip".to_string(), json!("01234")),
        ]
        .into();
        let body = encode(RecordKind::Tenant, "acme", &tenant).unwrap();
        let back: Tenant = decode(RecordKind::Tenant, "acme", &body).unwrap();
        assert_eq!(back.variables, tenant.variables);
        assert_eq!(back.variables["zip"], json!("01234"));
    }
}
