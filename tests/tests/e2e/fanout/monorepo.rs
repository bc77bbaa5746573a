//! The fixture platform repository (`testdata/platform-repo`): stacks that
//! use shared modules through `../../modules/...`, a committed lock file,
//! `terraform.tfvars` and `*.auto.tfvars`, typed variables. saasctl runs
//! them unchanged, tenant inputs win over the stack's tfvars, and nothing in
//! the repository is ever written.

use std::process::Command;

use saas_e2e::{root, state_object};
use saas_registry::Application;
use serde_json::{json, Value};

use super::{all, results, spawn_blocking, Fleet};

fn fixture() -> std::path::PathBuf {
    root().join("testdata/platform-repo")
}

/// A writable copy of the fixture repository (with a `.git`, so saasctl
/// takes it as the root): `(temp dir to keep alive, the repo in it)`.
pub(super) fn fixture_copy() -> (tempfile::TempDir, std::path::PathBuf) {
    let copy = tempfile::tempdir().unwrap();
    let repo = copy.path().join("repo");
    let status = Command::new("cp")
        .arg("-r")
        .arg(fixture())
        .arg(&repo)
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::create_dir(repo.join(".git")).unwrap();
    (copy, repo)
}

/// What git sees changed, untracked or ignored under the fixture: nothing.
fn assert_fixture_untouched() {
    let out = Command::new("git")
        .current_dir(root())
        .args([
            "status",
            "--porcelain",
            "--ignored",
            "--untracked-files=all",
            "--",
        ])
        .arg(fixture())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let status = String::from_utf8_lossy(&out.stdout);
    assert!(
        status.is_empty(),
        "the fixture repository was written:\n{status}"
    );
}

/// The `input` of resource `module.MODULE.terraform_data.NAME[index]` in a
/// tenant's state, read through the S3 API.
async fn input(app: &Application, tenant: &str, module: Option<&str>, name: &str) -> Vec<Value> {
    let backend = saas_registry::derive_backend(app, tenant).unwrap();
    let state = state_object(&backend.bucket, &backend.key).await;
    let module = module.map(|m| format!("module.{m}"));
    let resource = state["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name && r.get("module").and_then(Value::as_str) == module.as_deref())
        .unwrap_or_else(|| panic!("{tenant}: no {module:?}.{name} in {state}"));
    resource["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["attributes"]["input"]["value"].clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_monorepo_stack_runs_unchanged_with_its_modules_and_tfvars() {
    let fleet = Fleet::new().await;
    let portal = fleet.add_app_with_own_state("portal", "mono-portal").await;
    fleet
        .add_app_with_own_state("billing", "mono-billing")
        .await;
    // m1 has typed inputs; m2 is a record of the string-only release
    // ("1", "false"), which Terraform converts to the stack's types.
    let mut m1 = saas_e2e::tenant("portal", "m1", &[], &[]);
    m1.variables = [
        ("replicas", json!(2)),
        ("public", json!(true)),
        ("allowed_cidrs", json!(["10.1.0.0/16", "10.2.0.0/16"])),
        ("quota", json!({"cpu": 8, "memory": 16})),
        (
            "settings",
            json!({"plan": "premium", "seats": 50, "features": ["sso", "audit"]}),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    fleet.registry().await.create_tenant(&m1).await.unwrap();
    fleet
        .add_tenant("portal", "m2", 1, &[("public", "false")], &[])
        .await;
    let fleet = std::sync::Arc::new(fleet);
    let f = fleet.clone();
    spawn_blocking(move || {
        // The listing shows typed values as JSON values.
        let listed = f.expect(&["tenants", "-a", "portal", "-o", "json"], 0);
        let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
        assert_eq!(listed[0]["id"], "m1");
        assert_eq!(listed[0]["variables"]["replicas"], json!(2));
        assert_eq!(listed[0]["variables"]["allowed_cidrs"][1], "10.2.0.0/16");
        assert_eq!(listed[1]["variables"]["replicas"], json!("1"));
        f.bootstrap("portal");
        let stack = fixture().join("stacks/portal").display().to_string();
        f.expect(
            &["apply", "-a", "portal", "-s", &stack, "--run-id", "mono1"],
            0,
        );
        assert_fixture_untouched();
        // Applied: the second plan finds nothing to do.
        f.expect(
            &["plan", "-a", "portal", "-s", &stack, "--run-id", "mono2"],
            0,
        );
        assert_fixture_untouched();
    })
    .await
    .unwrap();
    assert_eq!(
        results(&fleet.report("mono1")),
        all(&["m1", "m2"], "applied")
    );

    // m2: defaults.auto.tfvars wins over terraform.tfvars.
    let ns = input(&portal, "m2", Some("namespace"), "namespace").await;
    assert_eq!(ns[0]["quota"], json!({"cpu": 4, "memory": 8}));
    assert_eq!(ns[0]["name"], "ns-m2");
    let net = input(&portal, "m2", Some("network"), "ingress").await;
    assert_eq!(net[0], json!({"cidrs": ["10.0.0.0/8"], "public": false}));
    let settings = input(&portal, "m2", None, "settings").await;
    assert_eq!(settings[0]["seats"], json!(10));
    assert_eq!(settings[0]["features"], json!(["sso"]));
    assert_eq!(input(&portal, "m2", None, "replica").await.len(), 1);
    // m1: its typed inputs win over both tfvars files, with their types.
    let ns = input(&portal, "m1", Some("namespace"), "namespace").await;
    assert_eq!(ns[0]["quota"], json!({"cpu": 8, "memory": 16}));
    let net = input(&portal, "m1", Some("network"), "ingress").await;
    assert_eq!(
        net[0],
        json!({"cidrs": ["10.1.0.0/16", "10.2.0.0/16"], "public": true})
    );
    let settings = input(&portal, "m1", None, "settings").await;
    assert_eq!(
        settings[0],
        json!({"tenant": "Tenant m1", "plan": "premium", "seats": 50, "features": ["sso", "audit"]})
    );
    assert_eq!(input(&portal, "m1", None, "replica").await.len(), 2);
}

/// A stack with no committed lock file gets one in the run only; a committed
/// lock file that the provider does not match fails the run with
/// Terraform's message and stays as it was.
#[tokio::test(flavor = "multi_thread")]
async fn a_committed_lock_file_is_used_read_only() {
    let fleet = Fleet::new().await;
    fleet
        .add_app_with_own_state("billing", "mono-billing")
        .await;
    fleet.add_tenant("billing", "b1", 1, &[], &[]).await;
    let fleet = std::sync::Arc::new(fleet);
    let f = fleet.clone();
    spawn_blocking(move || {
        f.bootstrap("billing");
        let stack = fixture().join("stacks/billing").display().to_string();
        f.expect(&["plan", "-a", "billing", "-s", &stack, "--run-id", "bl1"], 2);
        assert_fixture_untouched();

        // A copy of the repository whose billing stack locks another build of the provider.
        let (_copy, repo) = fixture_copy();
        let lock = repo.join("stacks/billing/.terraform.lock.hcl");
        let locked = "provider \"registry.terraform.io/saasctl/saas\" {\n  version     = \"0.1.0\"\n  constraints = \">= 0.1.0\"\n  hashes = [\n    \"h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\",\n  ]\n}\n";
        std::fs::write(&lock, locked).unwrap();
        let stack = repo.join("stacks/billing").display().to_string();
        let out = f.expect(&["plan", "-a", "billing", "-s", &stack, "--run-id", "bl2"], 1);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("checksum"), "{stderr}");
        assert_eq!(std::fs::read_to_string(&lock).unwrap(), locked);
        assert!(!repo.join("stacks/billing/.terraform").exists());
    })
    .await
    .unwrap();
}
