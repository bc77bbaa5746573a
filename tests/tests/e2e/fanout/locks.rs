//! Held state locks: retried with backoff, reported with the holder, and
//! released by `saasctl unlock` only when the holder is known to be gone.

use aws_sdk_dynamodb::types::AttributeValue;
use saas_e2e::{dynamodb_client, unique_name};
use saas_registry::StateConfig;

use super::{all, results, spawn_blocking, stack, tenants, Fleet};

/// A lock that stays held is retried, then reported with its holder;
/// `saasctl unlock` refuses a holder on another host unless `--force`.
#[tokio::test(flavor = "multi_thread")]
async fn a_held_lock_is_retried_reported_and_released() {
    let fleet = Fleet::new().await;
    let app = fleet
        .add_app(
            "web",
            StateConfig {
                bucket: Some(unique_name("fo-lock")),
                lock_table: Some(unique_name("fo-lock-tbl")),
                ..Default::default()
            },
        )
        .await;
    fleet.add_tenant("web", "c1", 1, &[], &[]).await;
    let fleet = std::sync::Arc::new(fleet);
    let f = fleet.clone();
    spawn_blocking(move || f.bootstrap("web")).await.unwrap();

    let backend = saas_registry::derive_backend(&app, "c1").unwrap();
    let lock_id = "0d7f0c3e-1b2a-4c5d-8e9f-a0b1c2d3e4f5";
    let info = serde_json::json!({
        "ID": lock_id,
        "Operation": "OperationTypeApply",
        "Info": "",
        "Who": "deployer@build-host-elsewhere",
        "Version": "1.11.4",
        "Created": "2026-11-21T12:00:00Z",
        "Path": backend.lock_id(),
    });
    dynamodb_client()
        .await
        .put_item()
        .table_name(backend.lock_table.as_deref().unwrap())
        .item("LockID", AttributeValue::S(backend.lock_id()))
        .item("Info", AttributeValue::S(info.to_string()))
        .send()
        .await
        .unwrap();

    let s = stack().display().to_string();
    let f = fleet.clone();
    let s1 = s.clone();
    let refused = spawn_blocking(move || {
        let args = [
            "plan",
            "-a",
            "web",
            "-s",
            &s1,
            "--attempts",
            "2",
            "--retry-delay",
            "0.2",
            "--run-id",
            "l1",
        ];
        f.expect(&args, 1);
        f.expect(&["unlock", "-a", "web", "-t", "c1", "-s", &s1], 64)
    })
    .await
    .unwrap();
    let c1 = &tenants(&fleet.report("l1"))["c1"];
    assert_eq!(c1["result"], "failed");
    // init, then two plan attempts.
    assert_eq!(c1["attempts"], 3, "{c1}");
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
