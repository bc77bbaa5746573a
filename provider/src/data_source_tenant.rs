//! `saas_tenant` data source: one tenant by id, with the S3 backend of each
//! of its applications (what the orchestrator runs each stack against).

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use saas_registry::{
    derive_backend, Application, BackendSettings, RecordKind, Registry, RegistryError, Tenant,
};
use serde::{Deserialize, Serialize};
use tf_provider::schema::{Attribute, AttributeConstraint, AttributeType, Schema};
use tf_provider::value::Value;
use tf_provider::Diagnostics;

use crate::attrs;
use crate::convert::{json_map_value, known_str, map_value, set_value, string, StringValue};
use crate::record::{looked_up, ReadDataSource, RegistryRead};
use crate::resource_tenant::{tenant_schema, TenantState};

/// One application's backend for this tenant.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BackendObject {
    pub bucket: StringValue,
    pub key: StringValue,
    pub region: StringValue,
    pub lock_table: StringValue,
    pub use_lockfile: Value<bool>,
}

impl BackendObject {
    fn from_settings(b: &BackendSettings) -> Self {
        BackendObject {
            bucket: string(&b.bucket),
            key: string(&b.key),
            region: string(&b.region),
            lock_table: b.lock_table.as_deref().map_or(Value::Null, string),
            use_lockfile: Value::Value(b.use_lockfile),
        }
    }
}

impl TenantState {
    /// A tenant as the data sources show it: no secrets, every collection
    /// set (empty, not null), and the backend of each of its applications,
    /// which `apps` must all hold.
    pub fn shown(
        tenant: &Tenant,
        apps: &BTreeMap<String, Application>,
    ) -> saas_registry::Result<Self> {
        let mut state = BTreeMap::new();
        for name in &tenant.applications {
            let app = apps.get(name).ok_or_else(|| RegistryError::NotFound {
                kind: RecordKind::Application,
                id: name.clone(),
            })?;
            let backend = derive_backend(app, &tenant.id)?;
            state.insert(
                name.clone(),
                Value::Value(BackendObject::from_settings(&backend)),
            );
        }
        Ok(TenantState {
            applications: set_value(&tenant.applications),
            variables: json_map_value(&tenant.variables),
            sensitive_variables: None,
            labels: map_value(&tenant.labels),
            state: Some(Value::Value(state)),
            ..TenantState::from_tenant(tenant, &TenantState::default())
        })
    }
}

/// The attributes of a tenant as the data sources show it, all computed.
pub fn tenant_data_attributes() -> HashMap<String, Attribute> {
    use attrs::{bool, computed, string};
    let mut attributes = attrs::read_only_all(tenant_schema().block.attributes);
    attributes.remove("sensitive_variables");
    let backend = AttributeType::Map(Box::new(attrs::object_type(&attrs::object([
        ("bucket", computed(string(), "")),
        ("key", computed(string(), "")),
        ("region", computed(string(), "")),
        ("lock_table", computed(string(), "")),
        ("use_lockfile", computed(bool(), "")),
    ]))));
    attributes.insert(
        "state".into(),
        computed(
            backend,
            "The S3 backend of each of the tenant's applications, keyed by application name, derived from the application's `state` settings: `bucket`, `key`, `region`, `lock_table` (null when locking with an S3 lockfile) and `use_lockfile`.",
        ),
    );
    attributes
}

/// Loads the applications `tenants` are onboarded to, each once.
pub async fn applications_of(
    registry: &Registry,
    tenants: &[Tenant],
) -> saas_registry::Result<BTreeMap<String, Application>> {
    let mut apps = BTreeMap::new();
    for name in tenants.iter().flat_map(|t| &t.applications) {
        if !apps.contains_key(name) {
            if let Some(app) = registry.get_application(name).await? {
                apps.insert(name.clone(), app);
            }
        }
    }
    Ok(apps)
}

/// The `saas_tenant` data source's read.
#[derive(Debug, Clone, Copy, Default)]
pub struct TenantRead;

pub type TenantDataSource = ReadDataSource<TenantRead>;

#[async_trait]
impl RegistryRead for TenantRead {
    type State = TenantState;

    fn schema(&self) -> Schema {
        let mut attributes = tenant_data_attributes();
        if let Some(id) = attributes.get_mut("id") {
            id.constraint = AttributeConstraint::Required;
            id.description = attrs::description("Id of the tenant to read.");
        }
        attrs::schema_from(
            "Reads one tenant from the registry, including the S3 backend of each of its applications. Sensitive variables are not exposed.",
            attributes,
        )
    }

    async fn read(
        &self,
        registry: &Registry,
        diags: &mut Diagnostics,
        config: TenantState,
    ) -> Option<TenantState> {
        let id = known_str(&config.id)?;
        let loaded = async {
            let tenant = registry.require_tenant(id).await?;
            let apps = applications_of(registry, std::slice::from_ref(&tenant)).await?;
            TenantState::shown(&tenant, &apps)
        };
        looked_up(diags, loaded.await, RecordKind::Tenant, "id")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use saas_registry::{Isolation, LockKind, StateConfig};
    use std::collections::BTreeSet;

    #[test]
    fn record_derives_each_backend_and_hides_secrets() {
        let mut tenant = Tenant::new("acme", "Acme", "ops@acme.example", "basic");
        tenant.applications = ["web".to_string(), "api".to_string()].into();
        tenant.sensitive_variables = [("db_password".to_string(), "hunter2".into())].into();
        let web = Application::new(
            "web",
            StateConfig {
                bucket: Some("acme-tfstate".into()),
                lock_table: Some("acme-locks".into()),
                ..Default::default()
            },
        );
        let api = Application::new(
            "api",
            StateConfig {
                isolation: Isolation::Bucket,
                bucket_prefix: Some("acme-api".into()),
                lock: LockKind::S3,
                ..Default::default()
            },
        );
        let apps = BTreeMap::from([("web".to_string(), web), ("api".to_string(), api)]);
        let record = TenantState::shown(&tenant, &apps).unwrap();
        let Some(Value::Value(state)) = &record.state else {
            panic!("no backends: {:?}", record.state)
        };
        let web = state["web"].as_ref_option().unwrap();
        assert_eq!(web.key, string("web/acme/terraform.tfstate"));
        assert_eq!(web.lock_table, string("acme-locks"));
        let api = state["api"].as_ref_option().unwrap();
        assert_eq!(api.bucket, string("acme-api-acme"));
        assert_eq!(api.use_lockfile, Value::Value(true));
        let encoded = serde_json::to_string(&record).unwrap();
        assert!(!encoded.contains("hunter2"));
        assert!(!tenant_data_attributes().contains_key("sensitive_variables"));
    }

    /// One model serves three schemas: each must get exactly its own
    /// attributes, or Terraform rejects the response.
    #[test]
    fn each_view_sends_exactly_its_schemas_attributes() {
        let mut tenant = Tenant::new("acme", "Acme", "ops@acme.example", "basic");
        let sent = |state: &TenantState| -> BTreeSet<String> {
            let json = serde_json::to_value(state).unwrap();
            json.as_object().unwrap().keys().cloned().collect()
        };
        // No secrets: the resource still sends a null `sensitive_variables`.
        let managed = TenantState::from_tenant(&tenant, &TenantState::default());
        let resource = tenant_schema().block.attributes.into_keys().collect();
        assert_eq!(sent(&managed), resource);
        let read_back: TenantState =
            serde_json::from_value(serde_json::to_value(&managed).unwrap()).unwrap();
        assert_eq!(sent(&read_back), resource);
        tenant.sensitive_variables = [("db_password".to_string(), "hunter2".into())].into();
        let shown = TenantState::shown(&tenant, &BTreeMap::new()).unwrap();
        assert_eq!(sent(&shown), tenant_data_attributes().into_keys().collect());
    }

    #[test]
    fn missing_application_is_an_error() {
        let mut tenant = Tenant::new("acme", "Acme", "ops@acme.example", "basic");
        tenant.applications = ["web".to_string()].into();
        assert!(TenantState::shown(&tenant, &BTreeMap::new()).is_err());
    }
}
