//! Failure handling: one tenant failing does not stop the others, the
//! failure budget stops new starts, `--resume` re-runs only what failed, a
//! failed canary wave stops later waves, `-j` shows in the timestamps, and
//! errors before any tenant runs get their own exit codes.

use std::process::Command;

use saas_e2e::{bin, run, unique_name};
use saas_registry::StateConfig;

use super::{all, assert_no_secret, intervals, results, spawn_blocking, stack, tenants, Fleet};

#[tokio::test(flavor = "multi_thread")]
async fn failures_budget_resume_waves_and_concurrency() {
    let fleet = Fleet::new().await;
    let short_secret = "tiny42";
    fleet
        .add_app(
            "web",
            StateConfig {
                bucket: Some(unique_name("fo-fail")),
                lock_table: Some(unique_name("fo-fail-lock")),
                ..Default::default()
            },
        )
        .await;
    fleet
        .add_tenant("web", "b1", 1, &[("fail_plan", "true")], &[])
        .await;
    for id in ["b2", "b3", "b4"] {
        fleet.add_tenant("web", id, 1, &[], &[]).await;
    }
    let fleet = std::sync::Arc::new(fleet);
    let s = stack().display().to_string();

    let f = fleet.clone();
    let s1 = s.clone();
    spawn_blocking(move || {
        f.bootstrap("web");
        // One tenant fails; the others still plan; exit 1.
        f.expect(
            &["plan", "-a", "web", "-s", &s1, "-j", "1", "--run-id", "f1"],
            1,
        );
        // With a budget of one failure and b1 first, nothing else starts.
        f.expect(
            &[
                "plan",
                "-a",
                "web",
                "-s",
                &s1,
                "-j",
                "1",
                "--max-failures",
                "1",
                "--run-id",
                "f2",
            ],
            1,
        );
    })
    .await
    .unwrap();
    let f1 = fleet.report("f1");
    let mut expected = all(&["b2", "b3", "b4"], "changes");
    expected.insert("b1".into(), "failed".into());
    assert_eq!(results(&f1), expected);
    let b1 = &tenants(&f1)["b1"];
    // Terraform's first diagnostic (summary and detail, from its -json
    // output), not the log lines around it.
    let error = b1["error"].as_str().unwrap();
    assert!(
        error.contains("Resource precondition failed")
            && error.contains("fail_plan is set for tenant b1"),
        "{b1}"
    );
    assert!(
        !error.contains("Reading...") && !error.contains("Read complete"),
        "{b1}"
    );
    // -j 1: every tenant starts after the previous one finished.
    let spans = intervals(&f1);
    assert_eq!(spans.len(), 4);
    for pair in spans.windows(2) {
        assert!(pair[0].1 <= pair[1].0, "overlap at -j 1: {spans:?}");
    }
    let mut expected = all(&["b2", "b3", "b4"], "not-started");
    expected.insert("b1".into(), "failed".into());
    assert_eq!(results(&fleet.report("f2")), expected);

    // Fix b1 and resume f1: only b1 runs again.
    fleet.set_variable("b1", "fail_plan", "false").await;
    let f = fleet.clone();
    let s1 = s.clone();
    spawn_blocking(move || {
        f.expect(&["plan", "-a", "web", "-s", &s1, "--resume", "f1"], 2);
    })
    .await
    .unwrap();
    let resumed = fleet.report("f1");
    assert_eq!(resumed["resumes"], 1);
    assert_eq!(results(&resumed), all(&["b1", "b2", "b3", "b4"], "changes"));
    for id in ["b2", "b3", "b4"] {
        assert_eq!(
            tenants(&resumed)[id]["started_at"],
            tenants(&f1)[id]["started_at"],
            "{id} ran again"
        );
    }
    assert_ne!(tenants(&resumed)["b1"]["started_at"], b1["started_at"]);

    // A failing canary stops the later waves.
    fleet.set_variable("b3", "fail_plan", "true").await;
    let f = fleet.clone();
    let s1 = s.clone();
    spawn_blocking(move || {
        f.expect(
            &[
                "plan",
                "-a",
                "web",
                "-s",
                &s1,
                "-j",
                "2",
                "--waves",
                "canary=b3;rest",
                "--run-id",
                "f3",
            ],
            1,
        );
        // -j 3 over three tenants: all run at once.
        f.expect(
            &[
                "plan", "-a", "web", "-s", &s1, "-j", "3", "-t", "b1", "-t", "b2", "-t", "b4",
                "--run-id", "f4",
            ],
            2,
        );
    })
    .await
    .unwrap();
    let f3 = tenants(&fleet.report("f3"));
    assert_eq!(f3["b3"]["result"], "failed");
    assert_eq!(f3["b3"]["wave"], "canary");
    for id in ["b1", "b2", "b4"] {
        assert_eq!(f3[id]["result"], "not-started", "{id}");
        assert!(
            f3[id]["error"].as_str().unwrap().contains("canary"),
            "{}",
            f3[id]
        );
    }
    let spans = intervals(&fleet.report("f4"));
    let last_start = spans.iter().map(|s| &s.0).max().unwrap();
    let first_finish = spans.iter().map(|s| &s.1).min().unwrap();
    assert!(last_start < first_finish, "no overlap at -j 3: {spans:?}");

    // A sensitive variable reaches Terraform (the stack rejects a short token)
    // and its value is never printed or written.
    let registry = fleet.registry().await;
    let mut b4 = registry.require_tenant("b4").await.unwrap();
    b4.sensitive_variables
        .insert("api_token".into(), short_secret.into());
    registry.update_tenant(&b4).await.unwrap();
    let f = fleet.clone();
    let s1 = s.clone();
    spawn_blocking(move || {
        f.expect(
            &["plan", "-a", "web", "-s", &s1, "-t", "b4", "--run-id", "f5"],
            1,
        );
    })
    .await
    .unwrap();
    let b4 = &tenants(&fleet.report("f5"))["b4"];
    assert!(
        b4["error"]
            .as_str()
            .unwrap()
            .contains("api_token must be empty or at least 8"),
        "{b4}"
    );
    assert_no_secret(&fleet, short_secret);
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_before_any_tenant_runs_have_distinct_exit_codes() {
    let fleet = Fleet::new().await;
    fleet
        .add_app(
            "web",
            StateConfig {
                bucket: Some(unique_name("fo-err")),
                lock_table: Some("fo-err-locks".into()),
                ..Default::default()
            },
        )
        .await;
    let s = stack().display().to_string();
    let fleet = std::sync::Arc::new(fleet);
    let f = fleet.clone();
    spawn_blocking(move || {
        let missing = f.dir.path().join("no-such-stack").display().to_string();
        let err = f.expect(&["plan", "-a", "web", "-s", &missing], 66);
        assert!(String::from_utf8_lossy(&err.stderr).contains("does not exist"));
        f.expect(&["plan", "-a", "nope", "-s", &s], 66);
        let err = f.expect(&["plan", "-a", "web", "-s", &s, "-t", "../evil"], 65);
        assert_eq!(String::from_utf8_lossy(&err.stderr).lines().count(), 1);
        f.expect(&["plan", "-a", "web", "-s", &s, "--run-id", "../x"], 64);
        f.expect(
            &["plan", "-a", "web", "-s", &s, "--resume", "never-ran"],
            66,
        );
        f.expect(
            &["apply", "-a", "web", "-s", &s, "--from-run", "never-ran"],
            66,
        );
        let mut no_terraform = f.saasctl(&["plan", "-a", "web", "-s", &s]);
        no_terraform.env("PATH", "/nonexistent");
        let out = run(&mut no_terraform);
        assert_eq!(
            out.status.code(),
            Some(127),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let bad_registry = run(Command::new(bin("saasctl"))
            .args([
                "--registry",
                "dynamodb://x?bogus=1",
                "plan",
                "-a",
                "web",
                "-s",
                &s,
            ])
            .current_dir(f.dir.path()));
        assert_eq!(bad_registry.status.code(), Some(65));
    })
    .await
    .unwrap();
    assert!(
        !fleet.runs_dir().exists()
            || std::fs::read_dir(fleet.runs_dir())
                .unwrap()
                .next()
                .is_none()
    );
}

/// The run's one install is a real init with its first tenant's backend
/// (the other tenants copy it). When that tenant's bucket does not exist
/// yet, the install falls back to no backend: the first tenant fails on its
/// own, and the next one plans as ever.
#[tokio::test(flavor = "multi_thread")]
async fn a_first_tenant_without_a_bucket_fails_alone() {
    use saas_registry::{Isolation, LockKind};
    let fleet = Fleet::new().await;
    fleet
        .add_app(
            "web",
            StateConfig {
                isolation: Isolation::Bucket,
                bucket_prefix: Some(unique_name("fo-nob")),
                lock: LockKind::Dynamodb,
                lock_table: Some(unique_name("fo-nob-lock")),
                ..Default::default()
            },
        )
        .await;
    for id in ["a0", "a1"] {
        fleet.add_tenant("web", id, 1, &[], &[]).await;
    }
    let fleet = std::sync::Arc::new(fleet);
    let s = stack().display().to_string();
    let f = fleet.clone();
    spawn_blocking(move || {
        // Only a1's bucket and lock table: a0, first in id order, has none.
        f.expect(
            &[
                "backend",
                "bootstrap",
                "-a",
                "web",
                "--tenant",
                "a1",
                "--encryption",
                "aes256",
            ],
            0,
        );
        f.expect(&["plan", "-a", "web", "-s", &s, "--run-id", "nb"], 1);
    })
    .await
    .unwrap();
    let report = fleet.report("nb");
    let mut expected = all(&["a1"], "changes");
    expected.insert("a0".into(), "failed".into());
    assert_eq!(results(&report), expected);
    let a0 = &tenants(&report)["a0"];
    assert!(
        a0["error"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("bucket"),
        "a0 should fail on its own missing bucket: {a0}"
    );
    // The install tried a0's backend, then installed without one.
    let init_log = std::fs::read_to_string(fleet.runs_dir().join("nb/init.log")).unwrap();
    assert!(init_log.contains("-backend=false"), "{init_log}");
}
