//! `saas_tenant`: one tenant record in the registry.

use std::collections::BTreeMap;

use async_trait::async_trait;
use saas_registry::{validate, RecordKind, Registry, Tenant, TenantStatus};
use serde::{Deserialize, Serialize};
use tf_provider::schema::Schema;
use tf_provider::value::Value;
use tf_provider::{AttributePath, Diagnostics};

use crate::attrs;
use crate::convert::{
    check, known_json_map, known_map, known_set, known_str, optional_json_map, optional_map,
    optional_set, or_default, present, report, sort_set, string, DynamicValue, Only, StringMap,
    StringSet, StringValue,
};
use crate::data_source_tenant::BackendObject;
use crate::dynamic::Dynamic;
use crate::record::{ManagedRecord, MetaValues, RecordResource, RecordState};

/// A tenant, as the `saas_tenant` resource and the `saas_tenant` and
/// `saas_tenants` data sources all show it. Each schema lacks one attribute
/// (the data sources hide `sensitive_variables`; only they derive `state`),
/// which is then `None` and not sent: Terraform rejects an object whose
/// attributes differ from the schema's, null ones included.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TenantState {
    pub id: StringValue,
    pub name: StringValue,
    pub email: StringValue,
    pub tier: StringValue,
    pub status: StringValue,
    pub applications: StringSet,
    pub variables: DynamicValue,
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    pub sensitive_variables: Only<DynamicValue>,
    pub labels: StringMap,
    /// Each application's S3 backend for this tenant, keyed by application.
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    pub state: Only<Value<BTreeMap<String, Value<BackendObject>>>>,
    pub created_at: StringValue,
    pub updated_at: StringValue,
    pub version: Value<i64>,
}

pub fn tenant_schema() -> Schema {
    use attrs::{
        dynamic, optional, optional_computed, required, sensitive, string, string_map, string_set,
    };
    let mut attributes = vec![
        ("id", required(string(), "Tenant id: a lowercase DNS label (a-z, 0-9, `-`), 1 to 40 characters. It names the tenant's state key, bucket and lock, so it is immutable: changing it replaces the tenant.")),
        ("name", required(string(), "Display name.")),
        ("email", required(string(), "Contact email address.")),
        ("tier", required(string(), "Tier, for example `basic`, `standard` or `premium`. Every application in `applications` must allow it.")),
        ("status", optional_computed(string(), "`active`, `suspended` or `offboarding`. Defaults to `active`.")),
        ("applications", optional(string_set(), "Names of the applications the tenant is onboarded to. Each must exist by the time the tenant is written: reference `saas_application.<name>.name`, or name it and add `depends_on`, so that one apply can create both. An application not in the registry yet only warns at plan; apply fails on this attribute if it is still missing.")),
        ("variables", optional(dynamic(), "Inputs handed to the tenant's stack runs: a map from variable name to a value of any type (string, number, bool, list, map, object), which the stack's variable of that name receives as it is, for example `{ replicas = 2, allowed_cidrs = [\"10.1.0.0/16\"], limits = { cpu = 4 } }`. A string stays a string, even one that looks like a number.")),
        ("sensitive_variables", sensitive(optional(dynamic(), "Like `variables`, but secret: Terraform hides the values and saasctl never prints, logs or reports them. A key may not be in both maps."))),
        ("labels", optional(string_map(), "Free-form labels; `saasctl` and the `saas_tenants` data source filter on them.")),
    ];
    attributes.extend(attrs::meta_attributes("tenant"));
    let mut schema = attrs::schema(
        "A tenant of the SaaS: who it is, its tier and status, the applications it is onboarded to and the variables its stacks receive.",
        attributes,
    );
    schema.version = SCHEMA_VERSION;
    schema
}

impl RecordState for TenantState {
    fn meta(&self) -> MetaValues {
        MetaValues {
            created_at: self.created_at.clone(),
            updated_at: self.updated_at.clone(),
            version: self.version,
        }
    }

    fn set_meta(&mut self, meta: MetaValues) {
        self.created_at = meta.created_at;
        self.updated_at = meta.updated_at;
        self.version = meta.version;
    }

    fn sort_sets(&mut self) {
        sort_set(&mut self.applications);
    }
}

impl TenantState {
    /// The resource's `sensitive_variables` (null when not set).
    fn secrets(&self) -> &DynamicValue {
        self.sensitive_variables.as_ref().unwrap_or(&Value::Null)
    }

    /// The record this state describes, once every value is known.
    fn to_tenant(&self) -> Option<Tenant> {
        let status = match known_str(&self.status) {
            Some(s) => s.parse().ok()?,
            None if self.status.is_null() => TenantStatus::Active,
            None => return None,
        };
        Some(Tenant {
            id: self.id.as_ref_option()?.clone(),
            name: self.name.as_ref_option()?.clone(),
            email: self.email.as_ref_option()?.clone(),
            tier: self.tier.as_ref_option()?.clone(),
            status,
            applications: known_set(&self.applications)?,
            variables: known_json_map(&self.variables)?,
            sensitive_variables: known_json_map(self.secrets())?,
            labels: known_map(&self.labels)?,
            meta: self.meta().to_record(),
        })
    }

    /// State for `tenant`, keeping null where `prior` had null and the
    /// record holds nothing.
    pub fn from_tenant(tenant: &Tenant, prior: &TenantState) -> TenantState {
        TenantState {
            id: string(&tenant.id),
            name: string(&tenant.name),
            email: string(&tenant.email),
            tier: string(&tenant.tier),
            status: string(tenant.status.as_str()),
            applications: optional_set(&tenant.applications, &prior.applications),
            variables: optional_json_map(&tenant.variables, &prior.variables),
            sensitive_variables: Some(optional_json_map(
                &tenant.sensitive_variables,
                prior.secrets(),
            )),
            labels: optional_map(&tenant.labels, &prior.labels),
            state: None,
            created_at: string(&tenant.meta.created_at),
            updated_at: string(&tenant.meta.updated_at),
            version: MetaValues::from_record(&tenant.meta).version,
        }
    }

    /// Checks every known value on its own; returns whether all passed.
    fn check_values(&self, diags: &mut Diagnostics) -> bool {
        let mut ok = true;
        if let Some(id) = known_str(&self.id) {
            ok &= check(diags, validate::slug("id", id));
        }
        if let Some(name) = known_str(&self.name) {
            ok &= check(diags, validate::display_name("name", name));
        }
        if let Some(email) = known_str(&self.email) {
            ok &= check(diags, validate::email("email", email));
        }
        if let Some(tier) = known_str(&self.tier) {
            ok &= check(diags, validate::slug("tier", tier));
        }
        if let Some(status) = known_str(&self.status) {
            ok &= check(diags, status.parse::<TenantStatus>().map(|_| ()));
        }
        if let Value::Value(apps) = &self.applications {
            for app in apps.iter().filter_map(Value::as_ref_option) {
                ok &= check(diags, validate::slug("applications", app));
            }
        }
        for (field, vars) in [
            ("variables", &self.variables),
            ("sensitive_variables", self.secrets()),
        ] {
            if let Value::Value(vars) = vars {
                ok &= check(diags, variable_names(field, vars));
            }
        }
        if let Value::Value(map) = &self.labels {
            ok &= check(diags, validate::map_keys("labels", map.keys()));
        }
        // Rules across attributes, once everything is known.
        if ok {
            if let Some(tenant) = self.to_tenant() {
                ok &= check(diags, validate::tenant(&tenant));
            }
        }
        ok
    }

    /// Checks, against the registry, that each application that exists
    /// allows the tier and can derive this tenant's backend; skipped while
    /// any of them is unknown. An application not in the registry yet may be
    /// created by this same apply (a whole control plane at once), so it only
    /// gets a warning here; apply's transactional check fails it if it is
    /// still missing then.
    async fn check_references(&self, registry: &Registry, diags: &mut Diagnostics) {
        let (Some(id), Some(tier), Some(names)) = (
            known_str(&self.id),
            known_str(&self.tier),
            known_set(&self.applications),
        ) else {
            return;
        };
        let mut apps = Vec::with_capacity(names.len());
        for name in &names {
            match registry.get_application(name).await {
                Ok(Some(app)) => apps.push(app),
                Ok(None) => diags.warning(
                    format!("Application {name:?} is not in the registry yet"),
                    "This apply must create it first (a saas_application that this tenant references or depends on); otherwise the apply fails here.".to_string(),
                    AttributePath::new("applications"),
                ),
                Err(err) => return report(diags, err),
            }
        }
        let mut probe = Tenant::new(id, "", "", tier);
        probe.applications = apps.iter().map(|app| app.name.clone()).collect();
        check(diags, validate::tenant_references(&probe, &apps));
    }
}

/// A variables attribute must be a map (an object literal or a `map(...)`)
/// whose names are valid variable names.
fn variable_names(field: &str, vars: &Dynamic) -> saas_registry::Result<()> {
    match vars.keys() {
        Some(keys) => validate::map_keys(field, keys),
        None => Err(saas_registry::RegistryError::invalid(
            field,
            "must be a map from variable names to values, for example { replicas = 2 }",
        )),
    }
}

/// `saas_tenant` as a managed registry record.
#[derive(Debug, Clone, Copy, Default)]
pub struct TenantKind;

pub type TenantResource = RecordResource<TenantKind>;

#[async_trait]
impl ManagedRecord for TenantKind {
    type Record = Tenant;
    type State = TenantState;

    const KIND: RecordKind = RecordKind::Tenant;
    const ID: &'static str = "id";

    fn schema(&self) -> Schema {
        tenant_schema()
    }

    fn id<'s>(&self, state: &'s TenantState) -> &'s StringValue {
        &state.id
    }

    fn check_values(&self, state: &TenantState, diags: &mut Diagnostics) -> bool {
        state.check_values(diags)
    }

    fn plan_settings(&self, proposed: TenantState, config: &TenantState) -> TenantState {
        let status = or_default(&config.status, TenantStatus::Active.as_str().to_string());
        TenantState { status, ..proposed }
    }

    fn to_state(&self, tenant: &Tenant, prior: &TenantState) -> TenantState {
        TenantState::from_tenant(tenant, prior)
    }

    fn to_record(&self, state: &TenantState) -> Option<saas_registry::Result<Tenant>> {
        state.to_tenant().map(Ok)
    }

    async fn check_registry(
        &self,
        registry: &Registry,
        diags: &mut Diagnostics,
        planned: &TenantState,
    ) {
        planned.check_references(registry, diags).await;
    }

    fn upgrade(&self, version: i64, prior: serde_json::Value) -> Result<TenantState, String> {
        upgraded(version, prior)
    }

    async fn get(&self, registry: &Registry, id: &str) -> saas_registry::Result<Option<Tenant>> {
        registry.get_tenant(id).await
    }

    async fn create(&self, registry: &Registry, tenant: &Tenant) -> saas_registry::Result<Tenant> {
        registry.create_tenant(tenant).await
    }

    async fn update(&self, registry: &Registry, tenant: &Tenant) -> saas_registry::Result<Tenant> {
        registry.update_tenant(tenant).await
    }

    async fn delete(
        &self,
        registry: &Registry,
        id: &str,
        version: Option<u64>,
    ) -> saas_registry::Result<()> {
        registry.delete_tenant(id, version).await
    }
}

/// Version 2 made `variables` and `sensitive_variables` dynamic (typed
/// values); version 1 held them as `map(string)`.
const SCHEMA_VERSION: i64 = 2;

/// A stored state of an earlier schema version, as this version's state:
/// a version 1 map of strings becomes a dynamic object of strings, the type
/// a configuration's `{ k = "v" }` literal has, so the next plan is empty.
fn upgraded(version: i64, mut state: serde_json::Value) -> Result<TenantState, String> {
    if version != 1 {
        return Err(format!(
            "only version 1 can be upgraded to {SCHEMA_VERSION}"
        ));
    }
    for field in ["variables", "sensitive_variables"] {
        if let Some(map @ serde_json::Value::Object(_)) = state.get(field).cloned() {
            let typed = Dynamic::from_json(&map);
            state[field] = serde_json::json!({"value": map, "type": typed.ty});
        }
    }
    let mut state: TenantState = serde_json::from_value(state).map_err(|e| e.to_string())?;
    // The attribute is in the schema even if the stored state left it out.
    state.sensitive_variables.get_or_insert(Value::Null);
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::{json_map_value, set_value};
    use std::collections::BTreeSet;

    fn config() -> TenantState {
        TenantState {
            id: string("acme"),
            name: string("Acme Corp"),
            email: string("ops@acme.example"),
            tier: string("premium"),
            applications: set_value(&BTreeSet::from(["web".to_string()])),
            // As Terraform sends the resource's state: every attribute there.
            sensitive_variables: Some(Value::Null),
            ..Default::default()
        }
    }

    #[test]
    fn round_trips_through_the_record() {
        let mut state = config();
        state.status = string("suspended");
        state.version = Value::Value(3);
        let tenant = state.to_tenant().unwrap();
        assert_eq!(tenant.status, TenantStatus::Suspended);
        assert_eq!(tenant.meta.version, 3);
        let back = TenantState::from_tenant(&tenant, &state);
        // Maps left out stay null, so the next plan shows no diff.
        assert_eq!(back.labels, Value::Null);
        assert!(back.same_settings(&state));
    }

    #[test]
    fn bad_values_name_their_attribute() {
        for (attr, state) in [
            (
                "id",
                TenantState {
                    id: string("../evil"),
                    ..config()
                },
            ),
            (
                "id",
                TenantState {
                    id: string("Acme"),
                    ..config()
                },
            ),
            (
                "id",
                TenantState {
                    id: string(&"a".repeat(64)),
                    ..config()
                },
            ),
            (
                "email",
                TenantState {
                    email: string("not-an-email"),
                    ..config()
                },
            ),
            (
                "status",
                TenantState {
                    status: string("paused"),
                    ..config()
                },
            ),
        ] {
            let mut diags = Diagnostics::default();
            assert!(!state.check_values(&mut diags), "{attr}");
            assert_eq!(diags.errors[0].attribute, AttributePath::new(attr));
        }
    }

    #[test]
    fn unknown_values_are_not_checked_yet() {
        let state = TenantState {
            id: Value::Unknown,
            applications: Value::Value(vec![Value::Unknown, Value::Unknown]),
            ..config()
        };
        let mut diags = Diagnostics::default();
        assert!(state.check_values(&mut diags));
        assert!(state.to_tenant().is_none());
    }

    #[test]
    fn a_variable_cannot_be_both_plain_and_sensitive() {
        let both = json_map_value(&[("db".to_string(), "x".into())].into());
        let state = TenantState {
            variables: both.clone(),
            sensitive_variables: Some(both),
            ..config()
        };
        let mut diags = Diagnostics::default();
        assert!(!state.check_values(&mut diags));
        assert_eq!(
            diags.errors[0].attribute,
            AttributePath::new("sensitive_variables").key("db")
        );
    }

    #[test]
    fn variables_must_be_a_map_and_keep_their_types() {
        let list = Value::Value(Dynamic::from_json(&serde_json::json!(["a"])));
        let state = TenantState {
            variables: list,
            ..config()
        };
        let mut diags = Diagnostics::default();
        assert!(!state.check_values(&mut diags));
        assert_eq!(diags.errors[0].attribute, AttributePath::new("variables"));

        let typed = serde_json::json!({"replicas": 2, "cidrs": ["10.1.0.0/16"], "zip": "01234"});
        let state = TenantState {
            variables: Value::Value(Dynamic::from_json(&typed)),
            ..config()
        };
        let tenant = state.to_tenant().unwrap();
        assert_eq!(tenant.variables["replicas"], serde_json::json!(2));
        assert_eq!(tenant.variables["zip"], serde_json::json!("01234"));
        // Read back from the record: the state it came from, type and all.
        assert_eq!(
            TenantState::from_tenant(&tenant, &state).variables,
            state.variables
        );
    }

    #[test]
    fn a_version_1_state_of_strings_upgrades_to_typed_strings() {
        let v1 = serde_json::json!({
            "id": "acme", "name": "Acme", "email": "ops@acme.example", "tier": "basic",
            "status": "active", "applications": ["web"],
            "variables": {"replicas": "3"}, "sensitive_variables": null, "labels": {},
            "created_at": "2026-11-01T00:00:00Z", "updated_at": "2026-11-01T00:00:00Z", "version": 1,
        });
        let state = upgraded(1, v1).unwrap();
        let tenant = state.to_tenant().unwrap();
        assert_eq!(tenant.variables["replicas"], serde_json::json!("3"));
        assert!(state.secrets().is_null());
        let Value::Value(vars) = &state.variables else {
            panic!("{:?}", state.variables)
        };
        assert_eq!(
            vars.ty,
            serde_json::json!(["object", {"replicas": "string"}])
        );
        assert!(upgraded(7, serde_json::json!({})).is_err());
    }

    #[test]
    fn schema_marks_secrets_sensitive() {
        let schema = tenant_schema();
        assert!(schema.block.attributes["sensitive_variables"].sensitive);
        assert!(!schema.block.attributes["variables"].sensitive);
    }
}
