//! Storage: one trait, two backends, chosen by URL; and `Registry`, the
//! front door that validates, stamps versions and checks references before
//! anything reaches a backend.

use std::sync::Arc;

use async_trait::async_trait;

use crate::error::{RecordKind, RegistryError, Result};
use crate::model::{Application, RecordMeta, Tenant, TenantFilter};
use crate::validate;

/// Environment variable naming the registry URL.
pub const REGISTRY_ENV: &str = "SAAS_REGISTRY";
/// Used when neither a flag/attribute nor `SAAS_REGISTRY` names a registry.
pub const DEFAULT_REGISTRY_URL: &str = "sqlite://.saas/registry.db";

/// Raw record storage. Backends store what they are given; `Registry` has
/// already validated it and stamped `meta`. Every write is conditional:
/// inserts fail with `AlreadyExists`, replacements and removals with
/// `Conflict` unless the stored version equals `expected_version`.
#[async_trait]
pub trait Store: Send + Sync {
    /// Creates tables/schema. Idempotent.
    async fn init(&self) -> Result<()>;

    async fn insert_application(&self, app: &Application) -> Result<()>;
    async fn replace_application(&self, app: &Application, expected_version: u64) -> Result<()>;
    /// Fails with `InUse` while any tenant lists the application.
    async fn remove_application(&self, name: &str, expected_version: Option<u64>) -> Result<()>;
    async fn get_application(&self, name: &str) -> Result<Option<Application>>;
    /// All applications, sorted by name, every page read.
    async fn list_applications(&self) -> Result<Vec<Application>>;

    async fn insert_tenant(&self, tenant: &Tenant) -> Result<()>;
    async fn replace_tenant(&self, tenant: &Tenant, expected_version: u64) -> Result<()>;
    async fn remove_tenant(&self, id: &str, expected_version: Option<u64>) -> Result<()>;
    async fn get_tenant(&self, id: &str) -> Result<Option<Tenant>>;
    /// Matching tenants sorted by id, every page read. With
    /// `filter.application` set, backends use an index, not a full scan.
    async fn list_tenants(&self, filter: &TenantFilter) -> Result<Vec<Tenant>>;
}

/// Where a registry lives, parsed from its URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryLocation {
    /// `sqlite://PATH` (relative, or absolute as `sqlite:///abs/path`).
    Sqlite { path: std::path::PathBuf },
    /// `dynamodb://TABLE?region=R`.
    Dynamodb {
        table: String,
        region: Option<String>,
    },
}

impl RegistryLocation {
    pub fn parse(url: &str) -> Result<Self> {
        let bad = |message: &str| RegistryError::BadUrl {
            url: url.to_string(),
            message: message.to_string(),
        };
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| bad("expected sqlite://PATH or dynamodb://TABLE?region=R"))?;
        match scheme {
            "sqlite" => {
                let path = rest.split('?').next().unwrap_or_default();
                if path.is_empty() {
                    return Err(bad("sqlite:// needs a file path"));
                }
                if path.chars().any(char::is_control) {
                    return Err(bad("the path contains control characters"));
                }
                Ok(RegistryLocation::Sqlite { path: path.into() })
            }
            "dynamodb" => {
                let (table, query) = rest.split_once('?').unwrap_or((rest, ""));
                validate::table_name("registry", table).map_err(|e| bad(&e.to_string()))?;
                let mut region = None;
                for pair in query.split('&').filter(|p| !p.is_empty()) {
                    match pair.split_once('=') {
                        Some(("region", r)) if !r.is_empty() => region = Some(r.to_string()),
                        _ => {
                            return Err(bad(&format!(
                                "unknown query parameter {pair:?}; only region=R is supported"
                            )))
                        }
                    }
                }
                Ok(RegistryLocation::Dynamodb {
                    table: table.into(),
                    region,
                })
            }
            other => Err(bad(&format!(
                "unknown scheme {other:?}; use sqlite:// or dynamodb://"
            ))),
        }
    }
}

/// Picks the registry URL: an explicit one, then `SAAS_REGISTRY`, then the
/// embedded default.
pub fn resolve_url(explicit: Option<&str>) -> String {
    explicit
        .filter(|u| !u.is_empty())
        .map(str::to_string)
        .or_else(|| std::env::var(REGISTRY_ENV).ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(|| DEFAULT_REGISTRY_URL.to_string())
}

/// The registry: validation and bookkeeping over a `Store`.
#[derive(Clone)]
pub struct Registry {
    store: Arc<dyn Store>,
    url: String,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").field("url", &self.url).finish()
    }
}

impl Registry {
    /// Opens the registry at `url`. For SQLite this creates the file and
    /// schema; for DynamoDB it only builds a client (see `init`).
    pub async fn open(url: &str) -> Result<Self> {
        let store: Arc<dyn Store> = match RegistryLocation::parse(url)? {
            RegistryLocation::Sqlite { path } => Arc::new(crate::sqlite::SqliteStore::open(&path)?),
            RegistryLocation::Dynamodb { table, region } => {
                Arc::new(crate::dynamodb::DynamoStore::connect(&table, region).await?)
            }
        };
        Ok(Registry {
            store,
            url: url.to_string(),
        })
    }

    pub fn with_store(store: Arc<dyn Store>, url: impl Into<String>) -> Self {
        Registry {
            store,
            url: url.into(),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub async fn init(&self) -> Result<()> {
        self.store.init().await
    }

    pub async fn create_application(&self, app: &Application) -> Result<Application> {
        validate::application(app)?;
        validate::state_compatible(app, &self.store.list_applications().await?)?;
        let mut app = app.clone();
        app.meta = RecordMeta::first();
        self.store.insert_application(&app).await?;
        Ok(app)
    }

    /// Writes `app` if the stored version is still `app.meta.version`.
    pub async fn update_application(&self, app: &Application) -> Result<Application> {
        validate::application(app)?;
        validate::state_compatible(app, &self.store.list_applications().await?)?;
        let current = self.require_application(&app.name).await?;
        if current.state != app.state {
            let tenants = self
                .store
                .list_tenants(&TenantFilter::for_application(&app.name))
                .await?;
            if !tenants.is_empty() {
                return Err(RegistryError::invalid(
                    "state",
                    format!("cannot change where state lives while {} tenant(s) are onboarded; migrate their state first", tenants.len()),
                ));
            }
        }
        let removed: Vec<&String> = current.tiers.difference(&app.tiers).collect();
        if !removed.is_empty() {
            let tenants = self
                .store
                .list_tenants(&TenantFilter::for_application(&app.name))
                .await?;
            if let Some(t) = tenants.iter().find(|t| !app.tiers.contains(&t.tier)) {
                return Err(RegistryError::invalid(
                    "tiers",
                    format!(
                        "tenant {:?} uses tier {:?}, which this change removes",
                        t.id, t.tier
                    ),
                ));
            }
        }
        let mut next = app.clone();
        next.meta = app.meta.next(&current.meta);
        self.store
            .replace_application(&next, app.meta.version)
            .await?;
        Ok(next)
    }

    pub async fn delete_application(
        &self,
        name: &str,
        expected_version: Option<u64>,
    ) -> Result<()> {
        validate::slug("name", name)?;
        self.store.remove_application(name, expected_version).await
    }

    pub async fn get_application(&self, name: &str) -> Result<Option<Application>> {
        validate::slug("name", name)?;
        self.store.get_application(name).await
    }

    pub async fn require_application(&self, name: &str) -> Result<Application> {
        self.get_application(name)
            .await?
            .ok_or_else(|| RegistryError::NotFound {
                kind: RecordKind::Application,
                id: name.to_string(),
            })
    }

    pub async fn list_applications(&self) -> Result<Vec<Application>> {
        self.store.list_applications().await
    }

    pub async fn create_tenant(&self, tenant: &Tenant) -> Result<Tenant> {
        self.check_tenant(tenant).await?;
        let mut tenant = tenant.clone();
        tenant.meta = RecordMeta::first();
        self.store.insert_tenant(&tenant).await?;
        Ok(tenant)
    }

    /// Writes `tenant` if the stored version is still `tenant.meta.version`.
    pub async fn update_tenant(&self, tenant: &Tenant) -> Result<Tenant> {
        self.check_tenant(tenant).await?;
        let current = self.require_tenant(&tenant.id).await?;
        let mut next = tenant.clone();
        next.meta = tenant.meta.next(&current.meta);
        self.store
            .replace_tenant(&next, tenant.meta.version)
            .await?;
        Ok(next)
    }

    pub async fn delete_tenant(&self, id: &str, expected_version: Option<u64>) -> Result<()> {
        validate::slug("id", id)?;
        self.store.remove_tenant(id, expected_version).await
    }

    pub async fn get_tenant(&self, id: &str) -> Result<Option<Tenant>> {
        validate::slug("id", id)?;
        self.store.get_tenant(id).await
    }

    pub async fn require_tenant(&self, id: &str) -> Result<Tenant> {
        self.get_tenant(id)
            .await?
            .ok_or_else(|| RegistryError::NotFound {
                kind: RecordKind::Tenant,
                id: id.to_string(),
            })
    }

    pub async fn list_tenants(&self, filter: &TenantFilter) -> Result<Vec<Tenant>> {
        if let Some(app) = &filter.application {
            validate::slug("application", app)?;
        }
        self.store.list_tenants(filter).await
    }

    async fn check_tenant(&self, tenant: &Tenant) -> Result<()> {
        validate::tenant(tenant)?;
        let mut apps = Vec::with_capacity(tenant.applications.len());
        for name in &tenant.applications {
            if let Some(app) = self.store.get_application(name).await? {
                apps.push(app);
            }
        }
        validate::tenant_references(tenant, &apps)
    }
}

impl RecordMeta {
    fn first() -> Self {
        let now = now_rfc3339();
        RecordMeta {
            created_at: now.clone(),
            updated_at: now,
            version: 1,
        }
    }

    /// The meta of the write that follows `stored`; `self` is what the
    /// writer read (its version is the write's condition).
    fn next(&self, stored: &RecordMeta) -> Self {
        RecordMeta {
            created_at: stored.created_at.clone(),
            updated_at: now_rfc3339(),
            version: self.version + 1,
        }
    }
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        assert_eq!(
            RegistryLocation::parse("sqlite:///tmp/r.db").unwrap(),
            RegistryLocation::Sqlite {
                path: "/tmp/r.db".into()
            }
        );
        assert_eq!(
            RegistryLocation::parse("dynamodb://saas-registry?region=eu-west-1").unwrap(),
            RegistryLocation::Dynamodb {
                table: "saas-registry".into(),
                region: Some("eu-west-1".into())
            }
        );
        for bad in [
            "",
            "sqlite://",
            "postgres://x",
            "dynamodb://a",
            "dynamodb://tbl?zone=1",
            "no-scheme",
        ] {
            assert!(
                matches!(
                    RegistryLocation::parse(bad),
                    Err(RegistryError::BadUrl { .. })
                ),
                "{bad}"
            );
        }
    }
}
