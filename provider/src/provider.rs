//! The `saas` provider: its configuration (`registry`) and the resources and
//! data sources it serves.

use std::collections::HashMap;

use async_trait::async_trait;
use saas_registry::{resolve_url, Registry, RegistryLocation};
use serde::{Deserialize, Serialize};
use tf_provider::schema::Schema;
use tf_provider::value::{Value, ValueEmpty};
use tf_provider::{AttributePath, Diagnostics, DynamicDataSource, DynamicResource, Provider};

use crate::attrs;
use crate::convert::{SharedRegistry, StringValue};
use crate::data_source_application::ApplicationDataSource;
use crate::data_source_tenant::TenantDataSource;
use crate::data_source_tenants::TenantsDataSource;
use crate::resource_application::ApplicationResource;
use crate::resource_tenant::TenantResource;

/// The provider's type name: resources are `saas_*`.
pub const PROVIDER_NAME: &str = "saas";

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ProviderConfig {
    pub registry: StringValue,
}

#[derive(Debug, Clone, Default)]
pub struct SaasProvider {
    registry: SharedRegistry,
}

pub fn provider_schema() -> Schema {
    attrs::schema(
        "Manages the saasctl tenant registry as code: applications (one Terraform stack each) and the tenants onboarded to them.",
        [(
            "registry",
            attrs::optional(
                attrs::string(),
                "Registry URL: `sqlite://PATH` (relative to the working directory, or `sqlite:///abs/path`) or `dynamodb://TABLE?region=REGION`. Defaults to the `SAAS_REGISTRY` environment variable, then `sqlite://.saas/registry.db`. DynamoDB uses the standard AWS credential chain and honours `AWS_ENDPOINT_URL_DYNAMODB`.",
            ),
        )],
    )
}

fn registry_error(diags: &mut Diagnostics, summary: &str, detail: String) {
    diags.error(summary.to_string(), detail, AttributePath::new("registry"));
}

#[async_trait]
impl Provider for SaasProvider {
    type Config<'a> = ProviderConfig;
    type MetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(provider_schema())
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: Self::Config<'a>) -> Option<()> {
        if let Value::Value(url) = &config.registry {
            if let Err(err) = RegistryLocation::parse(url) {
                registry_error(diags, "Invalid registry URL", err.to_string());
            }
        }
        Some(())
    }

    async fn configure<'a>(
        &self,
        diags: &mut Diagnostics,
        _terraform_version: String,
        config: Self::Config<'a>,
    ) -> Option<()> {
        if config.registry.is_unknown() {
            registry_error(
                diags,
                "Registry URL unknown",
                "The registry URL must be known when Terraform plans; do not derive it from resources that are not created yet.".into(),
            );
            return Some(());
        }
        let url = resolve_url(config.registry.as_ref_option().map(String::as_str));
        let registry = match Registry::open(&url).await {
            Ok(registry) => registry,
            Err(err) => {
                registry_error(diags, "Cannot open the registry", err.to_string());
                return Some(());
            }
        };
        // One cheap read proves the registry is reachable (DynamoDB only builds
        // a client on open), so a wrong table or endpoint fails here, once.
        if let Err(err) = registry.list_applications().await {
            registry_error(
                diags,
                "Registry unreachable",
                format!("{err} (registry {url})"),
            );
            return Some(());
        }
        self.registry.set(registry);
        Some(())
    }

    fn get_resources(
        &self,
        _diags: &mut Diagnostics,
    ) -> Option<HashMap<String, Box<dyn DynamicResource>>> {
        let mut resources: HashMap<String, Box<dyn DynamicResource>> = HashMap::new();
        resources.insert(
            "application".into(),
            Box::new(ApplicationResource::new(self.registry.clone())),
        );
        resources.insert(
            "tenant".into(),
            Box::new(TenantResource::new(self.registry.clone())),
        );
        Some(resources)
    }

    fn get_data_sources(
        &self,
        _diags: &mut Diagnostics,
    ) -> Option<HashMap<String, Box<dyn DynamicDataSource>>> {
        let mut sources: HashMap<String, Box<dyn DynamicDataSource>> = HashMap::new();
        sources.insert(
            "application".into(),
            Box::new(ApplicationDataSource::new(self.registry.clone())),
        );
        sources.insert(
            "tenant".into(),
            Box::new(TenantDataSource::new(self.registry.clone())),
        );
        sources.insert(
            "tenants".into(),
            Box::new(TenantsDataSource::new(self.registry.clone())),
        );
        Some(sources)
    }
}
