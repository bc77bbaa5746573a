//! `--tenants-per-job 2` through the example parent pipeline (the generate
//! job reads `SAAS_TENANTS_PER_JOB`): batched plan and apply jobs run the
//! local pool, yet reports stay per tenant and every tenant's state lands at
//! its own key.

use std::path::{Path, PathBuf};

use super::{Jobs, StackRepo};

const FLEET: [&str; 3] = ["acme", "globex", "initech"];

/// The run directories under `.saas/runs` whose id ends in `suffix`.
fn runs_ending(repo: &Path, suffix: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(repo.join(".saas/runs")) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().ends_with(suffix))
        .collect()
}

#[tokio::test]
async fn batched_jobs_keep_reports_and_state_per_tenant() {
    let tenants: Vec<(&str, &[(&str, &str)])> = FLEET.iter().map(|t| (*t, &[][..])).collect();
    let repo = StackRepo::new(&tenants).await;
    let output = repo.pipeline(&[("SAAS_APPLY", "auto"), ("SAAS_TENANTS_PER_JOB", "2")]);
    let jobs = Jobs::of(&output);
    for job in [
        "plan:acme..globex",
        "apply:acme..globex",
        "plan:initech",
        "apply:initech",
        "report",
        "release-page",
    ] {
        jobs.assert(job, "PASS");
    }
    assert!(
        !jobs.started.contains("plan:acme"),
        "acme ran in a job of its own:\n{}",
        jobs.log
    );
    for tenant in FLEET {
        assert!(
            repo.state_exists(tenant).await,
            "no state object for {tenant}"
        );
    }
    let root = repo.repo.path();
    // One plan run for the batch, holding a terraform report per tenant and
    // one JUnit file with a case per tenant.
    let [batch_run] = &runs_ending(root, "-acme")[..] else {
        panic!("no single plan run of the batch acme..globex")
    };
    let junit = std::fs::read_to_string(batch_run.join("junit.xml")).unwrap();
    for tenant in ["acme", "globex"] {
        assert!(
            batch_run.join(tenant).join("tfplan.report.json").is_file(),
            "no terraform report for {tenant} in {}",
            batch_run.display()
        );
        assert!(
            junit.contains(tenant),
            "{tenant} not in the batch's JUnit:\n{junit}"
        );
    }
    assert!(!junit.contains("initech"), "{junit}");
    // What gitlab-ci-local exported as the jobs' artifacts, expanding the
    // templates' `$SAAS_BATCH` paths: every tenant's files of the batch, and
    // none of the run's own directories (stack mirror, providers).
    let exported: Vec<String> = saas_e2e::files(&root.join(".gitlab-ci-local/artifacts"))
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    for tenant in ["acme", "globex"] {
        for file in ["tfplan.report.json", "plan.tfplan", "terraform.log"] {
            let want = format!("-acme/{tenant}/{file}");
            assert!(
                exported.iter().any(|p| p.ends_with(&want)),
                "no exported artifact ending in {want}: {exported:?}"
            );
        }
    }
    assert!(
        exported
            .iter()
            .any(|p| p.ends_with("-acme-apply/globex/terraform.log")),
        "the batch's apply log was not exported: {exported:?}"
    );
    let leaked: Vec<&String> = exported
        .iter()
        .filter(|p| p.contains("/.stack/") || p.contains("/.src/") || p.contains("/.init/"))
        .collect();
    assert!(leaked.is_empty(), "run directories exported: {leaked:?}");
    // The roll-up still accounts for every tenant.
    assert!(
        jobs.log
            .contains("**Status: clean** - 3 tenants: 3 applied"),
        "{}",
        jobs.log
    );
}
