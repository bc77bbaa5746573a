//! Benchmark helper for `scripts/bench registry` (and the seeding of the
//! `pipeline` part): not a test, nothing is asserted about time.
//!
//! ```text
//! bench_list seed URL APP N      # create APP and tenants t00000..t{N-1} (existing ones are kept;
//!                                # DynamoDB: bulk-loaded, see `bulk_load`)
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

use std::collections::{BTreeMap, HashMap};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use saas_registry::{
    Application, RecordMeta, Registry, RegistryError, RegistryLocation, StateConfig, Tenant,
    TenantFilter,
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
    if let RegistryLocation::Dynamodb { table, region } = RegistryLocation::parse(url)? {
        return bulk_load(&dynamodb_client(region).await, &table, app_name, n).await;
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

/// Tenant `i`, shaped like a real one: a few variables and labels.
fn bench_tenant(app: &str, i: usize) -> Tenant {
    let id = tenant_id(i);
    let mut tenant = Tenant::new(
        &id,
        format!("Tenant {id}"),
        format!("ops@{id}.example"),
        "basic",
    );
    tenant.applications.insert(app.to_string());
    tenant.variables = BTreeMap::from([
        ("replicas".to_string(), "2".into()),
        ("plan_message".to_string(), "bench".into()),
    ]);
    tenant.labels = BTreeMap::from([("wave".to_string(), format!("w{}", i % 4))]);
    tenant
}

async fn create_tenant(registry: &Registry, app: &str, i: usize) -> Result<(), RegistryError> {
    match registry.create_tenant(&bench_tenant(app, i)).await {
        Ok(_) | Err(RegistryError::AlreadyExists { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Loads the tenants into DynamoDB with BatchWriteItem: the same items a
/// registry write makes (`registry/src/dynamodb/items.rs`: the tenant item,
/// its membership item, the application's `tenant_count`). moto copies the
/// whole table on every TransactWriteItems, so 10,000 registry writes there
/// take about an hour; the listing being measured reads the same items.
async fn bulk_load(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    app: &str,
    n: usize,
) -> Result<(), BoxError> {
    let now =
        time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339)?;
    let mut requests = Vec::new();
    for i in 0..n {
        let mut tenant = bench_tenant(app, i);
        saas_registry::validate::tenant(&tenant)?;
        tenant.meta = RecordMeta {
            created_at: now.clone(),
            updated_at: now.clone(),
            version: 1,
        };
        let body = serde_json::to_string(&tenant)?;
        for pk in ["TENANT".to_string(), format!("APP#{app}")] {
            let item = HashMap::from([
                ("PK".to_string(), AttributeValue::S(pk)),
                ("SK".to_string(), AttributeValue::S(tenant.id.clone())),
                ("version".to_string(), AttributeValue::N("1".into())),
                ("body".to_string(), AttributeValue::S(body.clone())),
            ]);
            let put = PutRequest::builder().set_item(Some(item)).build()?;
            requests.push(WriteRequest::builder().put_request(put).build());
        }
    }
    for batch in requests.chunks(25) {
        let mut pending = Some(HashMap::from([(table.to_string(), batch.to_vec())]));
        while let Some(items) = pending.filter(|p| p.values().any(|v| !v.is_empty())) {
            let out = client
                .batch_write_item()
                .set_request_items(Some(items))
                .send()
                .await?;
            pending = out.unprocessed_items;
        }
    }
    client
        .update_item()
        .table_name(table)
        .key("PK", AttributeValue::S("APP".into()))
        .key("SK", AttributeValue::S(app.to_string()))
        .update_expression("SET tenant_count = :n")
        .expression_attribute_values(":n", AttributeValue::N(n.to_string()))
        .send()
        .await?;
    Ok(())
}

async fn dynamodb_client(region: Option<String>) -> aws_sdk_dynamodb::Client {
    let mut config = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(region) = region {
        config = config.region(aws_config::Region::new(region));
    }
    aws_sdk_dynamodb::Client::new(&config.load().await)
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
            RegistryLocation::Dynamodb { table, region } => Floor::Dynamodb {
                client: dynamodb_client(region).await,
                table,
            },
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
