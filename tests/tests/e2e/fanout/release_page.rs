//! The release page of a real fan-out, opened in headless chromium: a
//! canary wave that changed, a rest wave where one tenant failed and the
//! failure budget left another not started, and a tenant whose display name
//! is an HTML injection, which must show as text.

use saas_e2e::browser_check;
use serde_json::Value;

use super::{spawn_blocking, stack, Fleet};

const HOSTILE: &str = "<img src=x onerror=alert(1)>";

#[tokio::test(flavor = "multi_thread")]
async fn the_release_page_shows_every_tenant_in_a_real_browser() {
    let fleet = Fleet::new().await;
    fleet.add_app_with_own_state("web", "fo-page").await;
    let mut canary = saas_e2e::tenant("web", "pc1", &[("replicas", "2")], &[]);
    canary.name = HOSTILE.into();
    fleet.registry().await.create_tenant(&canary).await.unwrap();
    fleet
        .add_tenant("web", "pr1", 1, &[("fail_plan", "true")], &[])
        .await;
    fleet.add_tenant("web", "pr2", 1, &[], &[]).await;
    let fleet = std::sync::Arc::new(fleet);
    let f = fleet.clone();
    let html = spawn_blocking(move || {
        f.bootstrap("web");
        let s = stack().display().to_string();
        let args = [
            "plan",
            "-a",
            "web",
            "-s",
            &s,
            "-j",
            "1",
            "--waves",
            "canary=pc1;rest",
            "--max-failures",
            "1",
            "--run-id",
            "page",
        ];
        f.expect(&args, 1);
        let out = f.expect(&["runs", "show", "page", "--html"], 0);
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    })
    .await
    .unwrap();
    let html = std::path::PathBuf::from(html);
    assert_eq!(html, fleet.runs_dir().join("page/report.html"));
    let shot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("release-page.png");
    let seen = browser_check(&html, &shot);

    assert_eq!(seen["errors"], serde_json::json!([]), "{seen}");
    assert_eq!(seen["requests"], serde_json::json!([]), "{seen}");
    assert_eq!(seen["images"], 0, "the hostile name became markup: {seen}");
    let rows = seen["rows"].as_array().unwrap();
    let result = |id: &str| -> &Value {
        rows.iter()
            .find(|r| r["tenant"].as_str().unwrap().starts_with(id))
            .unwrap_or_else(|| panic!("no row for {id}: {seen}"))
    };
    assert_eq!(rows.len(), 3, "{seen}");
    assert_eq!(result("pc1")["result"], "changes");
    assert_eq!(result("pc1")["changes"], "+3 ~0 -0");
    assert!(
        result("pc1")["tenant"].as_str().unwrap().contains(HOSTILE),
        "{seen}"
    );
    assert_eq!(result("pr1")["result"], "failed");
    assert!(
        result("pr1")["diagnostic"]
            .as_str()
            .unwrap()
            .contains("fail_plan is set for tenant pr1"),
        "{seen}"
    );
    assert_eq!(result("pr2")["result"], "not-started");
    let counts: Vec<&str> = seen["counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(
        counts,
        ["3 tenants", "1 failed", "1 not-started", "1 changes"],
        "{seen}"
    );
    // Two tenants ran: two bars; the not-started one has none.
    assert_eq!(seen["bars"], 2);
    assert_eq!(seen["failed_visible_after_filter"], 1);
    // Without JavaScript: every row and bar, no filter controls.
    assert_eq!(seen["without_js"]["rows"], 3);
    assert_eq!(seen["without_js"]["bars"], 2);
    assert_eq!(seen["without_js"]["filters_shown"], false);
    assert!(shot.is_file());
    println!("release page screenshot: {}", shot.display());
}
