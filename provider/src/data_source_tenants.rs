//! `saas_tenants` data source: the tenants matching a filter, sorted by id.

use async_trait::async_trait;
use saas_registry::{Registry, TenantFilter, TenantStatus};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use tf_provider::schema::Schema;
use tf_provider::value::Value;
use tf_provider::Diagnostics;

use crate::attrs;
use crate::convert::{check, known_map, known_str, reported, StringMap, StringValue};
use crate::data_source_tenant::{applications_of, tenant_data_attributes};
use crate::dynamic::Dynamic;
use crate::record::{ReadDataSource, RegistryRead};
use crate::resource_tenant::TenantState;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TenantsState {
    pub application: StringValue,
    pub tier: StringValue,
    pub status: StringValue,
    pub labels: StringMap,
    pub ids: Value<Vec<StringValue>>,
    pub tenants: Value<Dynamic>,
}

pub fn tenants_schema() -> Schema {
    use attrs::{computed, dynamic, optional, string, string_list, string_map};
    attrs::schema(
        "Lists the tenants that match every filter given (none: all tenants), sorted by id. Sensitive variables are not exposed.",
        [
            ("application", optional(string(), "Only tenants onboarded to this application.")),
            ("tier", optional(string(), "Only tenants of this tier.")),
            ("status", optional(string(), "Only tenants with this status: `active`, `suspended` or `offboarding`.")),
            ("labels", optional(string_map(), "Only tenants carrying all of these labels with these values.")),
            ("ids", computed(string_list(), "Ids of the matching tenants, sorted.")),
            ("tenants", computed(dynamic(), "The matching tenants, sorted by id: one object per tenant with the attributes of the `saas_tenant` data source (`id`, `name`, `email`, `tier`, `status`, `applications`, `variables`, `labels`, `state`, `created_at`, `updated_at`, `version`). It is a tuple, not a list, so that each tenant's `variables` keep their own types; index it, iterate it with `for` and take its `length()` as a list.")),
        ],
    )
}

impl TenantsState {
    /// The filter, once every criterion is known and valid.
    fn filter(&self, diags: &mut Diagnostics) -> Option<TenantFilter> {
        let status = match known_str(&self.status) {
            Some(s) => match s.parse::<TenantStatus>() {
                Ok(status) => Some(status),
                Err(err) => {
                    check(diags, Err(err));
                    return None;
                }
            },
            None => None,
        };
        Some(TenantFilter {
            application: known_str(&self.application).map(str::to_string),
            tier: known_str(&self.tier).map(str::to_string),
            status,
            ids: Default::default(),
            labels: known_map(&self.labels)?,
        })
    }
}

/// The `saas_tenants` data source's read.
#[derive(Debug, Clone, Copy, Default)]
pub struct TenantsRead;

pub type TenantsDataSource = ReadDataSource<TenantsRead>;

#[async_trait]
impl RegistryRead for TenantsRead {
    type State = TenantsState;

    fn schema(&self) -> Schema {
        tenants_schema()
    }

    fn validate(&self, diags: &mut Diagnostics, config: &TenantsState) {
        config.filter(diags);
    }

    async fn read(
        &self,
        registry: &Registry,
        diags: &mut Diagnostics,
        config: TenantsState,
    ) -> Option<TenantsState> {
        let filter = config.filter(diags)?;
        let loaded = async {
            let tenants = registry.list_tenants(&filter).await?;
            let apps = applications_of(registry, &tenants).await?;
            tenants
                .iter()
                .map(|t| TenantState::shown(t, &apps))
                .collect::<saas_registry::Result<Vec<_>>>()
        };
        let mut tenants = reported(diags, loaded.await)?;
        tenants.sort_by(|a, b| a.id.cmp(&b.id));
        let mut state = config;
        state.ids = Value::Value(tenants.iter().map(|t| t.id.clone()).collect());
        state.tenants = Value::Value(tenants_value(&tenants));
        Some(state)
    }
}

/// The tenants as one tuple of objects. A list's elements must all share one
/// type, which the typed variables of different tenants do not; in a tuple
/// each object carries its own `variables` type, and the other attributes
/// keep the types of the `saas_tenant` data source.
fn tenants_value(records: &[TenantState]) -> Dynamic {
    // The attributes' own types, once; each tenant adds its variables' type.
    let fields: serde_json::Map<String, Json> = tenant_data_attributes()
        .into_iter()
        .map(|(name, attribute)| {
            let cty = serde_json::to_value(&attribute.attr_type).unwrap_or(Json::Null);
            (name, cty)
        })
        .collect();
    let (mut types, mut values) = (Vec::new(), Vec::new());
    for record in records {
        let mut ty = fields.clone();
        let mut value = serde_json::to_value(record).unwrap_or(Json::Null);
        if let Value::Value(vars) = &record.variables {
            ty.insert("variables".into(), vars.ty.clone());
            value["variables"] = vars.to_json().unwrap_or(Json::Null);
        }
        types.push(Json::Array(vec!["object".into(), Json::Object(ty)]));
        values.push(value);
    }
    Dynamic::typed_json(
        Json::Array(vec!["tuple".into(), Json::Array(types)]),
        &Json::Array(values),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::string;

    #[test]
    fn filter_takes_every_criterion() {
        let state = TenantsState {
            application: string("web"),
            status: string("suspended"),
            labels: crate::convert::map_value(&[("team".to_string(), "a".to_string())].into()),
            ..Default::default()
        };
        let filter = state.filter(&mut Diagnostics::default()).unwrap();
        assert_eq!(filter.application.as_deref(), Some("web"));
        assert_eq!(filter.status, Some(TenantStatus::Suspended));
        assert_eq!(filter.labels["team"], "a");
    }

    #[test]
    fn bad_status_names_the_attribute() {
        let state = TenantsState {
            status: string("gone"),
            ..Default::default()
        };
        let mut diags = Diagnostics::default();
        assert!(state.filter(&mut diags).is_none());
        assert_eq!(
            diags.errors[0].attribute,
            tf_provider::AttributePath::new("status")
        );
    }
}
