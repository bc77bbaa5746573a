//! The tenant registry shared by `saasctl` and `terraform-provider-saas`:
//! the application and tenant model, its validation, backend derivation,
//! and storage behind one trait (SQLite embedded, DynamoDB in the cloud).

pub mod backend;
mod codec;
pub mod dynamodb;
mod error;
#[doc(hidden)]
pub mod hostile_corpus;
#[cfg(test)]
mod hostile_tests;
pub mod model;
pub mod sqlite;
mod store;
pub mod validate;

pub use backend::{
    derive as derive_backend, BackendSettings, CustomEndpoint, EndpointUrls, EndpointUrlsIn,
    S3BackendConfig,
};
pub use error::{RecordKind, RegistryError, Result};
pub use model::{
    Application, Isolation, LockKind, RecordMeta, StateConfig, Tenant, TenantFilter, TenantStatus,
};
pub use store::{
    resolve_url, Registry, RegistryLocation, Store, DEFAULT_REGISTRY_URL, REGISTRY_ENV,
};
