//! `saas_application` data source: one application by name.

use async_trait::async_trait;
use saas_registry::{RecordKind, Registry};
use tf_provider::schema::{AttributeConstraint, Schema};
use tf_provider::Diagnostics;

use crate::attrs;
use crate::convert::known_str;
use crate::record::{looked_up, ReadDataSource, RegistryRead};
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

/// The `saas_application` data source's read.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApplicationRead;

pub type ApplicationDataSource = ReadDataSource<ApplicationRead>;

#[async_trait]
impl RegistryRead for ApplicationRead {
    type State = ApplicationState;

    fn schema(&self) -> Schema {
        application_data_schema()
    }

    async fn read(
        &self,
        registry: &Registry,
        diags: &mut Diagnostics,
        config: ApplicationState,
    ) -> Option<ApplicationState> {
        let name = known_str(&config.name)?;
        let found = registry.require_application(name).await;
        let app = looked_up(diags, found, RecordKind::Application, "name")?;
        Some(ApplicationState::from_application(&app, &config))
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
