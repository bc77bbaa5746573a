use thiserror::Error;

/// Which record kind an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    Application,
    Tenant,
}

impl std::fmt::Display for RecordKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RecordKind::Application => "application",
            RecordKind::Tenant => "tenant",
        })
    }
}

/// Every way a registry call can fail. `field` is the attribute path of the
/// offending input (e.g. `id`, `state.bucket`, `applications`), so callers can
/// turn it into a Terraform diagnostic or a one-line CLI error.
#[derive(Debug, Error)]
pub enum RegistryError {
    #[error("invalid {field}: {message}")]
    Invalid { field: String, message: String },

    #[error("{kind} {id:?} not found")]
    NotFound { kind: RecordKind, id: String },

    #[error("{kind} {id:?} already exists")]
    AlreadyExists { kind: RecordKind, id: String },

    #[error(
        "{kind} {id:?} was modified concurrently (expected version {expected}, found {actual})"
    )]
    Conflict {
        kind: RecordKind,
        id: String,
        expected: u64,
        actual: u64,
    },

    #[error(
        "application {application:?} still has {count} tenant(s) onboarded; offboard them first"
    )]
    InUse { application: String, count: usize },

    #[error("invalid registry URL {url:?}: {message}")]
    BadUrl { url: String, message: String },

    #[error("registry backend unreachable: {0}")]
    Unavailable(String),

    #[error("registry backend error: {0}")]
    Backend(String),
}

impl RegistryError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        RegistryError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The attribute path this error is about, when it is about one input.
    pub fn field(&self) -> Option<&str> {
        match self {
            RegistryError::Invalid { field, .. } => Some(field),
            _ => None,
        }
    }
}

pub type Result<T, E = RegistryError> = std::result::Result<T, E>;
