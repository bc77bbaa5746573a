//! `saas_application` data source: one application by name.

use async_trait::async_trait;
use tf_provider::schema::{AttributeConstraint, Schema};
use tf_provider::value::ValueEmpty;
use tf_provider::{AttributePath, DataSource, Diagnostics};

use crate::attrs;
use crate::convert::{known_str, report, SharedRegistry};
use crate::resource_application::{application_schema, state_block, ApplicationState};

pub fn application_data_schema() -> Schema {
    let mut attributes = attrs::read_only_all(application_schema().block.attributes);
    if let Some(name) = attributes.get_mut("name") {
        name.constraint = AttributeConstraint::Required;
        name.description = attrs::description("Name of the application to read.");
    }
    attributes.insert("state".into(), attrs::block_as_computed(&state_block()));
    attrs::schema_from("Reads one application from the registry.", attributes)
}

#[derive(Debug, Clone)]
pub struct ApplicationDataSource {
    registry: SharedRegistry,
}

impl ApplicationDataSource {
    pub fn new(registry: SharedRegistry) -> Self {
        ApplicationDataSource { registry }
    }
}

#[async_trait]
impl DataSource for ApplicationDataSource {
    type State<'a> = ApplicationState;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(application_data_schema())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        config: Self::State<'a>,
        _provider_meta_state: Self::ProviderMetaState<'a>,
    ) -> Option<Self::State<'a>> {
        let registry = self.registry.get(diags)?;
        let name = known_str(&config.name)?;
        match registry.get_application(name).await {
            Ok(Some(app)) => Some(ApplicationState::from_application(&app, &config)),
            Ok(None) => {
                diags.error(
                    format!("application {name:?} not found"),
                    String::new(),
                    AttributePath::new("name"),
                );
                None
            }
            Err(err) => {
                report(diags, err);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tf_provider::schema::AttributeType;

    #[test]
    fn looks_up_by_name_and_computes_the_rest() {
        let schema = application_data_schema();
        let attributes = &schema.block.attributes;
        assert_eq!(attributes["name"].constraint, AttributeConstraint::Required);
        for (name, attr) in attributes.iter().filter(|(n, _)| *n != "name") {
            assert_eq!(attr.constraint, AttributeConstraint::Computed, "{name}");
        }
        // The resource's `state` block is a computed object here.
        let AttributeType::Object(fields) = &attributes["state"].attr_type else {
            panic!("state should be an object");
        };
        assert!(fields.contains_key("bucket_prefix") && fields.contains_key("lock_table"));
        assert!(schema.block.blocks.is_empty());
    }
}
