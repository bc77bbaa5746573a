//! The fixture platform repository through the example parent pipeline:
//! the child pipeline's jobs run `stacks/portal` with its shared modules,
//! lock file and tfvars, tenants' typed inputs reach their state, and the
//! repository's files stay as committed.

use std::process::Command;

use serde_json::{json, Value};

use super::{copy_dir, Jobs, StackRepo};
use saas_e2e::{root, state_object};

#[tokio::test]
async fn the_child_pipeline_runs_a_monorepo_stack_with_typed_inputs() {
    let fixture = root().join("testdata/platform-repo");
    let repo = StackRepo::with_layout(|dir| copy_dir(&fixture, dir)).await;
    let mut typed = saas_e2e::tenant(&repo.app.name, "g1", &[], &[]);
    typed.variables = [
        ("replicas".to_string(), json!(2)),
        ("allowed_cidrs".to_string(), json!(["10.9.0.0/16"])),
        ("quota".to_string(), json!({"cpu": 16, "memory": 32})),
    ]
    .into();
    repo.create_tenant(&typed).await;
    repo.add_tenant("g2", &[("replicas", "1")]).await;

    let output = repo.pipeline(&[("SAAS_APPLY", "auto"), ("SAAS_STACK", "stacks/portal")]);
    let jobs = Jobs::of(&output);
    for tenant in ["g1", "g2"] {
        jobs.assert(&format!("plan:{tenant}"), "PASS");
        jobs.assert(&format!("apply:{tenant}"), "PASS");
    }

    let backend = saas_registry::derive_backend(&repo.app, "g1").unwrap();
    let state = state_object(&backend.bucket, &backend.key).await;
    let input = |module: &str, name: &str| -> Value {
        state["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["module"] == module && r["name"] == name)
            .map(|r| r["instances"][0]["attributes"]["input"]["value"].clone())
            .unwrap_or_else(|| panic!("no {module}.{name} in {state}"))
    };
    assert_eq!(
        input("module.network", "ingress")["cidrs"],
        json!(["10.9.0.0/16"])
    );
    assert_eq!(
        input("module.namespace", "namespace")["quota"],
        json!({"cpu": 16, "memory": 32})
    );

    // The jobs wrote nothing into the repository's stacks and modules.
    let status = Command::new("git")
        .args([
            "status",
            "--porcelain",
            "--ignored",
            "--",
            "stacks",
            "modules",
        ])
        .current_dir(repo.repo.path())
        .output()
        .unwrap();
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(
        status.is_empty(),
        "the jobs wrote into the repository:\n{status}"
    );
}
