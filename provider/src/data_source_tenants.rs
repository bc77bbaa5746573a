//! `saas_tenants` data source: the tenants matching a filter, sorted by id.

use async_trait::async_trait;
use saas_registry::{TenantFilter, TenantStatus};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use tf_provider::schema::Schema;
use tf_provider::value::{Value, ValueEmpty};
use tf_provider::{DataSource, Diagnostics};

use crate::attrs;
use crate::convert::{check, known_map, known_str, report, SharedRegistry, StringMap, StringValue};
use crate::data_source_tenant::{applications_of, tenant_record_attributes, TenantRecord};
use crate::dynamic::Dynamic;

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

#[derive(Debug, Clone)]
pub struct TenantsDataSource {
    registry: SharedRegistry,
}

impl TenantsDataSource {
    pub fn new(registry: SharedRegistry) -> Self {
        TenantsDataSource { registry }
    }
}

#[async_trait]
impl DataSource for TenantsDataSource {
    type State<'a> = TenantsState;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(tenants_schema())
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: Self::State<'a>) -> Option<()> {
        config.filter(diags);
        Some(())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        config: Self::State<'a>,
        _provider_meta_state: Self::ProviderMetaState<'a>,
    ) -> Option<Self::State<'a>> {
        let registry = self.registry.get(diags)?;
        let filter = config.filter(diags)?;
        let loaded = async {
            let tenants = registry.list_tenants(&filter).await?;
            let apps = applications_of(registry, &tenants).await?;
            tenants
                .iter()
                .map(|t| TenantRecord::new(t, &apps))
                .collect::<saas_registry::Result<Vec<_>>>()
        };
        match loaded.await {
            Ok(mut records) => {
                records.sort_by(|a, b| a.id.cmp(&b.id));
                let mut state = config;
                state.ids = Value::Value(records.iter().map(|r| r.id.clone()).collect());
                state.tenants = Value::Value(tenants_value(&records));
                Some(state)
            }
            Err(err) => {
                report(diags, err);
                None
            }
        }
    }
}

/// The tenants as one tuple of objects. A list's elements must all share one
/// type, which the typed variables of different tenants do not; in a tuple
/// each object carries its own `variables` type, and the other attributes
/// keep the types of the `saas_tenant` data source.
fn tenants_value(records: &[TenantRecord]) -> Dynamic {
    // The attributes' own types, once; each tenant adds its variables' type.
    let fields: serde_json::Map<String, Json> = tenant_record_attributes()
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
