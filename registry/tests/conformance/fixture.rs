//! One registry per test, on either backend: a SQLite file in a temp dir, or
//! a fresh table on the moto DynamoDB endpoint that scripts/test starts.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use saas_registry::dynamodb::{DynamoSettings, DynamoStore};
use saas_registry::{Application, Registry, RegistryError, StateConfig, Tenant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Dynamodb,
}

pub struct Fixture {
    url: String,
    /// DynamoDB only: table, endpoint and a raw client for checks below the
    /// `Store` API (page sizes) and for dropping the table afterwards.
    dynamo: Option<(DynamoSettings, aws_sdk_dynamodb::Client)>,
    _dir: Option<tempfile::TempDir>,
}

/// The moto endpoint, or a failure telling how to get one: a DynamoDB test
/// that cannot reach its backend must not pass.
pub fn moto_endpoint() -> String {
    ["SAAS_MOTO_URL", "AWS_ENDPOINT_URL_DYNAMODB"]
        .iter()
        .find_map(|var| std::env::var(var).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| {
            panic!(
                "the DynamoDB conformance tests need moto: run them via scripts/test \
                 (it starts moto and exports SAAS_MOTO_URL and test credentials), \
                 or start moto_server and set SAAS_MOTO_URL yourself"
            )
        })
}

/// A name no other test (or earlier run against the same moto) uses.
pub fn unique_name(test: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        "conformance-{}-{}-{nanos}-{n}",
        test.replace('_', "-"),
        std::process::id()
    )
}

pub async fn raw_client(endpoint: &str) -> aws_sdk_dynamodb::Client {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .load()
        .await;
    aws_sdk_dynamodb::Client::new(&sdk)
}

impl Fixture {
    pub async fn new(backend: Backend, test: &str) -> Fixture {
        let fixture = match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join("nested").join("registry.db");
                Fixture {
                    url: format!("sqlite://{}", path.display()),
                    dynamo: None,
                    _dir: Some(dir),
                }
            }
            Backend::Dynamodb => {
                let endpoint = moto_endpoint();
                let settings = DynamoSettings {
                    table: unique_name(test),
                    region: Some("us-east-1".into()),
                    endpoint: Some(endpoint.clone()),
                };
                let url = format!("dynamodb://{}?region=us-east-1", settings.table);
                Fixture {
                    url,
                    dynamo: Some((settings, raw_client(&endpoint).await)),
                    _dir: None,
                }
            }
        };
        fixture.open().await.init().await.unwrap();
        fixture
    }

    /// A registry with its own connection/client: two of these behave like
    /// two processes sharing the backend.
    pub async fn open(&self) -> Registry {
        match &self.dynamo {
            None => Registry::open(&self.url).await.unwrap(),
            Some((settings, _)) => {
                let store = DynamoStore::connect_with(settings.clone()).await.unwrap();
                Registry::with_store(Arc::new(store), self.url.clone())
            }
        }
    }

    /// `open()` after creating application `shop` and the basic tenant
    /// `acme` in it (the starting point of the race tests).
    pub async fn open_with_acme(&self) -> Registry {
        let setup = self.open().await;
        setup.create_application(&app("shop")).await.unwrap();
        setup
            .create_tenant(&tenant("acme", "basic", &["shop"]))
            .await
            .unwrap();
        setup
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// DynamoDB only: the endpoint the table lives at.
    pub fn endpoint(&self) -> Option<&str> {
        self.dynamo
            .as_ref()
            .and_then(|(s, _)| s.endpoint.as_deref())
    }

    /// DynamoDB only: whether the first Query page of partition `pk` stops
    /// short (has a `LastEvaluatedKey`), i.e. a listing must page.
    pub async fn first_page_is_partial(&self, pk: &str) -> Option<bool> {
        let (settings, client) = self.dynamo.as_ref()?;
        let page = client
            .query()
            .table_name(&settings.table)
            .key_condition_expression("PK = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(pk.into()))
            .send()
            .await
            .unwrap();
        Some(page.last_evaluated_key().is_some_and(|k| !k.is_empty()))
    }

    pub async fn cleanup(self) {
        if let Some((settings, client)) = &self.dynamo {
            client
                .delete_table()
                .table_name(&settings.table)
                .send()
                .await
                .unwrap();
        }
    }
}

pub fn app(name: &str) -> Application {
    let mut app = Application::new(
        name,
        StateConfig {
            bucket: Some(format!("{name}-tfstate")),
            lock_table: Some(format!("{name}-locks")),
            ..StateConfig::default()
        },
    );
    app.description = format!("the {name} stack");
    app
}

pub fn tenant(id: &str, tier: &str, apps: &[&str]) -> Tenant {
    let mut tenant = Tenant::new(
        id,
        format!("Tenant {id}"),
        format!("ops@{id}.example"),
        tier,
    );
    tenant.applications = apps.iter().map(|a| a.to_string()).collect();
    tenant
}

pub fn ids(tenants: &[Tenant]) -> Vec<&str> {
    tenants.iter().map(|t| t.id.as_str()).collect()
}

pub fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Asserts `result` failed with `Invalid` on `field`.
#[track_caller]
pub fn assert_invalid<T: std::fmt::Debug>(result: Result<T, RegistryError>, field: &str) {
    match result {
        Err(RegistryError::Invalid { field: f, .. }) if f == field => {}
        other => panic!("expected Invalid on {field:?}, got {other:?}"),
    }
}

pub fn parse_time(rfc3339: &str) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("{rfc3339:?} is not RFC 3339: {e}"))
}
