//! Held state locks: retried with backoff, reported with the holder, and
//! released by `saasctl unlock` only when the holder is known to be gone.

use aws_sdk_dynamodb::types::AttributeValue;
use saas_e2e::dynamodb_client;

use super::{all, results, spawn_blocking, stack, tenants, Fleet};

/// A lock that stays held is retried, then reported with its holder;
/// `saasctl unlock` refuses a holder on another host unless `--force`.
#[tokio::test(flavor = "multi_thread")]
async fn a_held_lock_is_retried_reported_and_released() {
    let fleet = Fleet::new().await;
    let app = fleet.add_app_with_own_state("web", "fo-lock").await;
    fleet.add_tenant("web", "c1", 1, &[], &[]).await;
    let fleet = std::sync::Arc::new(fleet);
    let f = fleet.clone();
    spawn_blocking(move || f.bootstrap("web")).await.unwrap();

    let lock_id = "0d7f0c3e-1b2a-4c5d-8e9f-a0b1c2d3e4f5";
    leave_lock(&app, "c1", lock_id, "deployer@build-host-elsewhere").await;

    let s = stack().display().to_string();
    let f = fleet.clone();
    let s1 = s.clone();
    let refused = spawn_blocking(move || {
        f.expect(&plan_with_two_attempts(&s1, "l1"), 1);
        f.expect(&["unlock", "-a", "web", "-t", "c1", "-s", &s1], 64)
    })
    .await
    .unwrap();
    let c1 = &tenants(&fleet.report("l1"))["c1"];
    assert_eq!(c1["result"], "failed");
    // Two plan attempts; its init came from the run's one install.
    assert_eq!(c1["attempts"], 2, "{c1}");
    assert_eq!(c1["lock"]["id"], lock_id);
    assert_eq!(c1["lock"]["who"], "deployer@build-host-elsewhere");
    assert!(
        c1["lock"]["created"]
            .as_str()
            .unwrap()
            .starts_with("2026-11-21"),
        "{c1}"
    );
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("build-host-elsewhere") && stderr.contains("--force"),
        "{stderr}"
    );

    let f = fleet.clone();
    spawn_blocking(move || {
        f.expect(&["unlock", "-a", "web", "-t", "c1", "-s", &s, "--force"], 0);
        f.expect(&["plan", "-a", "web", "-s", &s, "--run-id", "l2"], 2);
    })
    .await
    .unwrap();
    assert_eq!(results(&fleet.report("l2")), all(&["c1"], "changes"));
}

/// `saasctl plan` of app `web` that gives a held lock one retry.
fn plan_with_two_attempts<'a>(stack: &'a str, run_id: &'a str) -> [&'a str; 11] {
    [
        "plan",
        "-a",
        "web",
        "-s",
        stack,
        "--attempts",
        "2",
        "--retry-delay",
        "0.2",
        "--run-id",
        run_id,
    ]
}

/// The lock item a terraform run by `who` (`user@host`) would have left on
/// `tenant`'s state.
async fn leave_lock(app: &saas_registry::Application, tenant: &str, id: &str, who: &str) {
    let backend = saas_registry::derive_backend(app, tenant).unwrap();
    let lock = serde_json::json!({
        "ID": id,
        "Operation": "OperationTypeApply",
        "Info": "",
        "Who": who,
        "Version": "1.11.4",
        "Created": "2026-11-21T12:00:00Z",
        "Path": backend.lock_id(),
    });
    dynamodb_client()
        .await
        .put_item()
        .table_name(backend.lock_table.as_deref().unwrap())
        .item("LockID", AttributeValue::S(backend.lock_id()))
        .item("Info", AttributeValue::S(lock.to_string()))
        .send()
        .await
        .unwrap();
}

fn this_host() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    format!("root@{}", host.trim())
}

/// An orphan lock (taken on this host by a terraform that is gone, as a CI
/// job killed mid-plan leaves it) is released by the run's retry path and
/// recorded in the report; a lock whose holder still works on the tenant
/// here (a live process with that tenant's data dir) is never released.
#[tokio::test(flavor = "multi_thread")]
async fn an_orphan_lock_is_released_and_a_live_holder_is_not() {
    let fleet = Fleet::new().await;
    let app = fleet.add_app_with_own_state("web", "fo-orph").await;
    fleet.add_tenant("web", "gone1", 1, &[], &[]).await;
    fleet.add_tenant("web", "busy1", 1, &[], &[]).await;
    let fleet = std::sync::Arc::new(fleet);
    let f = fleet.clone();
    spawn_blocking(move || f.bootstrap("web")).await.unwrap();
    let orphan = "6c0e3d1a-0000-4000-8000-00000000000a";
    let held = "6c0e3d1a-0000-4000-8000-00000000000b";
    leave_lock(&app, "gone1", orphan, &this_host()).await;
    leave_lock(&app, "busy1", held, &this_host()).await;
    // busy1.s holder: still alive on this host, working in busy1.s data dir.
    let data_dir = fleet.dir.path().join("elsewhere/run/busy1/.terraform");
    let mut holder = std::process::Command::new("sleep")
        .arg("120")
        .env("TF_DATA_DIR", &data_dir)
        .spawn()
        .unwrap();

    let s = stack().display().to_string();
    let f = fleet.clone();
    let s1 = s.clone();
    spawn_blocking(move || {
        f.expect(&plan_with_two_attempts(&s1, "or1"), 1);
    })
    .await
    .unwrap();
    holder.kill().unwrap();
    holder.wait().unwrap();
    let report = tenants(&fleet.report("or1"));
    assert_eq!(report["gone1"]["result"], "changes", "{}", report["gone1"]);
    assert_eq!(report["gone1"]["released_locks"][0]["id"], orphan);
    assert_eq!(report["busy1"]["result"], "failed", "{}", report["busy1"]);
    assert_eq!(report["busy1"]["lock"]["id"], held);
    assert!(
        report["busy1"].get("released_locks").is_none(),
        "{}",
        report["busy1"]
    );

    // Once its holder is gone, the next run releases busy1.s lock too.
    let f = fleet.clone();
    spawn_blocking(move || {
        f.expect(&["plan", "-a", "web", "-s", &s, "--run-id", "or2"], 2);
    })
    .await
    .unwrap();
    let report = tenants(&fleet.report("or2"));
    assert_eq!(report["busy1"]["released_locks"][0]["id"], held);
    assert_eq!(
        results(&fleet.report("or2")),
        all(&["gone1", "busy1"], "changes")
    );
}
