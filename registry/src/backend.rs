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

    /// Terraform's S3 backend config for this state. `endpoints` are the
    /// S3-compatible endpoints in use other than AWS's own (none on AWS);
    /// `urls_in` says whether Terraform finds their URLs itself.
    ///
    /// A custom DynamoDB endpoint only counts for a state locked in DynamoDB.
    pub fn s3_config(&self, endpoints: &EndpointUrls, urls_in: EndpointUrlsIn) -> S3BackendConfig {
        let used = EndpointUrls {
            s3: endpoints.s3.clone(),
            dynamodb: endpoints
                .dynamodb
                .clone()
                .filter(|_| self.lock_table.is_some()),
        };
        let custom_endpoint = (!used.is_empty()).then(|| {
            CustomEndpoint::new(match urls_in {
                EndpointUrlsIn::Environment => EndpointUrls::default(),
                EndpointUrlsIn::BackendConfig => used,
            })
        });
        S3BackendConfig {
            bucket: self.bucket.clone(),
            key: self.key.clone(),
            region: self.region.clone(),
            encrypt: true,
            dynamodb_table: self.lock_table.clone(),
            use_lockfile: self.use_lockfile.then_some(true),
            custom_endpoint,
        }
    }
}

/// The arguments of Terraform's S3 backend for one state, named and typed
/// as the backend's schema has them. Serialises to what `terraform init`
/// takes as `-backend-config` (pairs, or an HCL or JSON file), in this
/// order; options left unset are left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct S3BackendConfig {
    pub bucket: String,
    pub key: String,
    pub region: String,
    pub encrypt: bool,
    /// DynamoDB lock table, when locking with DynamoDB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dynamodb_table: Option<String>,
    /// S3-native lockfile, when locking with S3.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub use_lockfile: Option<bool>,
    /// For S3 (or DynamoDB) other than AWS's own; its settings are
    /// top-level backend arguments.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub custom_endpoint: Option<CustomEndpoint>,
}

/// What the S3 backend needs to work against an S3-compatible service
/// other than AWS's own (moto, MinIO, LocalStack): path-style addressing,
/// and none of the calls to STS, the instance metadata service and AWS's
/// region list that such a service does not answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CustomEndpoint {
    /// The URLs, unless Terraform reads them from its environment.
    #[serde(skip_serializing_if = "EndpointUrls::is_empty")]
    pub endpoints: EndpointUrls,
    pub use_path_style: bool,
    pub skip_credentials_validation: bool,
    pub skip_requesting_account_id: bool,
    pub skip_metadata_api_check: bool,
    pub skip_region_validation: bool,
}

impl CustomEndpoint {
    /// Every setting on, with `endpoints` given to Terraform (empty: none).
    pub fn new(endpoints: EndpointUrls) -> Self {
        CustomEndpoint {
            endpoints,
            use_path_style: true,
            skip_credentials_validation: true,
            skip_requesting_account_id: true,
            skip_metadata_api_check: true,
            skip_region_validation: true,
        }
    }
}

/// URLs of S3 and DynamoDB endpoints other than AWS's own; `None` for AWS.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EndpointUrls {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub s3: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dynamodb: Option<String>,
}

impl EndpointUrls {
    /// No custom endpoint: AWS's own for both.
    pub fn is_empty(&self) -> bool {
        self.s3.is_none() && self.dynamodb.is_none()
    }
}

/// Where Terraform finds the URLs of custom endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointUrlsIn {
    /// In `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL_DYNAMODB`, which the S3
    /// backend reads itself (a Terraform that saasctl runs inherits them).
    Environment,
    /// Only in the backend config (`endpoints = {...}`): a plain
    /// `terraform init` from `saasctl backend config` output.
    BackendConfig,
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
        let config = s3.s3_config(&EndpointUrls::default(), EndpointUrlsIn::Environment);
        assert_eq!(config.use_lockfile, Some(true));
        assert_eq!(config.dynamodb_table, None);
    }

    fn json(config: &S3BackendConfig) -> serde_json::Value {
        serde_json::to_value(config).unwrap()
    }

    #[test]
    fn on_aws_the_config_is_the_derived_settings_only() {
        let b = derive(&bucket_app("web", LockKind::Dynamodb), "t1").unwrap();
        let config = b.s3_config(&EndpointUrls::default(), EndpointUrlsIn::BackendConfig);
        assert_eq!(
            json(&config),
            serde_json::json!({
                "bucket": "acme-t1",
                "key": "web/t1/terraform.tfstate",
                "region": "us-east-1",
                "encrypt": true,
                "dynamodb_table": "acme-lock-t1",
            })
        );
    }

    #[test]
    fn a_custom_endpoint_adds_its_settings_and_urls_only_where_needed() {
        let moto = EndpointUrls {
            s3: Some("http://127.0.0.1:5000".into()),
            dynamodb: Some("http://127.0.0.1:5000".into()),
        };
        let ddb = derive(&bucket_app("web", LockKind::Dynamodb), "t1").unwrap();
        let given = json(&ddb.s3_config(&moto, EndpointUrlsIn::BackendConfig));
        assert_eq!(
            given["endpoints"],
            serde_json::json!({"s3": "http://127.0.0.1:5000", "dynamodb": "http://127.0.0.1:5000"})
        );
        for flag in [
            "use_path_style",
            "skip_credentials_validation",
            "skip_requesting_account_id",
            "skip_metadata_api_check",
            "skip_region_validation",
        ] {
            assert_eq!(given[flag], true, "{flag}");
        }
        // Terraform run by saasctl reads the URLs from its environment.
        let inherited = json(&ddb.s3_config(&moto, EndpointUrlsIn::Environment));
        assert!(inherited.get("endpoints").is_none(), "{inherited}");
        assert_eq!(inherited["use_path_style"], true);
        // An S3 lockfile needs no DynamoDB endpoint, and a DynamoDB one alone is no custom endpoint.
        let lockfile = derive(&bucket_app("web", LockKind::S3), "t1").unwrap();
        let given = json(&lockfile.s3_config(&moto, EndpointUrlsIn::BackendConfig));
        assert_eq!(
            given["endpoints"],
            serde_json::json!({"s3": "http://127.0.0.1:5000"})
        );
        let dynamodb_only = EndpointUrls { s3: None, ..moto };
        let config = lockfile.s3_config(&dynamodb_only, EndpointUrlsIn::BackendConfig);
        assert_eq!(config.custom_endpoint, None);
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
