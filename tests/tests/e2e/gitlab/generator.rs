//! `saasctl pipeline gitlab` through the CLI, as a generate job runs it:
//! 5,000 tenants become shard files within every GitLab limit (checked by
//! parsing the files back from disk), and every kind of file it writes passes
//! GitLab's CI schema (gitlab-ci-local validates it).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use saas_e2e::{bin, gitlab_ci_local, run_code, run_ok, sqlite_url};
use saas_registry::{Application, Registry, StateConfig, Tenant};
use serde_yaml::{Mapping, Value};

/// `saasctl pipeline gitlab` in a project directory, as the generate job runs it.
fn generate(project: &Path, registry: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(bin("saasctl"));
    cmd.arg("--registry")
        .arg(registry)
        .args(["pipeline", "gitlab"])
        .args(args)
        .current_dir(project)
        .env_remove("CI_JOB_NAME")
        .env_remove("CI_PROJECT_DIR");
    cmd
}

/// Reads a generated file back from disk and checks it against GitLab's
/// limits; returns the shard files it triggers.
fn check_file(
    project: &Path,
    file: &str,
    max_jobs: usize,
    planned: &mut BTreeSet<String>,
) -> Vec<String> {
    let text =
        std::fs::read_to_string(project.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    assert!(
        text.len() <= 5 * 1024 * 1024,
        "{file} is {} bytes",
        text.len()
    );
    let doc: Mapping = serde_yaml::from_str(&text).unwrap();
    let jobs: Vec<(&str, &Value)> = doc
        .iter()
        .map(|(k, v)| (k.as_str().unwrap(), v))
        // Hidden jobs (`.saas-terraform`) are templates, not jobs.
        .filter(|(k, _)| !["stages", "variables", "default"].contains(k) && !k.starts_with('.'))
        .collect();
    assert!(jobs.len() <= max_jobs, "{file} has {} jobs", jobs.len());
    let mut children = Vec::new();
    for (name, job) in jobs {
        let needs = job
            .get("needs")
            .and_then(Value::as_sequence)
            .map_or(0, Vec::len);
        assert!(needs <= 50, "{file}: {name} has {needs} needs");
        if let Some(include) = job
            .get("trigger")
            .map(|t| t["include"].as_sequence().unwrap())
        {
            assert!(
                include.len() <= 3,
                "{file}: {name} includes {} files",
                include.len()
            );
            children.extend(
                include
                    .iter()
                    .map(|i| i["artifact"].as_str().unwrap().to_string()),
            );
        }
        if let Some(tenant) = name.strip_prefix("plan:") {
            assert!(planned.insert(tenant.to_string()), "{tenant} planned twice");
        }
    }
    children
}

/// A project directory with a `stack/` dir and a SQLite registry holding
/// application `fleet` with `tenants` tenants `t0000`, `t0001`, ...
async fn fleet(tenants: usize) -> (tempfile::TempDir, String) {
    let project = tempfile::tempdir().unwrap();
    let url = sqlite_url(project.path());
    let registry = Registry::open(&url).await.unwrap();
    let state = StateConfig {
        bucket: Some("fleet-state".into()),
        lock_table: Some("fleet-locks".into()),
        ..Default::default()
    };
    let app = registry
        .create_application(&Application::new("fleet", state))
        .await
        .unwrap();
    for i in 0..tenants {
        let id = format!("t{i:04}");
        let mut t = Tenant::new(&id, &id, format!("{id}@example.com"), "basic");
        t.applications.insert(app.name.clone());
        registry.create_tenant(&t).await.unwrap();
    }
    std::fs::create_dir(project.path().join("stack")).unwrap();
    (project, url)
}

#[tokio::test]
async fn five_thousand_tenants_become_shard_files_within_every_limit() {
    let (project, url) = fleet(5000).await;

    let output = run_ok(&mut generate(
        project.path(),
        &url,
        &[
            "-a",
            "fleet",
            "-s",
            "stack",
            "--waves",
            "canary=t0007;10%;rest",
            "-o",
            "ci/child.yml",
        ],
    ));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("shard pipelines under ci/child-shards/"),
        "{stderr}"
    );

    let mut planned = BTreeSet::new();
    let children = check_file(project.path(), "ci/child.yml", 500, &mut planned);
    assert!(planned.is_empty() && children.len() >= 20, "{children:?}");
    for child in &children {
        // Include paths are relative to the project directory, where the
        // generate job's artifacts unpack.
        let grandchildren = check_file(project.path(), child, 500, &mut planned);
        assert!(grandchildren.is_empty(), "{child} nests a third level");
    }
    assert_eq!(planned.len(), 5000);

    // A limit the selection cannot meet is refused with the reason.
    let output = run_code(
        &mut generate(
            project.path(),
            &url,
            &[
                "-a",
                "fleet",
                "-s",
                "stack",
                "--max-jobs-per-pipeline",
                "9",
                "-o",
                "x.yml",
            ],
        ),
        64,
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot fit") && stderr.contains("downstream pipelines"),
        "{stderr}"
    );
    assert!(!project.path().join("x.yml").exists());

    // No tenant selected: a valid file with one no-op job.
    let output = run_ok(&mut generate(
        project.path(),
        &url,
        &[
            "-a",
            "fleet",
            "-s",
            "stack",
            "--tier",
            "premium",
            "-o",
            "empty.yml",
        ],
    ));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no tenants of fleet"));
    let empty: Mapping =
        serde_yaml::from_str(&std::fs::read_to_string(project.path().join("empty.yml")).unwrap())
            .unwrap();
    assert!(empty.contains_key("no-tenants"));
}

/// gitlab-ci-local loads `file` as a project's `.gitlab-ci.yml` and validates
/// it against GitLab's CI schema; `--list` runs no job.
fn assert_valid_gitlab_ci(file: &Path) {
    let repo = tempfile::tempdir().unwrap();
    std::fs::copy(file, repo.path().join(".gitlab-ci.yml")).unwrap();
    super::commit_all(repo.path());
    let output = run_ok(gitlab_ci_local(repo.path()).arg("--list"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        text.contains("json schema validated"),
        "{}: not validated:\n{text}",
        file.display()
    );
}

#[tokio::test]
async fn every_kind_of_generated_file_passes_gitlab_schema_validation() {
    let (project, url) = fleet(7).await;
    let dir = project.path();
    let waves = ["--waves", "canary=t0003;rest", "--manual-wave", "rest"];
    run_ok(
        generate(
            dir,
            &url,
            &[
                "-a",
                "fleet",
                "-s",
                "stack",
                "--image",
                "saasctl:1",
                "-o",
                "child.yml",
            ],
        )
        .args(waves),
    );
    run_ok(
        generate(
            dir,
            &url,
            &[
                "-a",
                "fleet",
                "-s",
                "stack",
                "--apply",
                "auto",
                "--max-jobs-per-pipeline",
                "8",
                "-o",
                "big/child.yml",
            ],
        )
        .args(waves),
    );
    run_ok(&mut generate(
        dir,
        &url,
        &[
            "-a",
            "fleet",
            "-s",
            "stack",
            "--tier",
            "premium",
            "-o",
            "empty.yml",
        ],
    ));

    let mut files = vec![
        dir.join("child.yml"),
        dir.join("big/child.yml"),
        dir.join("empty.yml"),
    ];
    let mut shards: Vec<_> = std::fs::read_dir(dir.join("big/child-shards"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    shards.sort();
    assert_eq!(
        shards.len(),
        3,
        "canary 1 + rest 6 at 3 tenants per shard: {shards:?}"
    );
    files.extend(shards);
    for file in &files {
        assert_valid_gitlab_ci(file);
    }
}
