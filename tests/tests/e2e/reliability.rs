//! The fault, concurrency and bad-input suite (issue 6): attacks saasctl,
//! the provider and the registry the way production will, against the real
//! terraform, moto and SQLite. Every scenario prints one summary line
//! (`reliability: <what was tried> => <what held>`); RELIABILITY.md lists them.

mod concurrent_fanout;
mod crash;
mod hostile;
mod outage;
mod registry_race;
mod secrets;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use saas_e2e::{moto_url, root, sqlite_url, unique_name};
use saas_registry::{Application, Registry, StateConfig};
use serde_json::Value;

/// Runs a future to completion on a private runtime (the tests are sync:
/// they mostly wait on child processes).
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// A SQLite registry in a temp dir (also saasctl's working directory, so
/// runs land in `<dir>/.saas/runs`), talking to one moto endpoint.
pub struct Fleet {
    dir: tempfile::TempDir,
    url: String,
    endpoint: String,
}

impl Fleet {
    /// A fleet on the shared moto.
    pub fn new() -> Fleet {
        Fleet::on(&moto_url())
    }

    /// A fleet on the moto at `endpoint`.
    pub fn on(endpoint: &str) -> Fleet {
        let dir = tempfile::tempdir().unwrap();
        let url = sqlite_url(dir.path());
        block_on(async { Registry::open(&url).await.unwrap().init().await.unwrap() });
        Fleet {
            dir,
            url,
            endpoint: endpoint.to_string(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The S3/DynamoDB endpoint this fleet's saasctl talks to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub fn registry(&self) -> Registry {
        block_on(Registry::open(&self.url)).unwrap()
    }

    /// An application with prefix isolation and a DynamoDB lock table, both
    /// uniquely named.
    pub fn add_app(&self, name: &str) -> Application {
        let state = StateConfig {
            bucket: Some(unique_name("rel-state")),
            lock_table: Some(unique_name("rel-lock")),
            ..Default::default()
        };
        block_on(
            self.registry()
                .create_application(&Application::new(name, state)),
        )
        .unwrap()
    }

    /// A tenant of `app` with `replicas` and the given secrets.
    pub fn add_tenant(&self, app: &str, id: &str, replicas: u32, secrets: &[(&str, &str)]) {
        let t = saas_e2e::tenant(app, id, &[("replicas", &replicas.to_string())], secrets);
        block_on(self.registry().create_tenant(&t)).unwrap();
    }

    /// Tenants `ids` of `app`, no secrets; the i-th has `1 + i % cycle` replicas.
    pub fn add_tenants(&self, app: &str, ids: &[String], cycle: u32) {
        for (i, id) in ids.iter().enumerate() {
            self.add_tenant(app, id, 1 + (i as u32 % cycle), &[]);
        }
    }

    pub fn runs_dir(&self) -> PathBuf {
        self.path().join(".saas/runs")
    }

    /// `saasctl --registry URL ARGS...` with terraform and this fleet's moto.
    pub fn saasctl(&self, args: &[&str]) -> Command {
        self.saasctl_on(&self.url, args)
    }

    /// `saasctl --registry REGISTRY ARGS...` in this fleet's directory.
    pub fn saasctl_on(&self, registry: &str, args: &[&str]) -> Command {
        saas_e2e::saasctl(self.path(), registry, &self.endpoint, args)
    }

    /// Runs saasctl and asserts its exit code.
    pub fn expect(&self, args: &[&str], code: i32) -> Output {
        let output = self.saasctl(args).output().unwrap();
        assert_eq!(
            output.status.code(),
            Some(code),
            "saasctl {args:?}\n{}",
            text(&output)
        );
        output
    }

    pub fn report(&self, run_id: &str) -> Value {
        let path = self.runs_dir().join(run_id).join("report.json");
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
    }

    pub fn bootstrap(&self, app: &str) {
        self.expect(
            &["backend", "bootstrap", "-a", app, "--encryption", "aes256"],
            0,
        );
    }
}

/// stdout and stderr together.
pub fn text(output: &Output) -> String {
    format!(
        "--- stdout\n{}--- stderr\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The example per-tenant stack.
pub fn stack() -> String {
    root().join("examples/tenant-stack").display().to_string()
}

/// `apply -a web -s STACK -j 2 --attempts ATTEMPTS --retry-delay RETRY_DELAY EXTRA...`
/// (the fan-out the crash, outage and concurrency scenarios run).
pub fn web_apply<'a>(
    stack: &'a str,
    attempts: &'a str,
    retry_delay: &'a str,
    extra: &[&'a str],
) -> Vec<&'a str> {
    let mut args = vec![
        "apply",
        "-a",
        "web",
        "-s",
        stack,
        "-j",
        "2",
        "--attempts",
        attempts,
        "--retry-delay",
        retry_delay,
    ];
    args.extend_from_slice(extra);
    args
}

/// Tenant id -> report entry.
pub fn tenants(report: &Value) -> std::collections::BTreeMap<String, Value> {
    report["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["tenant"].as_str().unwrap().to_string(), t.clone()))
        .collect()
}

/// An S3 client for the moto at `endpoint`.
pub async fn s3_at(endpoint: &str) -> aws_sdk_s3::Client {
    let base = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .load()
        .await;
    let config = aws_sdk_s3::config::Builder::from(&base)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// Every version of one state object, newest first, each parsed as
/// Terraform state (panics on one that is not): `(version id, state)`.
pub async fn state_versions(endpoint: &str, bucket: &str, key: &str) -> Vec<(String, Value)> {
    let s3 = s3_at(endpoint).await;
    let listing = s3
        .list_object_versions()
        .bucket(bucket)
        .prefix(key)
        .send()
        .await
        .unwrap();
    let mut versions = Vec::new();
    for v in listing.versions() {
        if v.key() != Some(key) {
            continue;
        }
        let id = v.version_id().unwrap().to_string();
        let object = s3
            .get_object()
            .bucket(bucket)
            .key(key)
            .version_id(&id)
            .send()
            .await
            .unwrap();
        let bytes = object.body.collect().await.unwrap().into_bytes();
        let state: Value = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!(
                "version {id} of s3://{bucket}/{key} is not JSON state ({e}): {} bytes",
                bytes.len()
            )
        });
        assert!(
            state["serial"].is_u64() && state["lineage"].is_string(),
            "version {id} of s3://{bucket}/{key} is not Terraform state: {state}"
        );
        versions.push((id, state));
    }
    versions
}

/// Asserts the versions (newest first) are one lineage with strictly
/// decreasing serials, i.e. no write was lost or reordered. Returns how many.
pub fn assert_serials(versions: &[(String, Value)], what: &str) -> usize {
    assert!(!versions.is_empty(), "{what}: no state versions");
    let lineage = &versions[0].1["lineage"];
    for pair in versions.windows(2) {
        let (newer, older) = (&pair[0].1, &pair[1].1);
        assert_eq!(&older["lineage"], lineage, "{what}: lineage changed");
        assert!(
            newer["serial"].as_u64() > older["serial"].as_u64(),
            "{what}: serials do not increase: {} after {}",
            newer["serial"],
            older["serial"]
        );
    }
    versions.len()
}

/// The number of `terraform_data.replica` instances in a state.
pub fn replicas_in(state: &Value) -> usize {
    state["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == "terraform_data" && r["name"] == "replica")
        .map_or(0, |r| r["instances"].as_array().unwrap().len())
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
