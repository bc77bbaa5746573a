//! Benchmark helper for `scripts/bench registry` (and the seeding of the
//! `pipeline` part): not a test, nothing is asserted about time.
//!
//! ```text
//! bench_list seed URL APP N      # create APP and tenants t00000..t{N-1} (existing ones are kept)
//! bench_list list URL APP ROUNDS # time Registry::list_tenants against the floor, interleaved
//! ```
//!
//! `list` prints one JSON object: the tenant count and, per round, the
//! milliseconds of the registry's listing and of the floors, measured side by
//! side (registry, floor, decoded floor, registry, ...) in this one process. The
//! floor reads the same rows without the registry: for SQLite the same
//! SELECT through rusqlite, for DynamoDB a plain aws-sdk Query loop over the
//! application's membership partition; and that floor again with the JSON
//! bodies decoded into `Tenant`s, the least any typed listing must do.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use aws_sdk_dynamodb::types::AttributeValue;
use saas_registry::{
    Application, Registry, RegistryError, RegistryLocation, StateConfig, Tenant, TenantFilter,
};
use tokio::task::JoinSet;

/// Tenant writes in flight while seeding: overlaps client round trips.
const SEED_CONCURRENCY: usize = 16;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["seed", url, app, n] => seed(url, app, parse(n, "N")).await,
        ["list", url, app, rounds] => list(url, app, parse(rounds, "ROUNDS")).await,
        _ => Err("usage: bench_list seed URL APP N | bench_list list URL APP ROUNDS".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_list: {e}");
            ExitCode::FAILURE
        }
    }
}

fn parse(value: &str, what: &str) -> usize {
    value.parse().unwrap_or_else(|_| {
        eprintln!("bench_list: {what} must be a number, got {value:?}");
        std::process::exit(2)
    })
}

/// The tenant id of seeded tenant `i`: ids sort in creation order.
fn tenant_id(i: usize) -> String {
    format!("t{i:05}")
}

async fn seed(url: &str, app_name: &str, n: usize) -> Result<(), BoxError> {
    let registry = Registry::open(url).await?;
    registry.init().await?;
    if registry.get_application(app_name).await?.is_none() {
        let state = StateConfig {
            bucket: Some(format!("{app_name}-bench-state")),
            lock_table: Some(format!("{app_name}-bench-locks")),
            ..StateConfig::default()
        };
        registry
            .create_application(&Application::new(app_name, state))
            .await?;
    }
    let registry = Arc::new(registry);
    let mut writes = JoinSet::new();
    for i in 0..n {
        if writes.len() >= SEED_CONCURRENCY {
            writes.join_next().await.expect("a write is in flight")??;
        }
        let (registry, app) = (Arc::clone(&registry), app_name.to_string());
        writes.spawn(async move { create_tenant(&registry, &app, i).await });
    }
    while let Some(done) = writes.join_next().await {
        done??;
    }
    Ok(())
}

/// A tenant shaped like a real one: a few variables and labels.
async fn create_tenant(registry: &Registry, app: &str, i: usize) -> Result<(), RegistryError> {
    let id = tenant_id(i);
    let mut tenant = Tenant::new(
        &id,
        format!("Tenant {id}"),
        format!("ops@{id}.example"),
        "basic",
    );
    tenant.applications.insert(app.to_string());
    tenant.variables = BTreeMap::from([
        ("replicas".to_string(), "2".to_string()),
        ("plan_message".to_string(), "bench".to_string()),
    ]);
    tenant.labels = BTreeMap::from([("wave".to_string(), format!("w{}", i % 4))]);
    match registry.create_tenant(&tenant).await {
        Ok(_) | Err(RegistryError::AlreadyExists { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

async fn list(url: &str, app: &str, rounds: usize) -> Result<(), BoxError> {
    let registry = Registry::open(url).await?;
    let floor = Floor::open(url).await?;
    let filter = TenantFilter::for_application(app);
    // Warm-up: connections, page cache and SQLite's statement cache.
    let tenants = registry.list_tenants(&filter).await?.len();
    let floor_rows = floor.read(app).await?.len();
    if floor_rows != tenants {
        return Err(
            format!("the floor read {floor_rows} rows, the registry {tenants} tenants").into(),
        );
    }
    let (mut registry_ms, mut floor_ms, mut decoded_ms) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let start = Instant::now();
        let listed = registry.list_tenants(&filter).await?.len();
        registry_ms.push(start.elapsed().as_secs_f64() * 1e3);
        let start = Instant::now();
        let read = floor.read(app).await?.len();
        floor_ms.push(start.elapsed().as_secs_f64() * 1e3);
        let start = Instant::now();
        let decoded = decode(floor.read(app).await?)?.len();
        decoded_ms.push(start.elapsed().as_secs_f64() * 1e3);
        if (listed, read, decoded) != (tenants, tenants, tenants) {
            return Err("the tenant count changed during the benchmark".into());
        }
    }
    let report = serde_json::json!({
        "backend": floor.name(),
        "tenants": tenants,
        "registry_ms": registry_ms,
        "floor_ms": floor_ms,
        "floor_decoded_ms": decoded_ms,
    });
    println!("{report}");
    Ok(())
}

/// The same rows, read without the registry.
enum Floor {
    Sqlite(rusqlite::Connection),
    Dynamodb {
        client: aws_sdk_dynamodb::Client,
        table: String,
    },
}

impl Floor {
    async fn open(url: &str) -> Result<Self, BoxError> {
        Ok(match RegistryLocation::parse(url)? {
            RegistryLocation::Sqlite { path } => Floor::Sqlite(rusqlite::Connection::open(path)?),
            RegistryLocation::Dynamodb { table, region } => {
                let mut config = aws_config::defaults(aws_config::BehaviorVersion::latest());
                if let Some(region) = region {
                    config = config.region(aws_config::Region::new(region));
                }
                let client = aws_sdk_dynamodb::Client::new(&config.load().await);
                Floor::Dynamodb { client, table }
            }
        })
    }

    fn name(&self) -> &'static str {
        match self {
            Floor::Sqlite(_) => "sqlite",
            Floor::Dynamodb { .. } => "dynamodb",
        }
    }

    /// The stored JSON body of every tenant of `app`.
    async fn read(&self, app: &str) -> Result<Vec<String>, BoxError> {
        match self {
            // The statement `SqliteStore::list_tenants` runs.
            Floor::Sqlite(conn) => {
                let mut stmt = conn.prepare_cached(
                    "SELECT t.id, t.body FROM tenant_applications m JOIN tenants t ON t.id = m.tenant \
                     WHERE m.application = ?1 ORDER BY t.id",
                )?;
                let rows = stmt.query_map([app], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
                })?;
                let mut bodies = Vec::new();
                for row in rows {
                    bodies.push(row?.1);
                }
                Ok(bodies)
            }
            // The membership partition `APP#<app>` of the single-table
            // layout (registry/src/dynamodb/items.rs), page by page.
            Floor::Dynamodb { client, table } => {
                let mut items = Vec::new();
                let mut start = None;
                loop {
                    let page = client
                        .query()
                        .table_name(table)
                        .key_condition_expression("#pk = :pk")
                        .expression_attribute_names("#pk", "PK")
                        .expression_attribute_values(":pk", AttributeValue::S(format!("APP#{app}")))
                        .consistent_read(true)
                        .set_exclusive_start_key(start)
                        .send()
                        .await?;
                    items.extend(page.items.unwrap_or_default());
                    match page.last_evaluated_key {
                        Some(key) if !key.is_empty() => start = Some(key),
                        _ => break,
                    }
                }
                items
                    .into_iter()
                    .map(|mut item| match item.remove("body") {
                        Some(AttributeValue::S(body)) => Ok(body),
                        _ => Err("a membership item without a string body".into()),
                    })
                    .collect()
            }
        }
    }
}

/// The floor plus decoding: what any typed listing has to do at least.
fn decode(bodies: Vec<String>) -> Result<Vec<Tenant>, BoxError> {
    Ok(bodies
        .iter()
        .map(|body| serde_json::from_str(body))
        .collect::<Result<_, _>>()?)
}
