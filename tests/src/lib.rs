//! Shared harness for the end-to-end tests.
//!
//! The tests run against the real components that `scripts/test` prepares:
//! the binaries in `target/debug`, the tools and Terraform CLI config from
//! `scripts/setup` (`.tools/`), and one moto server from `scripts/servers`
//! shared by every test. Tests never share names: use [`unique_name`].

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

const SETUP_HINT: &str =
    "run the tests with scripts/test (it builds, sets up .tools/ and starts moto)";

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// A binary built by `cargo build`, e.g. `bin("saasctl")`.
pub fn bin(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"));
    let path = target.join("debug").join(name);
    assert!(
        path.is_file(),
        "{} is not built: {SETUP_HINT}",
        path.display()
    );
    path
}

/// The base URL of the shared moto server (S3 and DynamoDB).
pub fn moto_url() -> String {
    match std::env::var("SAAS_MOTO_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => panic!("SAAS_MOTO_URL is not set: {SETUP_HINT}, or source .tools/run/servers.env"),
    }
}

/// A name no other test (in this or an earlier run on the same moto) uses:
/// `<prefix>-<time+pid>-<counter>`, lowercase, DNS-safe, at most
/// `prefix.len() + 17` chars, so it fits bucket names, table names and
/// tenant ids for prefixes up to 20 chars.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    assert!(
        !prefix.is_empty()
            && prefix.len() <= 20
            && prefix.starts_with(|c: char| c.is_ascii_lowercase())
            && prefix
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
        "unique_name prefix {prefix:?} must be 1-20 chars of [a-z0-9-] starting with a letter"
    );
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    // Seconds within ~2 years plus the pid tell runs apart; the counter tells names apart.
    let run = (seconds % 36u64.pow(5)) * 10_000_000 + u64::from(std::process::id());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{}", base36(run), base36(u64::from(n)))
}

fn base36(mut n: u64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).expect("ascii digits")
}

/// A basic-tier tenant `id` ("Tenant ID", `ops@ID.example`) of `app` with
/// `variables` (inserted in order) and `secrets` as sensitive variables.
pub fn tenant(
    app: &str,
    id: &str,
    variables: &[(&str, &str)],
    secrets: &[(&str, &str)],
) -> saas_registry::Tenant {
    let mut t = saas_registry::Tenant::new(
        id,
        format!("Tenant {id}"),
        format!("ops@{id}.example"),
        "basic",
    );
    t.applications.insert(app.to_string());
    for (k, v) in variables {
        t.variables.insert(k.to_string(), (*v).into());
    }
    for (k, v) in secrets {
        t.sensitive_variables.insert(k.to_string(), (*v).into());
    }
    t
}

/// A `sqlite://` registry URL for a fresh database file in `dir`.
pub fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("registry.db").display())
}

/// `terraform` in `dir`, non-interactive, with the project's CLI config.
///
/// Uses `.tools/bin/terraform` (what `scripts/setup` chose) when it exists,
/// and `TF_CLI_CONFIG_FILE` from the environment, else `.tools/terraformrc`.
pub fn terraform(dir: &Path) -> Command {
    let tools = root().join(".tools");
    let program = tools.join("bin").join("terraform");
    let mut cmd = if program.exists() {
        Command::new(program)
    } else {
        Command::new("terraform")
    };
    if std::env::var_os("TF_CLI_CONFIG_FILE").is_none() {
        cmd.env("TF_CLI_CONFIG_FILE", tools.join("terraformrc"));
    }
    cmd.current_dir(dir)
        .env("TF_IN_AUTOMATION", "1")
        .env("TF_INPUT", "0")
        .env("CHECKPOINT_DISABLE", "1");
    cmd
}

/// `gitlab-ci-local` (Node 22 wrapper from `scripts/setup`) in `dir`, with
/// the shell executor. `dir` must be a git work tree (`git init` is enough).
pub fn gitlab_ci_local(dir: &Path) -> Command {
    let program = root().join(".tools").join("bin").join("gitlab-ci-local");
    assert!(
        program.is_file(),
        "{} is missing: {SETUP_HINT}",
        program.display()
    );
    let mut cmd = Command::new(program);
    cmd.current_dir(dir)
        .env("NO_COLOR", "1")
        .arg("--shell-executor-no-image");
    cmd
}

/// Opens a release page in headless chromium (`tests/browser/check-page.cjs`)
/// and returns what it saw (rows, counts, script errors, requests, first
/// paint, the page without JavaScript); saves a screenshot to `screenshot`.
pub fn browser_check(page: &Path, screenshot: &Path) -> serde_json::Value {
    let node_dir = root().join(".tools/node/node_modules");
    let node = node_dir.join(".bin/node");
    let playwright = node_dir.join("playwright-core");
    assert!(
        node.is_file() && playwright.is_dir(),
        "node or playwright-core is missing under {}: {SETUP_HINT}",
        node_dir.display()
    );
    let out = run_ok(
        Command::new(node)
            .arg(root().join("tests/browser/check-page.cjs"))
            .arg(page)
            .arg(screenshot)
            .env("SAAS_PLAYWRIGHT", playwright),
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "check-page.cjs printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// Runs `cmd` to completion. On failure its command line, exit code, stdout
/// and stderr are printed (the test runner shows them for failed tests).
pub fn run(cmd: &mut Command) -> Output {
    let output = cmd
        .output()
        .unwrap_or_else(|err| panic!("cannot start {}: {err}", describe(cmd)));
    if !output.status.success() {
        eprintln!("{}", report(cmd, &output));
    }
    output
}

/// Runs `cmd` and panics with its output unless it exits with `code`
/// (e.g. 2 for `terraform plan -detailed-exitcode` with changes).
pub fn run_code(cmd: &mut Command, code: i32) -> Output {
    let output = run(cmd);
    if output.status.code() != Some(code) {
        panic!("expected exit code {code}\n{}", report(cmd, &output));
    }
    output
}

/// Runs `cmd` and panics with its output unless it succeeds.
pub fn run_ok(cmd: &mut Command) -> Output {
    run_code(cmd, 0)
}

fn describe(cmd: &Command) -> String {
    let mut line = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        line.push(' ');
        line.push_str(&arg.to_string_lossy());
    }
    line
}

fn report(cmd: &Command, output: &Output) -> String {
    format!(
        "$ {} (in {})\nexit: {}\n--- stdout\n{}--- stderr\n{}",
        describe(cmd),
        cmd.get_current_dir()
            .map_or_else(|| ".".into(), |dir| dir.display().to_string()),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    )
}

/// The AWS SDK config from the standard chain (`scripts/servers` exports test
/// credentials and the region), with every endpoint pointed at moto.
pub async fn aws_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(moto_url())
        .load()
        .await
}

/// An S3 client for moto (path-style addressing, as moto on a port needs).
pub async fn s3_client() -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(&aws_config().await)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// A Terraform state object in moto's S3, parsed.
pub async fn state_object(bucket: &str, key: &str) -> serde_json::Value {
    let object = s3_client()
        .await
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("no state object s3://{bucket}/{key}: {e:?}"));
    serde_json::from_slice(&object.body.collect().await.unwrap().into_bytes()).unwrap()
}

/// A DynamoDB client for moto.
pub async fn dynamodb_client() -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&aws_config().await)
}

/// What every `saasctl` the tests start sees: the project's terraform and
/// its CLI config on PATH, test credentials, every AWS endpoint at
/// `endpoint`, no colour, and none of the user's variables that would change
/// saasctl's behaviour (`SAAS_REGISTRY`, `SAAS_TERRAFORM`, `TF_PLUGIN_CACHE_DIR`).
pub fn tool_env(cmd: &mut Command, endpoint: &str) {
    let tools = root().join(".tools");
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![tools.join("bin")];
    dirs.extend(std::env::split_paths(&path));
    cmd.env("PATH", std::env::join_paths(dirs).unwrap());
    if std::env::var_os("TF_CLI_CONFIG_FILE").is_none() {
        cmd.env("TF_CLI_CONFIG_FILE", tools.join("terraformrc"));
    }
    cmd.env("AWS_ENDPOINT_URL_S3", endpoint)
        .env("AWS_ENDPOINT_URL_DYNAMODB", endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("NO_COLOR", "1")
        .env_remove("AWS_PROFILE")
        .env_remove("SAAS_REGISTRY")
        .env_remove("SAAS_TERRAFORM")
        .env_remove("TF_PLUGIN_CACHE_DIR");
}

/// `saasctl --registry REGISTRY ARGS...` in `dir`, with [`tool_env`].
pub fn saasctl(dir: &Path, registry: &str, endpoint: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(bin("saasctl"));
    cmd.arg("--registry")
        .arg(registry)
        .args(args)
        .current_dir(dir);
    tool_env(&mut cmd, endpoint);
    cmd
}

/// Every regular file under `dir`, symlinks not followed (the run's
/// provider links point at large binaries outside it).
pub fn files(dir: &Path) -> Vec<PathBuf> {
    files_skipping(dir, &[])
}

/// [`files`], not descending into directories named in `skip`.
pub fn files_skipping(dir: &Path, skip: &[&str]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            let kind = entry.file_type().unwrap();
            if kind.is_dir() && !skip.iter().any(|s| entry.file_name() == *s) {
                todo.push(entry.path());
            } else if kind.is_file() {
                found.push(entry.path());
            }
        }
    }
    found.sort();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_are_distinct_and_dns_safe() {
        let a = unique_name("bucket");
        let b = unique_name("bucket");
        assert_ne!(a, b);
        for name in [&a, &b] {
            assert!(name.starts_with("bucket-"), "{name}");
            assert!(name.len() <= "bucket".len() + 17, "{name} is too long");
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{name}"
            );
            assert!(!name.ends_with('-'), "{name}");
        }
    }

    #[test]
    #[should_panic(expected = "must be 1-20 chars")]
    fn unique_name_rejects_prefixes_that_are_not_dns_safe() {
        unique_name("Bad_Prefix");
    }

    #[test]
    fn base36_counts() {
        assert_eq!(base36(0), "0");
        assert_eq!(base36(35), "z");
        assert_eq!(base36(36), "10");
    }

    #[test]
    fn sqlite_url_points_into_the_directory() {
        assert_eq!(
            sqlite_url(Path::new("/tmp/x")),
            "sqlite:///tmp/x/registry.db"
        );
    }
}
