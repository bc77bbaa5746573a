//! Scenario 6 (secrets): a tenant's `sensitive_variables` never appear in
//! anything saasctl prints or writes. A real plan, apply, drift, listing,
//! backend config and GitLab pipeline run over two tenants with secrets
//! (one with characters JSON escapes), then every byte printed and every
//! file under the working directory (runs, logs, reports, JUnit, plan JSON,
//! generated YAML), and each tenant's S3 state, is searched for the values.

use std::path::{Path, PathBuf};

use saas_registry::derive_backend;

use super::{block_on, contains, s3_at, stack, tenants, Fleet};

/// Every regular file under `dir`, except provider binaries (the run's
/// plugin cache and `.terraform/providers`: copies of the built provider,
/// nothing a run writes).
fn artifacts(dir: &Path) -> Vec<PathBuf> {
    saas_e2e::files_skipping(dir, &[".plugin-cache", "providers"])
}

#[test]
fn secrets_reach_no_output_log_report_or_yaml() {
    let fleet = Fleet::new();
    let app = fleet.add_app("web");
    let plain = format!("tok-{}-plain", saas_e2e::unique_name("sec"));
    let quoted = format!("tok\"{}\\q", saas_e2e::unique_name("sec"));
    fleet.add_tenant("web", "s1", 1, &[("api_token", &plain)]);
    fleet.add_tenant(
        "web",
        "s2",
        2,
        &[("api_token", &quoted), ("db_password", &plain)],
    );
    fleet.add_tenant("web", "s3", 1, &[]);
    let s = stack();
    let mut printed = Vec::new();
    let mut keep = |args: &[&str], code: i32| {
        let out = fleet.expect(args, code);
        printed.extend_from_slice(&out.stdout);
        printed.extend_from_slice(&out.stderr);
    };
    keep(
        &[
            "backend",
            "bootstrap",
            "-a",
            "web",
            "--encryption",
            "aes256",
        ],
        0,
    );
    keep(
        &[
            "plan",
            "-a",
            "web",
            "-s",
            &s,
            "-j",
            "2",
            "--run-id",
            "p",
            "--plan-json",
        ],
        2,
    );
    keep(
        &[
            "apply",
            "-a",
            "web",
            "-s",
            &s,
            "-j",
            "2",
            "--from-run",
            "p",
            "--run-id",
            "a",
        ],
        0,
    );
    keep(
        &[
            "plan", "-a", "web", "-s", &s, "-j", "2", "--run-id", "p2", "-o", "json",
        ],
        0,
    );
    keep(
        &["drift", "-a", "web", "-s", &s, "-j", "2", "--run-id", "d"],
        0,
    );
    keep(&["runs", "-o", "json", "show", "a"], 0);
    keep(&["tenants", "-o", "json"], 0);
    keep(&["tenants"], 0);
    keep(
        &["backend", "config", "-a", "web", "-t", "s2", "-f", "json"],
        0,
    );
    keep(
        &[
            "pipeline",
            "gitlab",
            "-a",
            "web",
            "-s",
            &s,
            "-o",
            "child.yml",
        ],
        0,
    );
    for report in ["p", "a"] {
        let all_ok = tenants(&fleet.report(report))
            .values()
            .all(|t| t["result"] != "failed");
        assert!(all_ok, "run {report} failed a tenant");
    }

    // Each secret raw and as JSON escapes it.
    let mut needles = vec![plain.clone(), quoted.clone()];
    needles.push(
        serde_json::to_string(&quoted)
            .unwrap()
            .trim_matches('"')
            .to_string(),
    );
    let files = artifacts(fleet.path());
    assert!(
        files.iter().any(|f| f.ends_with("child.yml"))
            && files.iter().any(|f| f.ends_with("plan.json"))
            && files.len() > 20,
        "the run wrote too little to prove anything: {files:?}"
    );
    let mut scanned = 0usize;
    let mut stored_found = false;
    for path in &files {
        let bytes = std::fs::read(path).unwrap();
        if path.to_string_lossy().contains("registry.db") {
            // The registry is where secrets are stored: the search must find them there.
            stored_found |= contains(&bytes, plain.as_bytes());
            continue;
        }
        scanned += bytes.len();
        for needle in &needles {
            assert!(
                !contains(&bytes, needle.as_bytes()),
                "a secret is in {}",
                path.display()
            );
        }
    }
    assert!(
        stored_found,
        "the search did not find the secret where it is stored"
    );
    for needle in &needles {
        assert!(
            !contains(&printed, needle.as_bytes()),
            "saasctl printed a secret"
        );
    }
    let mut states = 0;
    for id in ["s1", "s2", "s3"] {
        let backend = derive_backend(&app, id).unwrap();
        let bytes = block_on(async {
            let s3 = s3_at(fleet.endpoint()).await;
            let object = s3
                .get_object()
                .bucket(&backend.bucket)
                .key(&backend.key)
                .send()
                .await
                .unwrap();
            object.body.collect().await.unwrap().into_bytes()
        });
        for needle in &needles {
            assert!(
                !contains(&bytes, needle.as_bytes()),
                "a secret is in the state of {id}"
            );
        }
        states += 1;
    }
    println!(
        "reliability: secrets of 2 tenants (one needing JSON escapes) through bootstrap, plan, apply --from-run, \
         plan -o json, drift, runs show, tenants, backend config, pipeline gitlab \
         => in none of {} bytes printed, {} files ({scanned} bytes: logs, reports, JUnit, plan JSON, YAML) \
         or {states} S3 state objects",
        printed.len(),
        files.len()
    );
}
