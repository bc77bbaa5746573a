//! The race between two real processes (as two `terraform apply`s would
//! start): this test binary re-runs itself as the writers.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use saas_registry::dynamodb::{DynamoSettings, DynamoStore};
use saas_registry::{Registry, RegistryError};

use crate::fixture::Fixture;

/// Set in a writer process: what to write and how to meet the other writer.
const WORKER_ENV: &str = "SAAS_CONFORMANCE_RACE_WORKER";
const RESULT_PREFIX: &str = "race-result:";
const ROUNDS: u64 = 4;

/// Everything a writer process needs, passed as JSON in `WORKER_ENV`.
#[derive(serde::Serialize, serde::Deserialize)]
struct Job {
    url: String,
    /// DynamoDB: the endpoint the fixture's table lives at.
    endpoint: Option<String>,
    tenant: String,
    label: String,
    /// The writer announces it has read the tenant by creating `ready`,
    /// then writes once `go` exists.
    ready: PathBuf,
    go: PathBuf,
}

pub async fn race_between_processes(fx: &Fixture) {
    let setup = fx.open_with_acme().await;
    let dir = tempfile::tempdir().unwrap();
    for round in 0..ROUNDS {
        let go = dir.path().join(format!("go-{round}"));
        let mut writers = Vec::new();
        for n in 0..2 {
            let job = Job {
                url: fx.url().to_string(),
                endpoint: fx.endpoint().map(str::to_string),
                tenant: "acme".into(),
                label: format!("process-{n}-round-{round}"),
                ready: dir.path().join(format!("ready-{round}-{n}")),
                go: go.clone(),
            };
            writers.push((job.ready.clone(), spawn_writer(&job)));
        }
        for (ready, _) in &writers {
            wait_for(ready).await;
        }
        std::fs::write(&go, b"").unwrap();
        let mut outcomes = Vec::new();
        for (_, child) in writers {
            let out = child.wait_with_output().await.unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "writer failed: {stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let line = stdout
                .lines()
                .find_map(|l| l.split_once(RESULT_PREFIX).map(|(_, result)| result))
                .unwrap_or_else(|| panic!("writer printed no result: {stdout}"))
                .trim()
                .to_string();
            outcomes.push(line);
        }
        let winners: Vec<&String> = outcomes.iter().filter(|o| o.starts_with("won ")).collect();
        let conflicts = outcomes.iter().filter(|o| *o == "conflict").count();
        assert_eq!(
            (winners.len(), conflicts),
            (1, 1),
            "round {round}: {outcomes:?}"
        );
        let stored = setup.require_tenant("acme").await.unwrap();
        assert_eq!(stored.meta.version, round + 2, "round {round}");
        assert_eq!(
            winners[0].strip_prefix("won ").unwrap(),
            stored.variables["writer"],
            "round {round}: the winner's update is the one stored"
        );
    }
}

fn spawn_writer(job: &Job) -> tokio::process::Child {
    tokio::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "race_writer", "--ignored", "--nocapture"])
        .arg("--test-threads=1")
        .env(WORKER_ENV, serde_json::to_string(job).unwrap())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

/// Waits for another process to create `path` (bounded, so a dead peer
/// fails the test instead of hanging it).
async fn wait_for(path: &Path) {
    for _ in 0..6000 {
        if path.exists() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{} never appeared", path.display());
}

/// The writer process: read the tenant, meet the other writer, write.
pub async fn race_writer() {
    let job: Job = serde_json::from_str(
        &std::env::var(WORKER_ENV)
            .expect("race_writer runs only as a child of race_between_processes"),
    )
    .unwrap();
    let registry = match &job.endpoint {
        None => Registry::open(&job.url).await.unwrap(),
        Some(endpoint) => {
            let table = job.url["dynamodb://".len()..]
                .split('?')
                .next()
                .unwrap()
                .to_string();
            let store = DynamoStore::connect_with(DynamoSettings {
                table,
                region: Some("us-east-1".into()),
                endpoint: Some(endpoint.clone()),
            })
            .await
            .unwrap();
            Registry::with_store(std::sync::Arc::new(store), job.url.clone())
        }
    };
    let mut edit = registry.require_tenant(&job.tenant).await.unwrap();
    edit.variables
        .insert("writer".into(), job.label.clone().into());
    std::fs::write(&job.ready, b"").unwrap();
    wait_for(&job.go).await;
    match registry.update_tenant(&edit).await {
        Ok(_) => println!("{RESULT_PREFIX} won {}", job.label),
        Err(RegistryError::Conflict { .. }) => println!("{RESULT_PREFIX} conflict"),
        Err(e) => println!("{RESULT_PREFIX} error {e}"),
    }
}
