//! `--changed` on a copy of the fixture platform repository: after an
//! apply, a plan skips every tenant; each kind of input change marks
//! exactly the tenants it affects; stack, module and lock-file edits mark
//! all; a failed apply records nothing; `drift --changed` is refused.

use std::path::Path;

use saas_registry::Application;
use serde_json::{json, Value};

use super::{results, spawn_blocking, Fleet};

const TENANTS: [&str; 4] = ["c1", "c2", "c3", "c4"];

/// The tenants that `--changed` did not skip in run `run`.
fn planned(fleet: &Fleet, run: &str) -> Vec<String> {
    results(&fleet.report(run))
        .into_iter()
        .filter(|(_, result)| result != "unchanged")
        .map(|(id, _)| id)
        .collect()
}

fn plan_changed(fleet: &Fleet, stack: &str, run: &str, code: i32) -> Vec<String> {
    run_changed(fleet, "plan", stack, run, code)
}

/// `saasctl VERB --changed` over the portal stack; the tenants it ran.
fn run_changed(fleet: &Fleet, verb: &str, stack: &str, run: &str, code: i32) -> Vec<String> {
    let args = [
        verb,
        "-a",
        "portal",
        "-s",
        stack,
        "--changed",
        "--run-id",
        run,
    ];
    fleet.expect(&args, code);
    planned(fleet, run)
}

fn append(path: &Path, text: &str) -> String {
    let before = std::fs::read_to_string(path).unwrap();
    std::fs::write(path, format!("{before}{text}")).unwrap();
    before
}

async fn record(app: &Application, tenant: &str) -> Option<Value> {
    let backend = saas_registry::derive_backend(app, tenant).unwrap();
    let key = format!("{}.saasctl.json", backend.key);
    let got = saas_e2e::s3_client()
        .await
        .get_object()
        .bucket(&backend.bucket)
        .key(&key)
        .send()
        .await;
    let body = got.ok()?.body.collect().await.unwrap().into_bytes();
    Some(serde_json::from_slice(&body).unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn changed_skips_exactly_the_tenants_nothing_changed_for() {
    let fleet = Fleet::new().await;
    let portal = fleet.add_app_with_own_state("portal", "chg-portal").await;
    for id in TENANTS {
        fleet
            .add_tenant("portal", id, 1, &[], &[("api_token", "tok-old")])
            .await;
    }
    let (_copy, repo) = super::monorepo::fixture_copy();
    let stack_dir = repo.join("stacks/portal");
    let stack = stack_dir.display().to_string();

    let fleet = std::sync::Arc::new(fleet);
    let (f, s) = (fleet.clone(), stack.clone());
    spawn_blocking(move || {
        f.bootstrap("portal");
        // No records yet: everything is planned and applied, and recorded.
        assert_eq!(run_changed(&f, "apply", &s, "a1", 0), TENANTS);
        // Nothing changed: nothing is planned; exit 0; JUnit still has every tenant.
        assert!(plan_changed(&f, &s, "p1", 0).is_empty());
        let report = f.report("p1");
        assert_eq!(report["tenants"][0]["last_applied_run"], "a1");
        let junit = std::fs::read_to_string(f.runs_dir().join("p1/junit.xml")).unwrap();
        assert_eq!(junit.matches("<testcase").count(), 4, "{junit}");
        assert!(junit.contains("unchanged since run a1"), "{junit}");
        // drift never skips.
        f.expect(&["drift", "-a", "portal", "-s", &s, "--changed"], 64);
    })
    .await
    .unwrap();
    assert_eq!(record(&portal, "c1").await.unwrap()["run_id"], "a1");

    // One kind of input change per tenant: a list variable, a secret, the tier.
    let registry = fleet.registry().await;
    let mut c1 = registry.require_tenant("c1").await.unwrap();
    c1.variables
        .insert("allowed_cidrs".into(), json!(["10.9.0.0/16"]));
    registry.update_tenant(&c1).await.unwrap();
    let mut c2 = registry.require_tenant("c2").await.unwrap();
    c2.sensitive_variables
        .insert("api_token".into(), "tok-new".into());
    registry.update_tenant(&c2).await.unwrap();
    let mut c3 = registry.require_tenant("c3").await.unwrap();
    c3.tier = "premium".into();
    registry.update_tenant(&c3).await.unwrap();

    let (f, s) = (fleet.clone(), stack.clone());
    spawn_blocking(move || {
        assert_eq!(plan_changed(&f, &s, "p2", 2), ["c1", "c2", "c3"]);
        // The GitLab generator keeps only the changed tenants' jobs.
        let args = [
            "pipeline",
            "gitlab",
            "-a",
            "portal",
            "-s",
            &s,
            "--changed",
            "-o",
            "child.yml",
        ];
        f.expect(&args, 0);
        let child = std::fs::read_to_string(f.runs_dir().join("../../child.yml")).unwrap();
        for id in ["c1", "c2", "c3"] {
            assert!(child.contains(&format!("plan:{id}")), "{id}: {child}");
        }
        assert!(!child.contains("plan:c4"), "{child}");
        // The full plan JSON only on demand, redacted, from the saved plan.
        for _ in 0..2 {
            let out = f.expect(&["runs", "show", "p2", "--plan-json", "c1"], 0);
            let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
            assert!(plan["resource_changes"]
                .as_array()
                .is_some_and(|c| !c.is_empty()));
        }
        f.expect(&["runs", "show", "p2", "--plan-json", "c4"], 66);
        // A module file, the lock file, the stack itself: every tenant.
        for (n, file) in [
            repo.join("modules/network/main.tf"),
            stack_dir.join(".terraform.lock.hcl"),
            stack_dir.join("main.tf"),
        ]
        .iter()
        .enumerate()
        {
            let before = append(file, "\n# an edit\n");
            assert_eq!(
                plan_changed(&f, &s, &format!("e{n}"), 2),
                TENANTS,
                "{file:?}"
            );
            std::fs::write(file, before).unwrap();
        }
        // Reverted: only the three changed tenants again.
        assert_eq!(plan_changed(&f, &s, "p3", 2), ["c1", "c2", "c3"]);
    })
    .await
    .unwrap();

    // A failed apply records nothing, and clears the old record first.
    let mut c4 = registry.require_tenant("c4").await.unwrap();
    c4.variables.insert("replicas".into(), json!("many"));
    registry.update_tenant(&c4).await.unwrap();
    let (f, s) = (fleet.clone(), stack.clone());
    spawn_blocking(move || {
        run_changed(&f, "apply", &s, "a2", 1);
        let results = results(&f.report("a2"));
        assert_eq!(results["c4"], "failed");
        assert_eq!(results["c1"], "applied");
    })
    .await
    .unwrap();
    assert!(record(&portal, "c4").await.is_none());
    assert_eq!(record(&portal, "c1").await.unwrap()["run_id"], "a2");
    let (f, s) = (fleet.clone(), stack.clone());
    spawn_blocking(move || assert_eq!(plan_changed(&f, &s, "p4", 1), ["c4"]))
        .await
        .unwrap();
}
