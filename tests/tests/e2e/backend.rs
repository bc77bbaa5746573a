//! `saasctl backend config|bootstrap|policy` against moto and real terraform:
//! a plain `terraform init` works with `backend config` output, each
//! tenant's IAM policy names nothing of another tenant, and bad names and
//! unreachable endpoints fail clearly. `bootstrap` holds the hardening tests.

mod bootstrap;

use std::fs;
use std::path::Path;
use std::process::Command;

use saas_e2e::{
    dynamodb_client, moto_url, run_code, run_ok, s3_client, sqlite_url, terraform, unique_name,
};
use saas_registry::{Application, Isolation, LockKind, Registry, StateConfig, Tenant};
use serde_json::Value;

/// A registry in a temp dir holding one application and its tenants.
struct Fixture {
    dir: tempfile::TempDir,
    url: String,
    app: Application,
}

impl Fixture {
    async fn new(state: StateConfig, tenants: &[&str]) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let url = sqlite_url(dir.path());
        let registry = Registry::open(&url).await.unwrap();
        let app = registry
            .create_application(&Application::new("web", state))
            .await
            .unwrap();
        let fixture = Fixture { dir, url, app };
        for id in tenants {
            fixture.add_tenant(&registry, id).await;
        }
        fixture
    }

    async fn registry(&self) -> Registry {
        Registry::open(&self.url).await.unwrap()
    }

    async fn add_tenant(&self, registry: &Registry, id: &str) {
        registry.create_tenant(&self.tenant(id)).await.unwrap();
    }

    fn tenant(&self, id: &str) -> Tenant {
        saas_e2e::tenant(&self.app.name, id, &[], &[])
    }

    fn backend(&self, id: &str) -> saas_registry::BackendSettings {
        saas_registry::derive_backend(&self.app, id).unwrap()
    }

    /// `saasctl backend bootstrap -a web --tls-policy always ARGS...`: moto is
    /// plain HTTP, where the default leaves the TLS-only policy out.
    fn harden(&self, args: &[&str]) -> Command {
        let mut cmd = self.saasctl(&[
            "backend",
            "bootstrap",
            "-a",
            "web",
            "--tls-policy",
            "always",
        ]);
        cmd.args(args);
        cmd
    }

    /// `saasctl --registry URL ARGS...`, talking to moto.
    fn saasctl(&self, args: &[&str]) -> Command {
        saas_e2e::saasctl(self.dir.path(), &self.url, &moto_url(), args)
    }
}

fn bucket_state(prefix: &str, lock: LockKind) -> StateConfig {
    StateConfig {
        isolation: Isolation::Bucket,
        bucket_prefix: Some(prefix.to_string()),
        lock,
        lock_table: (lock == LockKind::Dynamodb).then(|| format!("{prefix}-lock")),
        ..Default::default()
    }
}

fn prefix_state(bucket: &str, table: Option<&str>) -> StateConfig {
    StateConfig {
        bucket: Some(bucket.to_string()),
        lock: if table.is_some() {
            LockKind::Dynamodb
        } else {
            LockKind::S3
        },
        lock_table: table.map(str::to_string),
        ..Default::default()
    }
}

async fn bucket_exists(bucket: &str) -> bool {
    s3_client()
        .await
        .head_bucket()
        .bucket(bucket)
        .send()
        .await
        .is_ok()
}

#[tokio::test]
async fn bootstrap_against_an_unreachable_endpoint_is_one_line_exit_69() {
    let fx = Fixture::new(
        bucket_state(&unique_name("bs-down"), LockKind::Dynamodb),
        &["t1"],
    )
    .await;
    let mut cmd = fx.saasctl(&["backend", "bootstrap", "-a", "web"]);
    // Port 9 (discard) is closed on loopback: connection refused.
    saas_e2e::tool_env(&mut cmd, "http://127.0.0.1:9");
    let output = run_code(&mut cmd, 69);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: ") && stderr.contains("unreachable"),
        "{stderr}"
    );
}

#[tokio::test]
async fn invalid_derived_names_fail_before_anything_is_created() {
    let prefix = unique_name("bs-bad");
    let fx = Fixture::new(bucket_state(&prefix, LockKind::Dynamodb), &["good"]).await;

    // `backend config` derives before it looks the tenant up, so the rule shows.
    let output = run_code(
        &mut fx.saasctl(&["backend", "config", "-a", "web", "-t", "x-s3alias"]),
        65,
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("state.bucket") && stderr.contains("reserved suffix \"-s3alias\""),
        "{stderr}"
    );
    let output = run_code(
        &mut fx.saasctl(&["backend", "config", "-a", "web", "-t", "../evil"]),
        65,
    );
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("invalid tenant"),
        "{output:?}"
    );

    // Records from before the state config changed underneath them: the app
    // was prefix-isolated when "legacy-s3alias" was onboarded, and its state
    // config was then rewritten in the store directly.
    let shared = unique_name("bs-bad-shared");
    let legacy = Fixture::new(
        prefix_state(&shared, Some("bs-bad-lock")),
        &["good", "legacy-s3alias"],
    )
    .await;
    let mut changed = legacy.app.clone();
    changed.state = bucket_state(&prefix, LockKind::Dynamodb);
    changed.meta.version += 1;
    legacy
        .registry()
        .await
        .store()
        .replace_application(&changed, legacy.app.meta.version)
        .await
        .unwrap();
    let output = run_code(
        &mut legacy.saasctl(&["backend", "bootstrap", "-a", "web"]),
        65,
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("tenant \"legacy-s3alias\"")
            && stderr.contains("ends with the reserved suffix"),
        "{stderr}"
    );
    assert!(
        !bucket_exists(&fx.backend("good").bucket).await,
        "nothing is created for the valid tenant either"
    );
}

/// Plain `terraform init` with nothing but `backend config` output (the
/// endpoint env vars removed), in each of the three formats.
#[tokio::test]
async fn backend_config_output_is_enough_for_a_plain_terraform_init() {
    let bucket = unique_name("bs-cfg");
    let table = unique_name("bs-cfg-lock");
    let fx = Fixture::new(prefix_state(&bucket, Some(&table)), &["t1", "t2", "t3"]).await;
    // moto is plain HTTP: a TLS-only policy would lock Terraform out, so the
    // default leaves it off and says so.
    let out = run_ok(&mut fx.saasctl(&["backend", "bootstrap", "-a", "web"]));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("plain HTTP"),
        "{out:?}"
    );

    for (tenant, format) in [("t1", "args"), ("t2", "hcl"), ("t3", "json")] {
        let b = init_and_apply(&fx, tenant, format).await;
        let digest = dynamodb_client()
            .await
            .get_item()
            .table_name(&table)
            .key(
                "LockID",
                aws_sdk_dynamodb::types::AttributeValue::S(format!("{}-md5", b.lock_id())),
            )
            .send()
            .await
            .unwrap();
        assert!(
            digest.item().is_some(),
            "{format}: no lock digest for {}",
            b.lock_id()
        );
    }

    // Bucket isolation with the S3 lockfile instead of a table.
    let lockfile = Fixture::new(bucket_state(&unique_name("bs-cfg"), LockKind::S3), &["t1"]).await;
    run_ok(&mut lockfile.saasctl(&["backend", "bootstrap", "-a", "web"]));
    init_and_apply(&lockfile, "t1", "args").await;
}

const TRIVIAL_STACK: &str =
    "terraform {\n  backend \"s3\" {}\n}\nresource \"terraform_data\" \"t\" {\n  input = \"x\"\n}\n";

/// `terraform init` with `backend config -f FORMAT` output, then `apply`;
/// the state object must land at the tenant's derived bucket and key.
async fn init_and_apply(
    fx: &Fixture,
    tenant: &str,
    format: &str,
) -> saas_registry::BackendSettings {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("main.tf"), TRIVIAL_STACK).unwrap();
    let config =
        run_ok(&mut fx.saasctl(&["backend", "config", "-a", "web", "-t", tenant, "-f", format]));
    let init = match format {
        "args" => {
            fs::write(dir.path().join("args.txt"), &config.stdout).unwrap();
            // The lines go through a shell, as in a CI job.
            shell_terraform(
                dir.path(),
                "xargs -a args.txt \"$TERRAFORM\" init -input=false -no-color",
            )
        }
        _ => {
            let file = format!("backend.{format}");
            fs::write(dir.path().join(&file), &config.stdout).unwrap();
            let mut cmd = plain_terraform(dir.path());
            cmd.args([
                "init",
                "-input=false",
                "-no-color",
                &format!("-backend-config={file}"),
            ]);
            cmd
        }
    };
    let dir_path = dir.path().to_path_buf();
    tokio::task::spawn_blocking(move || {
        let mut init = init;
        run_ok(&mut init);
        run_ok(plain_terraform(&dir_path).args([
            "apply",
            "-auto-approve",
            "-input=false",
            "-no-color",
        ]));
    })
    .await
    .unwrap();

    let b = fx.backend(tenant);
    let state = s3_client()
        .await
        .get_object()
        .bucket(&b.bucket)
        .key(&b.key)
        .send()
        .await;
    assert!(
        state.is_ok(),
        "{format}: no state at s3://{}/{}",
        b.bucket,
        b.key
    );
    b
}

/// `terraform` as the harness runs it, minus the endpoint variables, so only
/// the backend config can point it at moto.
fn plain_terraform(dir: &Path) -> Command {
    let mut cmd = terraform(dir);
    for var in [
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
        "AWS_ENDPOINT_URL_DYNAMODB",
        "AWS_PROFILE",
    ] {
        cmd.env_remove(var);
    }
    for var in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
        if std::env::var_os(var).is_none() {
            cmd.env(var, "test");
        }
    }
    cmd.env("AWS_REGION", "us-east-1");
    cmd
}

/// `sh -c SCRIPT` in `dir` with the environment of `plain_terraform` and
/// `$TERRAFORM` naming its program.
fn shell_terraform(dir: &Path, script: &str) -> Command {
    let tf = plain_terraform(dir);
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(script)
        .current_dir(dir)
        .env("TERRAFORM", tf.get_program());
    for (k, v) in tf.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    cmd
}

#[tokio::test]
async fn tenant_policies_name_no_other_tenants_resource() {
    let ids = ["t1", "t10", "t1-a", "a-t1"];
    let shared = Fixture::new(
        prefix_state(&unique_name("bs-pol"), Some(&unique_name("bs-pol-lock"))),
        &ids,
    )
    .await;
    let isolated = Fixture::new(bucket_state(&unique_name("bs-pol"), LockKind::S3), &ids).await;
    for fx in [&shared, &isolated] {
        for id in ids {
            let out = run_ok(&mut fx.saasctl(&["backend", "policy", "-a", "web", "-t", id]));
            let policy: Value = serde_json::from_slice(&out.stdout).unwrap();
            let patterns = policy_values(&policy);
            let own = fx.backend(id);
            assert!(
                patterns.contains(&format!("arn:aws:s3:::{}/{}", own.bucket, own.key)),
                "{policy}"
            );
            for other in ids.iter().filter(|o| **o != id) {
                let theirs = fx.backend(other);
                let mut names = vec![
                    format!("arn:aws:s3:::{}/{}", theirs.bucket, theirs.key),
                    format!("arn:aws:s3:::{}/{}", theirs.bucket, theirs.lockfile_key()),
                    theirs.key.clone(),
                    theirs.lock_id(),
                    format!("{}-md5", theirs.lock_id()),
                ];
                if theirs.bucket != own.bucket {
                    names.push(format!("arn:aws:s3:::{}", theirs.bucket));
                }
                for name in &names {
                    if let Some(p) = patterns.iter().find(|p| wildcard_match(p, name)) {
                        panic!("{id}'s policy value {p:?} matches {other}'s {name:?}:\n{policy:#}");
                    }
                }
            }
        }
    }
    // An unknown tenant gets a not-found error (66), not a policy.
    run_code(
        &mut shared.saasctl(&["backend", "policy", "-a", "web", "-t", "nobody"]),
        66,
    );
}

/// Every Resource and condition value in a policy document.
fn policy_values(policy: &Value) -> Vec<String> {
    fn strings(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) => out.push(s.clone()),
            Value::Array(list) => list.iter().for_each(|v| strings(v, out)),
            Value::Object(map) => map.values().for_each(|v| strings(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for statement in policy["Statement"].as_array().unwrap() {
        strings(&statement["Resource"], &mut out);
        strings(&statement["Condition"], &mut out);
    }
    out
}

/// IAM wildcard matching (`*` any run, `?` one character), written out here
/// so the test does not trust saasctl's own matcher.
fn wildcard_match(pattern: &str, text: &str) -> bool {
    fn go(p: &[u8], t: &[u8]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], t) || (!t.is_empty() && go(p, &t[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &t[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), text.as_bytes())
}

#[test]
fn wildcard_matching_in_this_test_is_sound() {
    assert!(wildcard_match(
        "arn:aws:s3:::b/*",
        "arn:aws:s3:::b/web/t1/x"
    ));
    assert!(!wildcard_match(
        "arn:aws:s3:::b/web/t1/terraform.tfstate",
        "arn:aws:s3:::b/web/t10/terraform.tfstate"
    ));
    assert!(wildcard_match("a?c*", "abcdef") && !wildcard_match("abc", "ab"));
}
