//! Registry records shared by the unit tests of several modules.

use saas_registry::{Application, Isolation, LockKind, StateConfig};

/// Application `web` in the given isolation and lock mode, with the names
/// the backend tests expect (`acme-state`, `acme-<tenant>`, `acme-locks`).
pub fn app(isolation: Isolation, lock: LockKind) -> Application {
    Application::new(
        "web",
        StateConfig {
            isolation,
            bucket: (isolation == Isolation::Prefix).then(|| "acme-state".into()),
            bucket_prefix: (isolation == Isolation::Bucket).then(|| "acme".into()),
            lock,
            lock_table: (lock == LockKind::Dynamodb).then(|| "acme-locks".into()),
            ..Default::default()
        },
    )
}
