//! Derivation of each tenant's Terraform S3 backend from its application's
//! state config. Pure: no I/O, so the provider, the orchestrator and the
//! pipeline generator all agree on where a tenant's state lives.

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::model::{Application, Isolation, LockKind};
use crate::validate;

/// The S3 backend settings of one tenant of one application.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BackendSettings {
    pub bucket: String,
    pub key: String,
    pub region: String,
    /// DynamoDB lock table, when locking with DynamoDB.
    pub lock_table: Option<String>,
    /// S3-native lockfile (`<key>.tflock`), when locking with S3.
    pub use_lockfile: bool,
}

impl BackendSettings {
    /// The `LockID` Terraform writes into the lock table for this state.
    pub fn lock_id(&self) -> String {
        format!("{}/{}", self.bucket, self.key)
    }

    /// The lock object Terraform writes when `use_lockfile` is on.
    pub fn lockfile_key(&self) -> String {
        format!("{}.tflock", self.key)
    }

    /// `-backend-config` pairs, in a stable order.
    pub fn backend_config(&self) -> Vec<(&'static str, String)> {
        let mut pairs = vec![
            ("bucket", self.bucket.clone()),
            ("key", self.key.clone()),
            ("region", self.region.clone()),
            ("encrypt", "true".to_string()),
        ];
        match &self.lock_table {
            Some(table) => pairs.push(("dynamodb_table", table.clone())),
            None => pairs.push(("use_lockfile", "true".to_string())),
        }
        pairs
    }
}

/// Derives `tenant_id`'s backend for `app`. The id is validated first, and so
/// is every derived name, so the error says which naming rule failed.
///
/// Injective by construction: the key template holds `{application}` and
/// `{tenant}` as whole path segments and slugs contain no `/`; per-tenant
/// buckets and tables end in `-<tenant>` after a fixed prefix.
pub fn derive(app: &Application, tenant_id: &str) -> Result<BackendSettings> {
    validate::slug("tenant", tenant_id)?;
    validate::slug("application", &app.name)?;
    let st = &app.state;
    validate::key_template("state.key", &st.key)?;
    let key = st
        .key
        .replace("{application}", &app.name)
        .replace("{tenant}", tenant_id);
    let bucket = match st.isolation {
        Isolation::Prefix => st.bucket.clone().unwrap_or_default(),
        Isolation::Bucket => format!(
            "{}-{tenant_id}",
            st.bucket_prefix.as_deref().unwrap_or_default()
        ),
    };
    validate::bucket_name("state.bucket", &bucket)?;
    let lock_table = match (st.lock, st.isolation) {
        (LockKind::S3, _) => None,
        (LockKind::Dynamodb, Isolation::Prefix) => st.lock_table.clone(),
        (LockKind::Dynamodb, Isolation::Bucket) => Some(format!(
            "{}-{tenant_id}",
            st.lock_table.as_deref().unwrap_or_default()
        )),
    };
    if let Some(table) = &lock_table {
        validate::table_name("state.lock_table", table)?;
    } else if st.lock == LockKind::Dynamodb {
        validate::table_name("state.lock_table", "")?;
    }
    Ok(BackendSettings {
        bucket,
        key,
        region: st.region.clone(),
        use_lockfile: lock_table.is_none(),
        lock_table,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::StateConfig;
    use proptest::prelude::*;
    use std::collections::HashSet;

    fn prefix_app(name: &str) -> Application {
        Application::new(
            name,
            StateConfig {
                bucket: Some("acme-tfstate".into()),
                lock_table: Some("acme-locks".into()),
                ..Default::default()
            },
        )
    }

    fn bucket_app(name: &str, lock: LockKind) -> Application {
        Application::new(
            name,
            StateConfig {
                isolation: Isolation::Bucket,
                bucket_prefix: Some("acme".into()),
                lock,
                lock_table: (lock == LockKind::Dynamodb).then(|| "acme-lock".into()),
                ..Default::default()
            },
        )
    }

    #[test]
    fn prefix_isolation_shares_bucket_and_table() {
        let b = derive(&prefix_app("web"), "t1").unwrap();
        assert_eq!(b.bucket, "acme-tfstate");
        assert_eq!(b.key, "web/t1/terraform.tfstate");
        assert_eq!(b.lock_table.as_deref(), Some("acme-locks"));
        assert_eq!(b.lock_id(), "acme-tfstate/web/t1/terraform.tfstate");
    }

    #[test]
    fn bucket_isolation_owns_bucket_and_lock() {
        let b = derive(&bucket_app("web", LockKind::Dynamodb), "t1").unwrap();
        assert_eq!(b.bucket, "acme-t1");
        assert_eq!(b.lock_table.as_deref(), Some("acme-lock-t1"));
        let s3 = derive(&bucket_app("web", LockKind::S3), "t1").unwrap();
        assert!(s3.use_lockfile && s3.lock_table.is_none());
        assert!(s3
            .backend_config()
            .contains(&("use_lockfile", "true".into())));
    }

    #[test]
    fn invalid_ids_and_names_say_which_rule() {
        let err = derive(&prefix_app("web"), "../evil").unwrap_err();
        assert_eq!(err.field(), Some("tenant"));
        // "-s3alias" is a reserved bucket suffix.
        let err = derive(&bucket_app("web", LockKind::S3), "x-s3alias").unwrap_err();
        assert_eq!(err.field(), Some("state.bucket"));
        assert!(err.to_string().contains("reserved suffix"), "{err}");
    }

    fn tenant_id() -> impl Strategy<Value = String> {
        "[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?"
    }

    proptest! {
        #[test]
        fn derivation_is_injective(ids in proptest::collection::btree_set(tenant_id(), 1..40)) {
            let apps = [prefix_app("web"), prefix_app("web-api"), bucket_app("web", LockKind::Dynamodb), bucket_app("api", LockKind::S3)];
            for app in &apps {
                let mut states = HashSet::new();
                let mut locks = HashSet::new();
                for id in &ids {
                    let Ok(b) = derive(app, id) else { continue };
                    prop_assert!(states.insert((b.bucket.clone(), b.key.clone())), "state collision for {id}");
                    let lock = match &b.lock_table {
                        Some(t) => format!("ddb:{t}:{}", b.lock_id()),
                        None => format!("s3:{}/{}", b.bucket, b.lockfile_key()),
                    };
                    prop_assert!(locks.insert(lock), "lock collision for {id}");
                }
            }
            // Across the two prefix apps that share one bucket, keys differ too.
            let mut keys = HashSet::new();
            for app in &apps[..2] {
                for id in &ids {
                    let b = derive(app, id).unwrap();
                    prop_assert!(keys.insert(b.key));
                }
            }
        }
    }
}
