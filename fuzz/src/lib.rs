//! The registry's pure core (model, validation, backend derivation) built
//! from the registry's own source files, without its stores. The targets
//! only reach this code; building the whole `saas-registry` for fuzzing
//! would instrument the AWS SDK and SQLite too (many minutes of build on CI
//! for code no target calls). Items keep their `saas_registry` paths.

#[path = "../../registry/src/backend.rs"]
pub mod backend;
#[path = "../../registry/src/error.rs"]
mod error;
#[path = "../../registry/src/model.rs"]
pub mod model;
#[path = "../../registry/src/validate.rs"]
pub mod validate;

pub use backend::{derive as derive_backend, BackendSettings};
pub use error::{RecordKind, RegistryError, Result};
pub use model::{Application, Isolation, LockKind, StateConfig, Tenant};
