//! `saasctl plan|apply|drift|destroy` fanned out over tenants with the real
//! terraform, the built provider, the example stack and moto: state lands
//! at each tenant's derived bucket/key, saved plans are applied exactly,
//! failures stay with their tenant, the failure budget, `--resume` and
//! waves work, concurrency shows in the report's timestamps, the stack
//! directory is never written to and no secret reaches any file or output.

mod changed;
mod failures;
mod locks;
mod monorepo;
mod release_page;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use aws_sdk_dynamodb::types::AttributeValue;
use saas_e2e::{dynamodb_client, moto_url, root, run, sqlite_url, state_object, unique_name};
use saas_registry::{Application, Isolation, LockKind, Registry, StateConfig};
use serde_json::Value;

/// A registry in a temp dir, the runs directory beside it, and every
/// `saasctl` output seen (to check that no secret was printed).
struct Fleet {
    dir: tempfile::TempDir,
    url: String,
    printed: std::sync::Mutex<Vec<u8>>,
}

impl Fleet {
    async fn new() -> Fleet {
        let dir = tempfile::tempdir().unwrap();
        let url = sqlite_url(dir.path());
        Registry::open(&url).await.unwrap();
        Fleet {
            dir,
            url,
            printed: Default::default(),
        }
    }

    async fn registry(&self) -> Registry {
        Registry::open(&self.url).await.unwrap()
    }

    async fn add_app(&self, name: &str, state: StateConfig) -> Application {
        self.registry()
            .await
            .create_application(&Application::new(name, state))
            .await
            .unwrap()
    }

    /// An application with a bucket and lock table of its own (unique names,
    /// starting with `prefix`).
    async fn add_app_with_own_state(&self, name: &str, prefix: &str) -> Application {
        let state = StateConfig {
            bucket: Some(unique_name(prefix)),
            lock_table: Some(unique_name(&format!("{prefix}-lk"))),
            ..Default::default()
        };
        self.add_app(name, state).await
    }

    /// A tenant of `app` with `replicas` and extra variables.
    async fn add_tenant(
        &self,
        app: &str,
        id: &str,
        replicas: u32,
        vars: &[(&str, &str)],
        secrets: &[(&str, &str)],
    ) {
        let replicas = replicas.to_string();
        let vars: Vec<(&str, &str)> = [("replicas", replicas.as_str())]
            .into_iter()
            .chain(vars.iter().copied())
            .collect();
        let t = saas_e2e::tenant(app, id, &vars, secrets);
        self.registry().await.create_tenant(&t).await.unwrap();
    }

    async fn set_variable(&self, id: &str, key: &str, value: &str) {
        let registry = self.registry().await;
        let mut t = registry.require_tenant(id).await.unwrap();
        t.variables.insert(key.into(), value.into());
        registry.update_tenant(&t).await.unwrap();
    }

    fn runs_dir(&self) -> PathBuf {
        self.dir.path().join(".saas/runs")
    }

    /// `saasctl --registry URL ARGS...` with terraform and moto set up.
    fn saasctl(&self, args: &[&str]) -> Command {
        saas_e2e::saasctl(self.dir.path(), &self.url, &moto_url(), args)
    }

    /// Runs saasctl, expects `code`, and keeps what it printed.
    fn expect(&self, args: &[&str], code: i32) -> Output {
        let output = run(&mut self.saasctl(args));
        self.printed
            .lock()
            .unwrap()
            .extend_from_slice(&output.stdout);
        self.printed
            .lock()
            .unwrap()
            .extend_from_slice(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(code),
            "saasctl {args:?}\n--- stdout\n{}--- stderr\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    fn report(&self, run_id: &str) -> Value {
        let path = self.runs_dir().join(run_id).join("report.json");
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
    }

    fn bootstrap(&self, app: &str) {
        self.expect(
            &["backend", "bootstrap", "-a", app, "--encryption", "aes256"],
            0,
        );
    }
}

fn stack() -> PathBuf {
    root().join("examples/tenant-stack")
}

/// Every file under `dir` with its contents, to prove nothing was written.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    saas_e2e::files(dir)
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect()
}

fn tenants(report: &Value) -> BTreeMap<String, Value> {
    report["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["tenant"].as_str().unwrap().to_string(), t.clone()))
        .collect()
}

fn results(report: &Value) -> BTreeMap<String, String> {
    tenants(report)
        .into_iter()
        .map(|(id, t)| (id, t["result"].as_str().unwrap().to_string()))
        .collect()
}

fn all(ids: &[&str], result: &str) -> BTreeMap<String, String> {
    ids.iter()
        .map(|id| (id.to_string(), result.to_string()))
        .collect()
}

/// Each tenant's [start, finish] from the report, in start order.
fn intervals(report: &Value) -> Vec<(String, String)> {
    let mut spans: Vec<(String, String)> = tenants(report)
        .values()
        .filter(|t| t["started_at"].is_string())
        .map(|t| {
            (
                t["started_at"].as_str().unwrap().into(),
                t["finished_at"].as_str().unwrap().into(),
            )
        })
        .collect();
    spans.sort();
    spans
}

fn assert_no_secret(fleet: &Fleet, secret: &str) {
    let printed = fleet.printed.lock().unwrap();
    assert!(
        !contains(&printed, secret.as_bytes()),
        "a secret was printed by saasctl"
    );
    for (path, bytes) in snapshot(&fleet.runs_dir()) {
        assert!(
            !contains(&bytes, secret.as_bytes()),
            "secret found in {}",
            path.display()
        );
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

async fn assert_state(app: &Application, id: &str, replicas: u32) {
    let backend = saas_registry::derive_backend(app, id).unwrap();
    let state = state_object(&backend.bucket, &backend.key).await;
    let replica = state["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == "terraform_data" && r["name"] == "replica")
        .unwrap_or_else(|| panic!("no replicas in the state of {id}: {state}"));
    assert_eq!(
        replica["instances"].as_array().unwrap().len(),
        replicas as usize,
        "{id}"
    );
    let table = backend.lock_table.as_deref().unwrap();
    let digest = dynamodb_client()
        .await
        .get_item()
        .table_name(table)
        .key(
            "LockID",
            AttributeValue::S(format!("{}-md5", backend.lock_id())),
        )
        .send()
        .await
        .unwrap();
    assert!(
        digest.item().is_some(),
        "no lock digest item for {id} in {table}"
    );
}

fn spawn_blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> tokio::task::JoinHandle<T> {
    tokio::task::spawn_blocking(f)
}

#[tokio::test(flavor = "multi_thread")]
async fn fans_out_over_two_applications_in_both_isolation_modes() {
    let fleet = Fleet::new().await;
    let secret = format!("s3cr3t-{}", unique_name("tok"));
    let web = fleet
        .add_app(
            "web",
            StateConfig {
                bucket: Some(unique_name("fo-web")),
                lock_table: Some(unique_name("fo-web-lock")),
                ..Default::default()
            },
        )
        .await;
    let api = fleet
        .add_app(
            "api",
            StateConfig {
                isolation: Isolation::Bucket,
                bucket_prefix: Some(unique_name("fo-api")),
                lock: LockKind::Dynamodb,
                lock_table: Some(unique_name("fo-api-lock")),
                ..Default::default()
            },
        )
        .await;
    let replicas = [
        ("w1", 1),
        ("w2", 2),
        ("w3", 3),
        ("a1", 1),
        ("a2", 2),
        ("a3", 1),
    ];
    for (id, n) in replicas {
        let app = if id.starts_with('w') { "web" } else { "api" };
        let secrets: &[(&str, &str)] = if id == "w2" || id == "a3" {
            &[("api_token", &secret)]
        } else {
            &[]
        };
        fleet
            .add_tenant(app, id, n, &[("plan_message", "hello")], secrets)
            .await;
    }
    let before = snapshot(&stack());
    let s = stack().display().to_string();
    let fleet = std::sync::Arc::new(fleet);

    let f = fleet.clone();
    let s1 = s.clone();
    spawn_blocking(move || {
        f.bootstrap("web");
        f.bootstrap("api");
        // Plan web, keeping the plans.
        f.expect(
            &["plan", "-a", "web", "-s", &s1, "-j", "2", "--run-id", "p1"],
            2,
        );
    })
    .await
    .unwrap();
    let p1 = fleet.report("p1");
    assert_eq!(results(&p1), all(&["w1", "w2", "w3"], "changes"));
    for (id, t) in tenants(&p1) {
        let n = replicas.iter().find(|(r, _)| *r == id).unwrap().1;
        // One terraform_data per replica plus the tier resource.
        assert_eq!(t["counts"]["add"], n + 1, "{id}: {t}");
        let dir = fleet.runs_dir().join("p1").join(&id);
        let gitlab: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("tfplan.report.json")).unwrap())
                .unwrap();
        assert_eq!(
            gitlab,
            serde_json::json!({"create": n + 1, "update": 0, "delete": 0})
        );
        // One Terraform process per plan: plan.json only with --plan-json.
        assert!(dir.join("plan.tfplan").is_file() && !dir.join("plan.json").exists());
        let changed = t["changed"].as_array().unwrap();
        assert_eq!(changed.len(), n as usize + 1, "{id}: {t}");
        assert!(
            changed.iter().any(|a| a == "terraform_data.replica[0]"),
            "{t}"
        );
        let vars: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("tenant.tfvars.json")).unwrap())
                .unwrap();
        assert_eq!(vars["tenant_id"], id.as_str());
        assert_eq!(vars["replicas"], n.to_string());
    }
    let junit = std::fs::read_to_string(fleet.runs_dir().join("p1/junit.xml")).unwrap();
    assert_eq!(junit.matches("<testcase").count(), 3, "{junit}");

    // Like a fresh CI job that only has the plan run's artifacts: no stack
    // copy, provider install or Terraform data dirs.
    let p1_dir = fleet.runs_dir().join("p1");
    for dir in [
        ".stack",
        ".init",
        ".plugin-cache",
        "w1/.terraform",
        "w2/.terraform",
        "w3/.terraform",
    ] {
        std::fs::remove_dir_all(p1_dir.join(dir)).unwrap();
    }

    let f = fleet.clone();
    let s1 = s.clone();
    spawn_blocking(move || {
        // Apply exactly the saved plans, then nothing is left to plan.
        f.expect(
            &[
                "apply",
                "-a",
                "web",
                "-s",
                &s1,
                "-j",
                "2",
                "--from-run",
                "p1",
                "--run-id",
                "a1",
            ],
            0,
        );
        f.expect(
            &["plan", "-a", "web", "-s", &s1, "-j", "2", "--run-id", "p2"],
            0,
        );
        // --new: a1 has no state yet; after the apply no api tenant is new.
        f.expect(
            &[
                "plan", "-a", "api", "-s", &s1, "--new", "-t", "a1", "--run-id", "n0",
            ],
            2,
        );
        // api: plan and apply in one go; then an empty plan, as JSON.
        f.expect(
            &["apply", "-a", "api", "-s", &s1, "-j", "2", "--run-id", "a2"],
            0,
        );
        f.expect(
            &["plan", "-a", "api", "-s", &s1, "--new", "--run-id", "n1"],
            0,
        );
        let out = f.expect(
            &[
                "plan", "-a", "api", "-s", &s1, "-j", "2", "--run-id", "p3", "-o", "json",
            ],
            0,
        );
        let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(printed["run_id"], "p3");
        f.expect(&["drift", "-a", "web", "-s", &s1, "--run-id", "d1"], 0);
    })
    .await
    .unwrap();
    let a1 = fleet.report("a1");
    assert_eq!(a1["from_run"], "p1");
    assert_eq!(results(&a1), all(&["w1", "w2", "w3"], "applied"));
    assert_eq!(
        results(&fleet.report("p2")),
        all(&["w1", "w2", "w3"], "no-changes")
    );
    assert_eq!(results(&fleet.report("n0")), all(&["a1"], "changes"));
    assert_eq!(results(&fleet.report("n1")), BTreeMap::new());
    assert_eq!(
        results(&fleet.report("a2")),
        all(&["a1", "a2", "a3"], "applied")
    );
    assert_eq!(
        results(&fleet.report("p3")),
        all(&["a1", "a2", "a3"], "no-changes")
    );
    assert_eq!(
        results(&fleet.report("d1")),
        all(&["w1", "w2", "w3"], "in-sync")
    );
    for (id, n) in replicas {
        let app = if id.starts_with('w') { &web } else { &api };
        assert_state(app, id, n).await;
    }

    // A saved plan goes stale when the state moves after it: w3 is planned
    // with one replica, applied directly, and its saved plan then fails
    // clearly while w2's (empty) plan still applies.
    fleet.set_variable("w3", "replicas", "1").await;
    let f = fleet.clone();
    let s1 = s.clone();
    spawn_blocking(move || {
        f.expect(
            &[
                "plan", "-a", "web", "-s", &s1, "-t", "w2", "-t", "w3", "--run-id", "p4",
            ],
            2,
        );
        f.expect(
            &[
                "apply", "-a", "web", "-s", &s1, "-t", "w3", "--run-id", "a3",
            ],
            0,
        );
        f.expect(
            &[
                "apply",
                "-a",
                "web",
                "-s",
                &s1,
                "--from-run",
                "p4",
                "--run-id",
                "a4",
            ],
            1,
        );
    })
    .await
    .unwrap();
    let a3 = tenants(&fleet.report("a3"));
    assert_eq!(a3["w3"]["counts"]["destroy"], 2, "{}", a3["w3"]);
    let a4 = tenants(&fleet.report("a4"));
    assert_eq!(a4.keys().collect::<Vec<_>>(), ["w2", "w3"]);
    assert_eq!(a4["w2"]["result"], "no-changes");
    assert_eq!(a4["w3"]["result"], "failed");
    let error = a4["w3"]["error"].as_str().unwrap();
    assert!(error.contains("saved plan of run p4 is stale"), "{error}");
    assert_state(&web, "w3", 1).await;

    // Offboarding w1: destroy picks offboarding tenants only.
    let registry = fleet.registry().await;
    let mut w1 = registry.require_tenant("w1").await.unwrap();
    w1.status = saas_registry::TenantStatus::Offboarding;
    registry.update_tenant(&w1).await.unwrap();
    let f = fleet.clone();
    let s1 = s.clone();
    let runs = spawn_blocking(move || {
        f.expect(&["destroy", "-a", "web", "-s", &s1, "--run-id", "x1"], 0);
        f.expect(&["runs", "-o", "json"], 0)
    })
    .await
    .unwrap();
    assert_eq!(results(&fleet.report("x1")), all(&["w1"], "destroyed"));
    let backend = saas_registry::derive_backend(&web, "w1").unwrap();
    let state = state_object(&backend.bucket, &backend.key).await;
    assert_eq!(state["resources"], serde_json::json!([]), "{state}");

    let listed: Value = serde_json::from_slice(&runs.stdout).unwrap();
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["p1", "a1", "p2", "n0", "a2", "n1", "p3", "d1", "p4", "a3", "a4", "x1"]
    );

    assert_eq!(
        snapshot(&stack()),
        before,
        "the stack directory was written to"
    );
    assert_no_secret(&fleet, &secret);
    // The saved plan itself holds no secret either (the stack declares it ephemeral).
    let a1_dir = fleet.runs_dir().join("a1");
    let show = run(saas_e2e::terraform(&a1_dir.join(".stack"))
        .env("TF_DATA_DIR", a1_dir.join("w2/.terraform"))
        .args(["show", "-json", "-no-color"])
        .arg(p1_dir.join("w2/plan.tfplan")));
    assert!(
        show.status.success(),
        "{}",
        String::from_utf8_lossy(&show.stderr)
    );
    assert!(
        !contains(&show.stdout, secret.as_bytes()),
        "the saved plan holds the secret"
    );
}
