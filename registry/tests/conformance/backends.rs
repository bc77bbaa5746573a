//! What only one backend has: SQLite's file handling, DynamoDB's endpoint,
//! table and connection errors.

use saas_registry::dynamodb::{DynamoSettings, DynamoStore};
use saas_registry::sqlite::SqliteStore;
use saas_registry::{Registry, RegistryError, Store};

use crate::fixture::{app, moto_endpoint, unique_name};

#[test]
fn sqlite_open_creates_directories_schema_and_wal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a").join("b").join("registry.db");
    SqliteStore::open(&path).unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(tables, ["applications", "tenant_applications", "tenants"]);
    // Opening again (as every provider process does) keeps what is there.
    SqliteStore::open(&path).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_many_first_opens_of_one_new_file_all_succeed() {
    const OPENERS: usize = 8;
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}",
        dir.path().join("new").join("registry.db").display()
    );
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(OPENERS));
    let openers: Vec<_> = (0..OPENERS)
        .map(|n| {
            let (url, barrier) = (url.clone(), std::sync::Arc::clone(&barrier));
            tokio::spawn(async move {
                tokio::task::spawn_blocking(move || barrier.wait())
                    .await
                    .unwrap();
                let reg = Registry::open(&url).await.unwrap();
                reg.create_application(&app(&format!("app-{n}")))
                    .await
                    .unwrap();
            })
        })
        .collect();
    for opener in openers {
        opener.await.unwrap();
    }
    let apps = Registry::open(&url)
        .await
        .unwrap()
        .list_applications()
        .await
        .unwrap();
    assert_eq!(apps.len(), OPENERS);
}

#[test]
fn sqlite_open_on_a_directory_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    match SqliteStore::open(dir.path()) {
        Err(RegistryError::Backend(message)) => {
            assert!(
                message.contains(&dir.path().display().to_string()),
                "{message}"
            )
        }
        other => panic!("expected a Backend error naming the path, got {other:?}"),
    }
}

#[tokio::test]
async fn sqlite_corrupt_record_names_the_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.db");
    let reg = Registry::open(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    reg.create_application(&app("shop")).await.unwrap();
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute(
            "UPDATE applications SET body = '{not json' WHERE name = 'shop'",
            [],
        )
        .unwrap();
    match reg.get_application("shop").await {
        Err(RegistryError::Backend(message)) => assert!(message.contains("\"shop\""), "{message}"),
        other => panic!("expected a Backend error, got {other:?}"),
    }
}

#[tokio::test]
async fn dynamodb_connect_does_no_io_and_unreachable_endpoint_is_unavailable() {
    // Port 9 (discard) on loopback: nothing listens there.
    let endpoint = "http://127.0.0.1:9".to_string();
    let store = DynamoStore::connect_with(DynamoSettings {
        table: "registry".into(),
        region: Some("us-east-1".into()),
        endpoint: Some(endpoint.clone()),
    })
    .await
    .expect("connect builds a client without touching the network");
    match store.list_applications().await {
        Err(RegistryError::Unavailable(message)) => {
            assert!(message.contains(&endpoint), "{message}")
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn dynamodb_missing_table_says_to_run_init() {
    let store = DynamoStore::connect_with(DynamoSettings {
        table: unique_name("missing"),
        region: Some("us-east-1".into()),
        endpoint: Some(moto_endpoint()),
    })
    .await
    .unwrap();
    for result in [
        store.get_application("shop").await.map(drop),
        store.insert_application(&app("shop")).await,
    ] {
        match result {
            Err(RegistryError::Backend(message)) => {
                assert!(message.contains("saasctl registry init"), "{message}");
                assert!(message.contains(store.table()), "{message}");
            }
            other => panic!("expected a Backend error telling to run init, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn dynamodb_init_is_idempotent_and_keeps_data() {
    let settings = DynamoSettings {
        table: unique_name("init"),
        region: Some("us-east-1".into()),
        endpoint: Some(moto_endpoint()),
    };
    let store = DynamoStore::connect_with(settings.clone()).await.unwrap();
    store.init().await.unwrap();
    let reg = Registry::with_store(std::sync::Arc::new(store), "dynamodb://init");
    let shop = reg.create_application(&app("shop")).await.unwrap();
    reg.init().await.unwrap();
    assert_eq!(reg.get_application("shop").await.unwrap(), Some(shop));
    crate::fixture::raw_client(settings.endpoint.as_deref().unwrap())
        .await
        .delete_table()
        .table_name(&settings.table)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn dynamodb_rejects_a_bad_table_name_before_any_request() {
    let result = DynamoStore::connect("no spaces allowed", None).await;
    assert!(
        matches!(result, Err(RegistryError::Invalid { ref field, .. }) if field == "registry"),
        "{result:?}"
    );
}
