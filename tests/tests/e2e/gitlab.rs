//! GitLab CI: the example parent pipeline (`examples/gitlab/.gitlab-ci.yml`)
//! run by gitlab-ci-local's shell executor against moto, the real terraform,
//! the built provider and saasctl. The generator through the CLI (limits at
//! 5,000 tenants, GitLab's schema) is in `gitlab/generator.rs`, `saasctl
//! gitlab trigger` against a local HTTP server in `gitlab/trigger.rs`.

mod batching;
mod generator;
mod monorepo;
mod trigger;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Output};

use saas_e2e::{
    bin, gitlab_ci_local, moto_url, root, run, run_ok, s3_client, sqlite_url, unique_name,
};
use saas_registry::{Application, Registry, StateConfig};
use serde_yaml::Mapping;

/// A stack repository in a temp dir (git-initialised, as gitlab-ci-local
/// wants) with the example parent pipeline and tenant stack, and a registry
/// outside it.
struct StackRepo {
    repo: tempfile::TempDir,
    registry_dir: tempfile::TempDir,
    app: Application,
}

impl StackRepo {
    async fn new(tenants: &[(&str, &[(&str, &str)])]) -> StackRepo {
        let examples = root().join("examples");
        let layout = |repo: &Path| {
            copy_dir(
                &examples.join("tenant-stack"),
                &repo.join("examples/tenant-stack"),
            )
        };
        let repo = StackRepo::with_layout(layout).await;
        for (id, variables) in tenants {
            repo.add_tenant(id, variables).await;
        }
        repo
    }

    /// A repository laid out by `layout`, with the example parent pipeline.
    async fn with_layout(layout: impl FnOnce(&Path)) -> StackRepo {
        let repo = tempfile::tempdir().unwrap();
        let registry_dir = tempfile::tempdir().unwrap();
        let examples = root().join("examples");
        layout(repo.path());
        std::fs::copy(
            examples.join("gitlab/.gitlab-ci.yml"),
            repo.path().join(".gitlab-ci.yml"),
        )
        .unwrap();
        std::fs::write(
            repo.path().join(".gitignore"),
            ".saas/\n.gitlab-ci-local/\nchild*\n",
        )
        .unwrap();
        commit_all(repo.path());

        let url = sqlite_url(registry_dir.path());
        let registry = Registry::open(&url).await.unwrap();
        let state = StateConfig {
            bucket: Some(unique_name("gl-state")),
            lock_table: Some(unique_name("gl-lock")),
            ..Default::default()
        };
        let app = registry
            .create_application(&Application::new(unique_name("web"), state))
            .await
            .unwrap();
        StackRepo {
            repo,
            registry_dir,
            app,
        }
    }

    async fn add_tenant(&self, id: &str, variables: &[(&str, &str)]) {
        self.create_tenant(&saas_e2e::tenant(&self.app.name, id, variables, &[]))
            .await;
    }

    async fn create_tenant(&self, t: &saas_registry::Tenant) {
        Registry::open(&self.registry_url())
            .await
            .unwrap()
            .create_tenant(t)
            .await
            .unwrap();
    }

    fn registry_url(&self) -> String {
        sqlite_url(self.registry_dir.path())
    }

    /// gitlab-ci-local on the example pipeline, with saasctl and terraform on
    /// PATH and AWS pointed at moto; `variables` override the pipeline's.
    fn pipeline(&self, variables: &[(&str, &str)]) -> Output {
        let mut cmd = gitlab_ci_local(self.repo.path());
        let saasctl_dir = bin("saasctl").parent().unwrap().to_path_buf();
        tool_env(&mut cmd, &saasctl_dir);
        cmd.env("SAAS_REGISTRY", self.registry_url());
        cmd.args(["--variable", &format!("SAAS_APPLICATION={}", self.app.name)]);
        // moto serves plain HTTP; KMS is what real buckets get.
        cmd.args(["--variable", "SAAS_BUCKET_ENCRYPTION=aes256"]);
        for (k, v) in variables {
            cmd.args(["--variable", &format!("{k}={v}")]);
        }
        run(&mut cmd)
    }

    async fn state_exists(&self, tenant: &str) -> bool {
        let backend = saas_registry::derive_backend(&self.app, tenant).unwrap();
        s3_client()
            .await
            .head_object()
            .bucket(&backend.bucket)
            .key(&backend.key)
            .send()
            .await
            .is_ok()
    }
}

/// Makes `dir` a git repository with everything committed: gitlab-ci-local
/// reads the project through git.
fn commit_all(dir: &Path) {
    for args in [
        &["init", "-q"][..],
        &["add", "."],
        &["commit", "-qm", "stack"],
    ] {
        run_ok(
            Command::new("git")
                .args(["-c", "user.name=e2e", "-c", "user.email=e2e@example.com"])
                .args(args)
                .current_dir(dir),
        );
    }
}

/// Copies the tree under `from` (dotfiles included) to `to`.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            copy_dir(&entry.path(), &to.join(entry.file_name()));
        } else if kind.is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// The harness's `tool_env`, with the built saasctl first on PATH.
fn tool_env(cmd: &mut Command, saasctl_dir: &Path) {
    saas_e2e::tool_env(cmd, &moto_url());
    let path = cmd
        .get_envs()
        .find(|(key, _)| *key == "PATH")
        .and_then(|(_, value)| value.map(|v| v.to_os_string()))
        .unwrap_or_default();
    let mut dirs = vec![saasctl_dir.to_path_buf()];
    dirs.extend(std::env::split_paths(&path));
    cmd.env("PATH", std::env::join_paths(dirs).unwrap());
}

/// Job name → PASS/FAIL from gitlab-ci-local's summary, child jobs included
/// (`[deploy] -> plan:acme`), and the jobs it started.
struct Jobs {
    results: BTreeMap<String, String>,
    started: BTreeSet<String>,
    log: String,
}

impl Jobs {
    fn of(output: &Output) -> Jobs {
        let log = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let job_name = |rest: &str| -> String {
            let rest = rest.trim();
            let rest = rest.rsplit_once("-> ").map_or(rest, |(_, name)| name);
            rest.split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string()
        };
        let mut results = BTreeMap::new();
        let mut started = BTreeSet::new();
        for line in log.lines() {
            let trimmed = line.trim_start();
            for verdict in ["PASS", "FAIL"] {
                if let Some(rest) = trimmed.strip_prefix(verdict) {
                    if rest.starts_with(' ') {
                        results.insert(job_name(rest), verdict.to_string());
                    }
                }
            }
            if let Some((job, _)) = trimmed.split_once(" starting shell") {
                started.insert(job_name(job));
            }
        }
        Jobs {
            results,
            started,
            log,
        }
    }

    fn assert(&self, job: &str, verdict: &str) {
        assert_eq!(
            self.results.get(job).map(String::as_str),
            Some(verdict),
            "{job} should be {verdict}; jobs: {:?}\n{}",
            self.results,
            self.log
        );
    }
}

const TENANTS: [&str; 4] = ["acme", "globex", "initech", "umbrella"];

#[tokio::test]
async fn example_parent_pipeline_deploys_every_tenant_then_onboards_only_new_ones() {
    let tenants: Vec<(&str, &[(&str, &str)])> = TENANTS.iter().map(|t| (*t, &[][..])).collect();
    let repo = StackRepo::new(&tenants).await;
    let output = repo.pipeline(&[("SAAS_APPLY", "auto"), ("SAAS_WAVES", "canary=globex;rest")]);
    let jobs = Jobs::of(&output);
    for job in ["backends", "generate", "deploy", "report", "release-page"] {
        jobs.assert(job, "PASS");
    }
    // The child pipeline's release page, one click from the merge request.
    let applied: BTreeMap<String, String> = TENANTS
        .iter()
        .map(|t| (t.to_string(), "applied".to_string()))
        .collect();
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("gitlab-release-page.png");
    page_rows(&repo.repo.path().join("saas-report.html"), &shot, &applied);
    for tenant in TENANTS {
        jobs.assert(&format!("plan:{tenant}"), "PASS");
        jobs.assert(&format!("apply:{tenant}"), "PASS");
        assert!(
            repo.state_exists(tenant).await,
            "no state object for {tenant}"
        );
    }
    // The child pipeline as generated: canary stages first.
    let child: Mapping =
        serde_yaml::from_str(&std::fs::read_to_string(repo.repo.path().join("child.yml")).unwrap())
            .unwrap();
    assert_eq!(child["plan:globex"]["stage"], "canary-plan");
    assert_eq!(child["plan:acme"]["stage"], "rest-plan");
    // The roll-up job printed the release table: every tenant applied.
    assert!(
        jobs.log
            .contains("**Status: clean** - 4 tenants: 4 applied"),
        "{}",
        jobs.log
    );
    for tenant in TENANTS {
        assert!(
            jobs.log
                .contains(&format!("| {tenant} | changes | applied | +")),
            "{}",
            jobs.log
        );
    }

    // Onboarding: a tenant added later is the only one `--new` deploys.
    repo.add_tenant("wayne", &[]).await;
    let output = repo.pipeline(&[("SAAS_APPLY", "auto"), ("SAAS_NEW", "1")]);
    let jobs = Jobs::of(&output);
    jobs.assert("plan:wayne", "PASS");
    jobs.assert("apply:wayne", "PASS");
    for tenant in TENANTS {
        let job = format!("plan:{tenant}");
        assert!(
            !jobs.started.contains(&job),
            "{job} ran again:\n{}",
            jobs.log
        );
    }
    assert!(
        repo.state_exists("wayne").await,
        "no state object for wayne"
    );
}

#[tokio::test]
async fn a_failing_canary_stops_the_later_wave() {
    let failing: &[(&str, &str)] = &[("fail_plan", "true")];
    let tenants: Vec<(&str, &[(&str, &str)])> = TENANTS
        .iter()
        .map(|t| (*t, if *t == "initech" { failing } else { &[][..] }))
        .collect();
    let repo = StackRepo::new(&tenants).await;
    let output = repo.pipeline(&[
        ("SAAS_APPLY", "auto"),
        ("SAAS_WAVES", "canary=initech;rest"),
    ]);
    let jobs = Jobs::of(&output);
    jobs.assert("generate", "PASS");
    jobs.assert("plan:initech", "FAIL");
    assert!(
        jobs.log.contains("fail_plan is set for tenant initech"),
        "the failure is the canary's own precondition:\n{}",
        jobs.log
    );
    for tenant in TENANTS.iter().filter(|t| **t != "initech") {
        for job in [format!("plan:{tenant}"), format!("apply:{tenant}")] {
            assert!(
                !jobs.started.contains(&job),
                "{job} started after the canary failed\n{}",
                jobs.log
            );
            assert!(
                !jobs.results.contains_key(&job),
                "{job} ran after the canary failed"
            );
        }
        assert!(
            !repo.state_exists(tenant).await,
            "{tenant} was deployed after the canary failed"
        );
    }
    assert!(!jobs.started.contains("apply:initech"));
    assert!(!repo.state_exists("initech").await);

    // The roll-up over what the jobs left: the canary failed, the rest never
    // started, and the release exits 1 like a failed local fan-out.
    let runs = repo.repo.path().join(".saas/runs");
    let expect = format!("--expect={}", TENANTS.join(","));
    let mut report = Command::new(bin("saasctl"));
    report.args(["pipeline", "report", "--format", "json", &expect]);
    let output = run(report.arg("--artifacts").arg(&runs));
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["status"], "failed");
    let results: BTreeMap<String, String> = summary["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["tenant"].as_str().unwrap().into(),
                t["result"].as_str().unwrap().into(),
            )
        })
        .collect();
    let expected: BTreeMap<String, String> = TENANTS
        .iter()
        .map(|t| {
            let result = if *t == "initech" {
                "failed"
            } else {
                "not-started"
            };
            (t.to_string(), result.to_string())
        })
        .collect();
    assert_eq!(results, expected);

    // The release page from the same artifacts.
    let mut page = Command::new(bin("saasctl"));
    page.args(["pipeline", "report", "--format", "html", &expect]);
    let output = run(page.arg("--artifacts").arg(&runs));
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let built = repo.repo.path().join("built-report.html");
    std::fs::write(&built, &output.stdout).unwrap();
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pipeline-release-page.png");
    let seen = page_rows(&built, &shot, &expected);
    let initech = seen["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["tenant"].as_str().unwrap().starts_with("initech"))
        .unwrap();
    assert!(
        initech["diagnostic"]
            .as_str()
            .unwrap()
            .contains("fail_plan is set for tenant initech"),
        "{seen}"
    );
}

/// Opens a release page in chromium: no script errors, nothing fetched,
/// and one row per tenant with the `expected` result. Returns what it saw.
fn page_rows(page: &Path, shot: &Path, expected: &BTreeMap<String, String>) -> serde_json::Value {
    let seen = saas_e2e::browser_check(page, shot);
    assert_eq!(seen["errors"], serde_json::json!([]), "{seen}");
    assert_eq!(seen["requests"], serde_json::json!([]), "{seen}");
    let rows: BTreeMap<String, String> = seen["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let tenant = r["tenant"].as_str().unwrap();
            let id = tenant.split_whitespace().next().unwrap().to_string();
            (id, r["result"].as_str().unwrap().to_string())
        })
        .collect();
    assert_eq!(&rows, expected, "{seen}");
    seen
}
