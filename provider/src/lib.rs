//! `terraform-provider-saas`: the Terraform provider `saasctl/saas`, which
//! manages the saasctl tenant registry as code.

mod attrs;
mod convert;
pub mod data_source_application;
pub mod data_source_tenant;
pub mod data_source_tenants;
pub mod docs;
mod dynamic;
#[cfg(target_os = "linux")]
pub mod nodelay;
pub mod provider;
mod record;
pub mod resource_application;
pub mod resource_tenant;

pub use provider::{SaasProvider, PROVIDER_NAME};
