//! SQLite backend: one file, shared safely by several processes (Terraform
//! starts one provider process per configuration, and two `apply`s may
//! race). WAL lets readers run beside a writer; every write takes the write
//! lock up front (`BEGIN IMMEDIATE`) and re-checks versions and references
//! inside its transaction, so no check can go stale before the commit.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};

use crate::codec::{self, already_exists, check_version};
use crate::error::{RecordKind, RegistryError, Result};
use crate::model::{Application, Tenant, TenantFilter};
use crate::validate;

/// How long a writer waits for another process's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS applications (
    name    TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    body    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tenants (
    id      TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    body    TEXT NOT NULL
);
-- Which tenants are onboarded to which application: answers \"tenants of
-- application X\" from an index and counts references for InUse.
CREATE TABLE IF NOT EXISTS tenant_applications (
    application TEXT NOT NULL,
    tenant      TEXT NOT NULL,
    PRIMARY KEY (application, tenant)
);
CREATE INDEX IF NOT EXISTS tenant_applications_by_tenant ON tenant_applications (tenant);
";

pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the registry file, its parent directories
    /// and its schema.
    pub fn open(path: &Path) -> Result<Self> {
        let fail = |what: &str, e: &dyn std::fmt::Display| {
            RegistryError::Backend(format!(
                "cannot {what} SQLite registry {}: {e}",
                path.display()
            ))
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| fail("create the directory of", &e))?;
        }
        let mut conn = Connection::open(path).map_err(|e| fail("open", &e))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| fail("configure", &e))?;
        // Returns the mode in effect; WAL persists in the file once set.
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .map_err(|e| fail("enable WAL on", &e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(fail(
                "enable WAL on",
                &format!("journal mode stayed {mode:?}"),
            ));
        }
        // Listings read every row: map the file instead of copying each page
        // through pread, and keep a page cache larger than a big registry
        // (10,000 tenants is ~4.5 MB, over SQLite's 2 MB default).
        conn.execute_batch("PRAGMA mmap_size = 268435456; PRAGMA cache_size = -65536;")
            .map_err(|e| fail("configure", &e))?;
        create_schema(&mut conn).map_err(|e| fail("create the schema of", &e))?;
        Ok(SqliteStore {
            conn: Arc::new(Mutex::new(conn)),
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `work` on the connection off the async runtime's worker threads.
    async fn with_conn<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            // A panic mid-transaction rolled it back when the guard dropped;
            // the connection itself is still sound.
            let mut guard = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            work(&mut guard)
        })
        .await
        .map_err(|e| RegistryError::Backend(format!("SQLite worker failed: {e}")))?
    }

    /// Runs `work` in a write transaction and commits it if `work` succeeds.
    async fn write<F>(&self, work: F) -> Result<()>
    where
        F: FnOnce(&Transaction<'_>) -> Result<()> + Send + 'static,
    {
        self.with_conn(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db_error)?;
            work(&tx)?;
            tx.commit().map_err(db_error)
        })
        .await
    }
}

/// Creates the schema under the write lock: processes opening a new file
/// at once wait for each other instead of failing on a stale snapshot.
fn create_schema(conn: &mut Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch(SCHEMA)?;
    tx.commit()
}

fn db_error(e: rusqlite::Error) -> RegistryError {
    match e {
        rusqlite::Error::SqliteFailure(code, _)
            if matches!(
                code.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ) =>
        {
            RegistryError::Unavailable(format!(
                "SQLite registry stayed locked by another writer for {}s: {e}",
                BUSY_TIMEOUT.as_secs()
            ))
        }
        e => RegistryError::Backend(format!("SQLite: {e}")),
    }
}

/// The table and key column a record kind lives in. Fixed strings, never
/// user input, so they may be formatted into SQL.
fn table_of(kind: RecordKind) -> (&'static str, &'static str) {
    match kind {
        RecordKind::Application => ("applications", "name"),
        RecordKind::Tenant => ("tenants", "id"),
    }
}

fn stored_version(tx: &Connection, kind: RecordKind, id: &str) -> Result<Option<u64>> {
    let (table, key) = table_of(kind);
    let raw: Option<i64> = tx
        .query_row(
            &format!("SELECT version FROM {table} WHERE {key} = ?1"),
            [id],
            |row| row.get(0),
        )
        .optional()
        .map_err(db_error)?;
    raw.map(|v| codec::version_from_i64(kind, id, v))
        .transpose()
}

fn load_body<T: serde::de::DeserializeOwned>(
    conn: &Connection,
    kind: RecordKind,
    id: &str,
) -> Result<Option<T>> {
    let (table, key) = table_of(kind);
    let body: Option<String> = conn
        .query_row(
            &format!("SELECT body FROM {table} WHERE {key} = ?1"),
            [id],
            |row| row.get(0),
        )
        .optional()
        .map_err(db_error)?;
    body.map(|b| codec::decode(kind, id, &b)).transpose()
}

/// Decodes every row of `sql` (which selects `key, body`).
fn load_all<T: serde::de::DeserializeOwned>(
    conn: &Connection,
    kind: RecordKind,
    sql: &str,
    args: impl rusqlite::Params,
) -> Result<Vec<T>> {
    let mut stmt = conn.prepare(sql).map_err(db_error)?;
    let rows = stmt
        .query_map(args, |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })
        .map_err(db_error)?;
    let mut records = Vec::new();
    for row in rows {
        let (id, body) = row.map_err(db_error)?;
        records.push(codec::decode(kind, &id, &body)?);
    }
    Ok(records)
}

fn to_i64(version: u64) -> Result<i64> {
    i64::try_from(version)
        .map_err(|_| RegistryError::Backend(format!("version {version} does not fit SQLite")))
}

/// Inside the write transaction: every application the tenant names exists
/// and allows its tier, as of this commit.
fn check_references(tx: &Connection, tenant: &Tenant) -> Result<()> {
    let mut apps = Vec::with_capacity(tenant.applications.len());
    for name in &tenant.applications {
        let app: Application = load_body(tx, RecordKind::Application, name)?
            .ok_or_else(|| codec::unknown_application(name))?;
        apps.push(app);
    }
    validate::tenant_references(tenant, &apps)
}

/// Replaces the tenant's membership rows with its current applications.
fn write_memberships(tx: &Connection, tenant: &Tenant) -> Result<()> {
    tx.execute(
        "DELETE FROM tenant_applications WHERE tenant = ?1",
        [&tenant.id],
    )
    .map_err(db_error)?;
    let mut insert = tx
        .prepare_cached("INSERT INTO tenant_applications (application, tenant) VALUES (?1, ?2)")
        .map_err(db_error)?;
    for app in &tenant.applications {
        insert.execute([app, &tenant.id]).map_err(db_error)?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl crate::Store for SqliteStore {
    async fn init(&self) -> Result<()> {
        self.with_conn(|conn| create_schema(conn).map_err(db_error))
            .await
    }

    async fn insert_application(&self, app: &Application) -> Result<()> {
        let body = codec::encode(RecordKind::Application, &app.name, app)?;
        let (name, version) = (app.name.clone(), to_i64(app.meta.version)?);
        self.write(move |tx| {
            if stored_version(tx, RecordKind::Application, &name)?.is_some() {
                return Err(already_exists(RecordKind::Application, &name));
            }
            tx.execute(
                "INSERT INTO applications (name, version, body) VALUES (?1, ?2, ?3)",
                params![name, version, body],
            )
            .map_err(db_error)?;
            Ok(())
        })
        .await
    }

    async fn replace_application(&self, app: &Application, expected_version: u64) -> Result<()> {
        let body = codec::encode(RecordKind::Application, &app.name, app)?;
        let (name, version) = (app.name.clone(), to_i64(app.meta.version)?);
        self.write(move |tx| {
            let found = stored_version(tx, RecordKind::Application, &name)?;
            check_version(
                RecordKind::Application,
                &name,
                found,
                Some(expected_version),
            )?;
            tx.execute(
                "UPDATE applications SET version = ?2, body = ?3 WHERE name = ?1",
                params![name, version, body],
            )
            .map_err(db_error)?;
            Ok(())
        })
        .await
    }

    async fn remove_application(&self, name: &str, expected_version: Option<u64>) -> Result<()> {
        let name = name.to_string();
        self.write(move |tx| {
            let found = stored_version(tx, RecordKind::Application, &name)?;
            check_version(RecordKind::Application, &name, found, expected_version)?;
            let count: i64 = tx
                .query_row(
                    "SELECT COUNT(*) FROM tenant_applications WHERE application = ?1",
                    [&name],
                    |row| row.get(0),
                )
                .map_err(db_error)?;
            if count > 0 {
                return Err(RegistryError::InUse {
                    application: name,
                    count: count as usize,
                });
            }
            tx.execute("DELETE FROM applications WHERE name = ?1", [&name])
                .map_err(db_error)?;
            Ok(())
        })
        .await
    }

    async fn get_application(&self, name: &str) -> Result<Option<Application>> {
        let name = name.to_string();
        self.with_conn(move |conn| load_body(conn, RecordKind::Application, &name))
            .await
    }

    async fn list_applications(&self) -> Result<Vec<Application>> {
        self.with_conn(|conn| {
            load_all(
                conn,
                RecordKind::Application,
                "SELECT name, body FROM applications ORDER BY name",
                [],
            )
        })
        .await
    }

    async fn insert_tenant(&self, tenant: &Tenant) -> Result<()> {
        let body = codec::encode(RecordKind::Tenant, &tenant.id, tenant)?;
        let (tenant, version) = (tenant.clone(), to_i64(tenant.meta.version)?);
        self.write(move |tx| {
            if stored_version(tx, RecordKind::Tenant, &tenant.id)?.is_some() {
                return Err(already_exists(RecordKind::Tenant, &tenant.id));
            }
            check_references(tx, &tenant)?;
            tx.execute(
                "INSERT INTO tenants (id, version, body) VALUES (?1, ?2, ?3)",
                params![tenant.id, version, body],
            )
            .map_err(db_error)?;
            write_memberships(tx, &tenant)
        })
        .await
    }

    async fn replace_tenant(&self, tenant: &Tenant, expected_version: u64) -> Result<()> {
        let body = codec::encode(RecordKind::Tenant, &tenant.id, tenant)?;
        let (tenant, version) = (tenant.clone(), to_i64(tenant.meta.version)?);
        self.write(move |tx| {
            let found = stored_version(tx, RecordKind::Tenant, &tenant.id)?;
            check_version(
                RecordKind::Tenant,
                &tenant.id,
                found,
                Some(expected_version),
            )?;
            check_references(tx, &tenant)?;
            tx.execute(
                "UPDATE tenants SET version = ?2, body = ?3 WHERE id = ?1",
                params![tenant.id, version, body],
            )
            .map_err(db_error)?;
            write_memberships(tx, &tenant)
        })
        .await
    }

    async fn remove_tenant(&self, id: &str, expected_version: Option<u64>) -> Result<()> {
        let id = id.to_string();
        self.write(move |tx| {
            let found = stored_version(tx, RecordKind::Tenant, &id)?;
            check_version(RecordKind::Tenant, &id, found, expected_version)?;
            tx.execute("DELETE FROM tenant_applications WHERE tenant = ?1", [&id])
                .map_err(db_error)?;
            tx.execute("DELETE FROM tenants WHERE id = ?1", [&id])
                .map_err(db_error)?;
            Ok(())
        })
        .await
    }

    async fn get_tenant(&self, id: &str) -> Result<Option<Tenant>> {
        let id = id.to_string();
        self.with_conn(move |conn| load_body(conn, RecordKind::Tenant, &id))
            .await
    }

    async fn list_tenants(&self, filter: &TenantFilter) -> Result<Vec<Tenant>> {
        let filter = filter.clone();
        self.with_conn(move |conn| {
            let tenants = match &filter.application {
                Some(app) => load_all(
                    conn,
                    RecordKind::Tenant,
                    "SELECT t.id, t.body FROM tenant_applications m JOIN tenants t ON t.id = m.tenant \
                     WHERE m.application = ?1 ORDER BY t.id",
                    [app],
                )?,
                None => load_all(conn, RecordKind::Tenant, "SELECT id, body FROM tenants ORDER BY id", [])?,
            };
            Ok(codec::finish_tenant_listing(tenants, &filter))
        })
        .await
    }
}
