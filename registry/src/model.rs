//! The registry's records. Plain data: validation lives in `validate`, storage
//! in `store`, backend derivation in `backend`.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

pub const DEFAULT_TIERS: [&str; 3] = ["basic", "standard", "premium"];
pub const DEFAULT_KEY_TEMPLATE: &str = "{application}/{tenant}/terraform.tfstate";

/// How tenants of one application are kept apart in S3.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default, strum::IntoStaticStr,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Isolation {
    /// One shared bucket; each tenant gets its own key.
    #[default]
    Prefix,
    /// One bucket per tenant, named `<bucket_prefix>-<tenant>`.
    Bucket,
}

/// How Terraform's S3 backend locks a tenant's state.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default, strum::IntoStaticStr,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum LockKind {
    /// A DynamoDB table with hash key `LockID`.
    #[default]
    Dynamodb,
    /// S3-native lockfile (`use_lockfile = true`).
    S3,
}

/// Where and how each tenant's Terraform state for an application is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateConfig {
    pub region: String,
    #[serde(default)]
    pub isolation: Isolation,
    /// Shared bucket, for `prefix` isolation.
    #[serde(default)]
    pub bucket: Option<String>,
    /// Bucket name prefix, for `bucket` isolation.
    #[serde(default)]
    pub bucket_prefix: Option<String>,
    /// Object key template; `{application}` and `{tenant}` are substituted.
    #[serde(default = "default_key_template")]
    pub key: String,
    #[serde(default)]
    pub lock: LockKind,
    /// Lock table for `dynamodb` locking. With `bucket` isolation each tenant
    /// gets its own table, `<lock_table>-<tenant>`.
    #[serde(default)]
    pub lock_table: Option<String>,
}

fn default_key_template() -> String {
    DEFAULT_KEY_TEMPLATE.to_string()
}

impl Default for StateConfig {
    fn default() -> Self {
        StateConfig {
            region: "us-east-1".into(),
            isolation: Isolation::Prefix,
            bucket: None,
            bucket_prefix: None,
            key: default_key_template(),
            lock: LockKind::Dynamodb,
            lock_table: None,
        }
    }
}

/// Bookkeeping that the registry computes; callers never set it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RecordMeta {
    /// RFC 3339, UTC.
    pub created_at: String,
    /// RFC 3339, UTC.
    pub updated_at: String,
    /// Starts at 1; every successful write increments it. Writes are
    /// conditional on the version the writer read.
    pub version: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Application {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Where the stack's Terraform lives (free text, e.g. a git URL and path).
    #[serde(default)]
    pub stack: String,
    #[serde(default = "default_tiers")]
    pub tiers: BTreeSet<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    pub state: StateConfig,
    #[serde(default)]
    pub meta: RecordMeta,
}

pub fn default_tiers() -> BTreeSet<String> {
    DEFAULT_TIERS.iter().map(|t| t.to_string()).collect()
}

impl Application {
    pub fn new(name: impl Into<String>, state: StateConfig) -> Self {
        Application {
            name: name.into(),
            description: String::new(),
            stack: String::new(),
            tiers: default_tiers(),
            labels: BTreeMap::new(),
            state,
            meta: RecordMeta::default(),
        }
    }
}

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    Default,
    PartialOrd,
    Ord,
    strum::IntoStaticStr,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum TenantStatus {
    #[default]
    Active,
    Suspended,
    Offboarding,
}

impl TenantStatus {
    pub const ALL: [TenantStatus; 3] = [
        TenantStatus::Active,
        TenantStatus::Suspended,
        TenantStatus::Offboarding,
    ];

    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl std::fmt::Display for TenantStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for TenantStatus {
    type Err = crate::RegistryError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TenantStatus::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| {
                crate::RegistryError::invalid(
                    "status",
                    format!("{s:?} is not one of active, suspended, offboarding"),
                )
            })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    /// Immutable DNS-label slug; goes into state keys, bucket and table names.
    pub id: String,
    pub name: String,
    pub email: String,
    pub tier: String,
    #[serde(default)]
    pub status: TenantStatus,
    #[serde(default)]
    pub applications: BTreeSet<String>,
    /// Inputs handed to the tenant's stack runs, typed as JSON (string,
    /// number, bool, list, object). Records written before values were typed
    /// hold strings, which read back as JSON strings: no migration.
    #[serde(default)]
    pub variables: BTreeMap<String, serde_json::Value>,
    /// Like `variables`, but never printed, logged or written to reports.
    #[serde(default)]
    pub sensitive_variables: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub meta: RecordMeta,
}

impl Tenant {
    pub fn new(
        id: impl Into<String>,
        name: impl Into<String>,
        email: impl Into<String>,
        tier: impl Into<String>,
    ) -> Self {
        Tenant {
            id: id.into(),
            name: name.into(),
            email: email.into(),
            tier: tier.into(),
            status: TenantStatus::Active,
            applications: BTreeSet::new(),
            variables: BTreeMap::new(),
            sensitive_variables: BTreeMap::new(),
            labels: BTreeMap::new(),
            meta: RecordMeta::default(),
        }
    }
}

/// Which tenants a listing returns. Every set field must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantFilter {
    pub application: Option<String>,
    pub tier: Option<String>,
    pub status: Option<TenantStatus>,
    pub ids: BTreeSet<String>,
    pub labels: BTreeMap<String, String>,
}

impl TenantFilter {
    pub fn for_application(application: impl Into<String>) -> Self {
        TenantFilter {
            application: Some(application.into()),
            ..Default::default()
        }
    }

    /// Whether `tenant` passes every set criterion. Backends use the
    /// application criterion to pick an index and this for the rest.
    pub fn matches(&self, tenant: &Tenant) -> bool {
        self.application
            .as_ref()
            .is_none_or(|a| tenant.applications.contains(a))
            && self.tier.as_ref().is_none_or(|t| &tenant.tier == t)
            && self.status.is_none_or(|s| tenant.status == s)
            && (self.ids.is_empty() || self.ids.contains(&tenant.id))
            && self
                .labels
                .iter()
                .all(|(k, v)| tenant.labels.get(k) == Some(v))
    }
}
