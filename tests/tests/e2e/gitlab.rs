//! GitLab CI: the example parent pipeline (`examples/gitlab/.gitlab-ci.yml`)
//! run by gitlab-ci-local's shell executor against moto, the real terraform,
//! the built provider and saasctl; the generator through the CLI at 5,000
//! tenants; and `saasctl gitlab trigger` against a local HTTP server.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};

use saas_e2e::{
    bin, gitlab_ci_local, moto_url, root, run, run_code, run_ok, s3_client, sqlite_url, unique_name,
};
use saas_registry::{Application, Registry, StateConfig, Tenant};
use serde_yaml::{Mapping, Value};

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
        let repo = tempfile::tempdir().unwrap();
        let registry_dir = tempfile::tempdir().unwrap();
        let examples = root().join("examples");
        copy_dir(
            &examples.join("tenant-stack"),
            &repo.path().join("examples/tenant-stack"),
        );
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
        for args in [
            &["init", "-q"][..],
            &["add", "."],
            &["commit", "-qm", "stack"],
        ] {
            run_ok(
                Command::new("git")
                    .args(["-c", "user.name=e2e", "-c", "user.email=e2e@example.com"])
                    .args(args)
                    .current_dir(repo.path()),
            );
        }

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
        let repo = StackRepo {
            repo,
            registry_dir,
            app,
        };
        for (id, variables) in tenants {
            repo.add_tenant(id, variables).await;
        }
        repo
    }

    async fn add_tenant(&self, id: &str, variables: &[(&str, &str)]) {
        let mut t = Tenant::new(
            id,
            format!("Tenant {id}"),
            format!("ops@{id}.example"),
            "basic",
        );
        t.applications.insert(self.app.name.clone());
        for (k, v) in variables {
            t.variables.insert(k.to_string(), v.to_string());
        }
        Registry::open(&self.registry_url())
            .await
            .unwrap()
            .create_tenant(&t)
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

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// PATH with saasctl and the project's terraform, its CLI config, AWS at moto.
fn tool_env(cmd: &mut Command, saasctl_dir: &Path) {
    let tools = root().join(".tools");
    let mut dirs = vec![saasctl_dir.to_path_buf(), tools.join("bin")];
    dirs.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    cmd.env("PATH", std::env::join_paths(dirs).unwrap());
    if std::env::var_os("TF_CLI_CONFIG_FILE").is_none() {
        cmd.env("TF_CLI_CONFIG_FILE", tools.join("terraformrc"));
    }
    let endpoint = moto_url();
    cmd.env("AWS_ENDPOINT_URL_S3", &endpoint)
        .env("AWS_ENDPOINT_URL_DYNAMODB", &endpoint)
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_PROFILE");
    for var in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
        if std::env::var_os(var).is_none() {
            cmd.env(var, "test");
        }
    }
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
    for job in ["backends", "generate", "deploy", "report"] {
        jobs.assert(job, "PASS");
    }
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
}

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
        .filter(|(k, _)| !["stages", "variables", "default"].contains(k))
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

#[tokio::test]
async fn five_thousand_tenants_become_shard_files_within_every_limit() {
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
    for i in 0..5000 {
        let id = format!("t{i:04}");
        let mut t = Tenant::new(&id, &id, format!("{id}@example.com"), "basic");
        t.applications.insert(app.name.clone());
        registry.create_tenant(&t).await.unwrap();
    }
    std::fs::create_dir(project.path().join("stack")).unwrap();

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

/// One canned HTTP answer; the request it received comes back on the channel.
fn http_server(status: u16, body: &'static str) -> (String, std::sync::mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut head = String::new();
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
            head.push_str(&line);
            if line == "\r\n" || line.is_empty() {
                break;
            }
        }
        let mut body_in = vec![0; length];
        reader.read_exact(&mut body_in).unwrap();
        let answer = format!(
            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(answer.as_bytes()).unwrap();
        sender
            .send(format!("{head}{}", String::from_utf8_lossy(&body_in)))
            .unwrap();
    });
    (url, receiver)
}

const TOKEN: &str = "glptt-e2e-secret-token";

fn trigger(url: &str, tenant: &str) -> Command {
    let mut cmd = Command::new(bin("saasctl"));
    cmd.args([
        "gitlab",
        "trigger",
        "--project",
        "group/stacks",
        "--ref",
        "main",
        "-a",
        "web",
        "-t",
        tenant,
    ])
    .args(["--gitlab-url", url])
    .env("SAAS_GITLAB_TRIGGER_TOKEN", TOKEN)
    .env_remove("CI_JOB_TOKEN")
    .env_remove("CI_SERVER_URL");
    cmd
}

fn assert_one_line_without_token(output: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains(needle), "{stderr}");
    assert!(
        !stderr.contains(TOKEN) && !stdout.contains(TOKEN),
        "the token was printed"
    );
}

#[test]
fn gitlab_trigger_posts_the_form_and_prints_the_pipeline() {
    let (url, request) = http_server(
        201,
        r#"{"id":4242,"status":"created","web_url":"https://gitlab.example/group/stacks/-/pipelines/4242"}"#,
    );
    let output = run_ok(&mut trigger(&url, "acme"));
    let request = request.recv().unwrap();
    assert!(
        request.starts_with("POST /api/v4/projects/group%2Fstacks/trigger/pipeline HTTP/1.1\r\n"),
        "{request}"
    );
    assert!(
        request
            .to_ascii_lowercase()
            .contains("content-type: application/x-www-form-urlencoded"),
        "{request}"
    );
    let body = request.rsplit("\r\n\r\n").next().unwrap();
    let fields: BTreeSet<&str> = body.split('&').collect();
    let token_field = format!("token={TOKEN}");
    let expected: BTreeSet<&str> = [
        token_field.as_str(),
        "ref=main",
        "variables%5BSAAS_APPLICATION%5D=web",
        "variables%5BSAAS_TENANT%5D=acme",
    ]
    .into_iter()
    .collect();
    assert_eq!(fields, expected, "{request}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("pipeline 4242")
            && stdout.contains("https://gitlab.example/group/stacks/-/pipelines/4242"),
        "{stdout}"
    );
    assert!(!stdout.contains(TOKEN));
}

#[test]
fn gitlab_trigger_maps_errors_to_one_line_and_exit_codes() {
    let (url, _) = http_server(400, r#"{"message":{"base":["Reference not found"]}}"#);
    let output = run_code(&mut trigger(&url, "acme"), 1);
    assert_one_line_without_token(&output, "GitLab answered 400: base: Reference not found");

    let (url, _) = http_server(404, r#"{"message":"404 Project Not Found"}"#);
    let output = run_code(&mut trigger(&url, "acme"), 66);
    assert_one_line_without_token(&output, "404 Project Not Found");

    // GitLab echoing the token back must not print it either.
    let (url, _) = http_server(401, r#"{"message":"invalid token glptt-e2e-secret-token"}"#);
    let output = run_code(&mut trigger(&url, "acme"), 1);
    assert_one_line_without_token(&output, "invalid token [redacted]");

    let (url, _) = http_server(502, "<html>bad gateway</html>");
    let output = run_code(&mut trigger(&url, "acme"), 69);
    assert_one_line_without_token(&output, "GitLab answered 502");

    // Invalid tenant ids and a missing token fail before any request.
    let output = run_code(&mut trigger("http://127.0.0.1:9", "../acme"), 65);
    assert_one_line_without_token(&output, "invalid tenant");
    let mut no_token = trigger("http://127.0.0.1:9", "acme");
    no_token.env_remove("SAAS_GITLAB_TRIGGER_TOKEN");
    let output = run_code(&mut no_token, 64);
    assert_one_line_without_token(&output, "no GitLab token");
    // Nothing listens on port 9: unavailable.
    let output = run_code(&mut trigger("http://127.0.0.1:9", "acme"), 69);
    assert_one_line_without_token(&output, "cannot reach GitLab");
}
