//! `saasctl backend config|bootstrap|policy` against moto and real terraform:
//! bootstrap creates hardened buckets and lock tables idempotently, `--check`
//! catches drift, a plain `terraform init` works with `backend config`
//! output, and each tenant's IAM policy names nothing of another tenant.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ProvisionedThroughput,
    ScalarAttributeType,
};
use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
use saas_e2e::{
    bin, dynamodb_client, moto_url, run_code, run_ok, s3_client, sqlite_url, terraform, unique_name,
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
        let mut t = Tenant::new(
            id,
            format!("Tenant {id}"),
            format!("ops@{id}.example"),
            "basic",
        );
        t.applications.insert(self.app.name.clone());
        t
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
        let mut cmd = Command::new(bin("saasctl"));
        cmd.arg("--registry")
            .arg(&self.url)
            .args(args)
            .current_dir(self.dir.path());
        aws_env(&mut cmd, &moto_url());
        cmd
    }
}

/// Test credentials and every AWS endpoint pointed at `endpoint`.
fn aws_env(cmd: &mut Command, endpoint: &str) {
    cmd.env("AWS_ENDPOINT_URL_S3", endpoint)
        .env("AWS_ENDPOINT_URL_DYNAMODB", endpoint)
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_PROFILE");
    for var in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
        if std::env::var_os(var).is_none() {
            cmd.env(var, "test");
        }
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

/// The JSON report of a `backend bootstrap -o json` run.
fn report(output: &Output) -> Vec<Value> {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "bootstrap report is not JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

fn status_of<'a>(items: &'a [Value], kind: &str, name: &str) -> &'a str {
    items
        .iter()
        .find(|i| i["kind"] == kind && i["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in {items:?}"))["status"]
        .as_str()
        .unwrap()
}

fn statuses(items: &[Value]) -> Vec<&str> {
    items
        .iter()
        .map(|i| i["status"].as_str().unwrap())
        .collect()
}

async fn assert_bucket_hardened(bucket: &str, algorithm: &str) {
    let s3 = s3_client().await;
    assert_eq!(
        versioning(bucket).await.as_deref(),
        Some("Enabled"),
        "{bucket}"
    );

    let enc = s3
        .get_bucket_encryption()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    let rule = &enc.server_side_encryption_configuration().unwrap().rules()[0];
    let default = rule.apply_server_side_encryption_by_default().unwrap();
    assert_eq!(default.sse_algorithm().as_str(), algorithm, "{bucket}");
    if algorithm == "aws:kms" {
        assert_eq!(
            rule.bucket_key_enabled(),
            Some(true),
            "{bucket}: KMS with a bucket key"
        );
    }

    let pab = s3
        .get_public_access_block()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    let pab = pab.public_access_block_configuration().unwrap();
    for flag in [
        pab.block_public_acls(),
        pab.ignore_public_acls(),
        pab.block_public_policy(),
        pab.restrict_public_buckets(),
    ] {
        assert_eq!(flag, Some(true), "{bucket}: {pab:?}");
    }

    let policy = s3.get_bucket_policy().bucket(bucket).send().await.unwrap();
    let policy: Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
    let tls = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Effect"] == "Deny" && s["Condition"]["Bool"]["aws:SecureTransport"] == "false")
        .unwrap_or_else(|| panic!("{bucket}: no TLS deny statement in {policy}"));
    assert_eq!(tls["Action"], "s3:*");
    assert_eq!(
        tls["Resource"],
        serde_json::json!([
            format!("arn:aws:s3:::{bucket}"),
            format!("arn:aws:s3:::{bucket}/*")
        ])
    );
}

/// A bucket's versioning status. moto 5 answers with a root element the SDK
/// rejects (`GetBucketVersioningResponse`), so fall back to the raw body.
async fn versioning(bucket: &str) -> Option<String> {
    match s3_client()
        .await
        .get_bucket_versioning()
        .bucket(bucket)
        .send()
        .await
    {
        Ok(out) => out.status().map(|s| s.as_str().to_string()),
        Err(err) => {
            let raw = err.raw_response().expect("a response from moto");
            assert!(raw.status().is_success(), "{err:?}");
            let body = String::from_utf8_lossy(raw.body().bytes().unwrap()).into_owned();
            let status = body.split_once("<Status>")?.1.split_once("</Status>")?.0;
            Some(status.to_string())
        }
    }
}

async fn assert_lock_table(table: &str) {
    let out = dynamodb_client()
        .await
        .describe_table()
        .table_name(table)
        .send()
        .await
        .unwrap();
    let t = out.table().unwrap();
    assert_eq!(
        t.billing_mode_summary().and_then(|b| b.billing_mode()),
        Some(&BillingMode::PayPerRequest),
        "{table}"
    );
    assert_eq!(t.key_schema().len(), 1, "{table}");
    assert_eq!(t.key_schema()[0].attribute_name(), "LockID");
    assert_eq!(t.key_schema()[0].key_type(), &KeyType::Hash);
    assert_eq!(
        t.attribute_definitions()[0].attribute_type(),
        &ScalarAttributeType::S
    );
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
async fn bootstrap_is_idempotent_and_check_catches_suspended_versioning() {
    let prefix = unique_name("bs");
    // Twelve tenants: more lock tables than are created at once (10).
    let ids: Vec<String> = (1..=12).map(|i| format!("t{i}")).collect();
    let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let fx = Fixture::new(bucket_state(&prefix, LockKind::Dynamodb), &id_refs).await;

    let first = report(&run_ok(&mut fx.harden(&["-o", "json"])));
    assert_eq!(first.len(), 24, "12 buckets and 12 tables: {first:?}");
    assert!(
        statuses(&first).iter().all(|s| *s == "created"),
        "{first:?}"
    );
    for id in &ids {
        let b = fx.backend(id);
        assert_bucket_hardened(&b.bucket, "aws:kms").await;
        assert_lock_table(b.lock_table.as_deref().unwrap()).await;
    }

    let second = report(&run_ok(&mut fx.harden(&["-o", "json"])));
    assert_eq!(second.len(), 24);
    assert!(
        statuses(&second).iter().all(|s| *s == "correct"),
        "second run creates nothing: {second:?}"
    );
    run_ok(&mut fx.harden(&["--check"]));

    // Someone suspends versioning on t2's bucket.
    let drifted = fx.backend("t2").bucket;
    let suspend = VersioningConfiguration::builder()
        .status(BucketVersioningStatus::Suspended)
        .build();
    let s3 = s3_client().await;
    s3.put_bucket_versioning()
        .bucket(&drifted)
        .versioning_configuration(suspend)
        .send()
        .await
        .unwrap();

    let check = report(&run_code(&mut fx.harden(&["--check", "-o", "json"]), 2));
    assert_eq!(status_of(&check, "bucket", &drifted), "drifted");
    let item = check
        .iter()
        .find(|i| i["name"] == drifted.as_str())
        .unwrap();
    assert!(
        item["details"][0]
            .as_str()
            .unwrap()
            .contains("versioning Suspended"),
        "{item}"
    );
    assert_eq!(
        statuses(&check).iter().filter(|s| **s == "correct").count(),
        23,
        "{check:?}"
    );
    assert_eq!(
        versioning(&drifted).await.as_deref(),
        Some("Suspended"),
        "--check changes nothing"
    );

    // The table output names the drift too, on one line per item.
    let table = run_code(&mut fx.harden(&["--check", "-t", "t2"]), 2);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains("drifted") && text.contains("versioning Suspended (want Enabled)"),
        "{text}"
    );

    let fix = report(&run_ok(&mut fx.harden(&["-o", "json"])));
    assert_eq!(status_of(&fix, "bucket", &drifted), "fixed");
    assert_bucket_hardened(&drifted, "aws:kms").await;
    run_ok(&mut fx.harden(&["--check"]));
}

#[tokio::test]
async fn prefix_isolation_shares_one_bucket_and_table_and_existing_ones_are_fixed_in_place() {
    let bucket = unique_name("bs-shared");
    let table = unique_name("bs-shared-lock");
    let fx = Fixture::new(
        prefix_state(&bucket, Some(&table)),
        &["alpha", "beta", "gamma"],
    )
    .await;

    // Nothing exists yet: --check reports both missing and exits 2.
    let check = report(&run_code(&mut fx.harden(&["--check", "-o", "json"]), 2));
    assert_eq!(statuses(&check), ["missing", "missing"], "{check:?}");
    assert!(!bucket_exists(&bucket).await, "--check creates nothing");

    // The bucket exists with another team's policy statement; the table is provisioned.
    let s3 = s3_client().await;
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let keep = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"Keep","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::123456789012:root"}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::{bucket}/*"}}]}}"#
    );
    s3.put_bucket_policy()
        .bucket(&bucket)
        .policy(keep)
        .send()
        .await
        .unwrap();
    create_table(&table, "LockID", true).await;

    let out = report(&run_ok(&mut fx.harden(&[
        "--encryption",
        "aes256",
        "-o",
        "json",
    ])));
    assert_eq!(
        out.len(),
        2,
        "three tenants share one bucket and one table: {out:?}"
    );
    assert_eq!(status_of(&out, "bucket", &bucket), "fixed");
    assert_eq!(status_of(&out, "table", &table), "fixed");
    assert_bucket_hardened(&bucket, "AES256").await;
    assert_lock_table(&table).await;
    let policy = s3.get_bucket_policy().bucket(&bucket).send().await.unwrap();
    assert!(
        policy.policy().unwrap().contains("\"Keep\""),
        "other statements survive: {policy:?}"
    );

    // Checking for KMS now reports the AES256 bucket as drifted.
    let kms = report(&run_code(&mut fx.harden(&["--check", "-o", "json"]), 2));
    assert_eq!(status_of(&kms, "bucket", &bucket), "drifted");
    run_ok(&mut fx.harden(&["--check", "--encryption", "aes256"]));
}

#[tokio::test]
async fn s3_lockfile_apps_get_no_tables_and_a_wrong_lock_table_fails_clearly() {
    let prefix = unique_name("bs-lf");
    let fx = Fixture::new(bucket_state(&prefix, LockKind::S3), &["t1", "t2"]).await;
    let out = report(&run_ok(&mut fx.harden(&["-o", "json"])));
    assert_eq!(out.len(), 2, "{out:?}");
    assert!(
        out.iter()
            .all(|i| i["kind"] == "bucket" && i["status"] == "created"),
        "{out:?}"
    );
    assert_bucket_hardened(&fx.backend("t1").bucket, "aws:kms").await;

    // A pre-existing "lock table" whose key is not LockID cannot be fixed in place.
    let bucket = unique_name("bs-wrong");
    let table = unique_name("bs-wrong-lock");
    let wrong = Fixture::new(prefix_state(&bucket, Some(&table)), &["t1"]).await;
    create_table(&table, "id", false).await;
    let output = run_code(&mut wrong.harden(&["-o", "json"]), 1);
    let items = report(&output);
    assert_eq!(
        status_of(&items, "bucket", &bucket),
        "created",
        "the bucket is still done"
    );
    assert_eq!(status_of(&items, "table", &table), "failed");
    let details = items.iter().find(|i| i["kind"] == "table").unwrap()["details"].to_string();
    assert!(
        details.contains("key schema [id:HASH:S]") && details.contains("recreate the table"),
        "{details}"
    );
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
    aws_env(&mut cmd, "http://127.0.0.1:9");
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

    let stack = "terraform {\n  backend \"s3\" {}\n}\nresource \"terraform_data\" \"t\" {\n  input = \"x\"\n}\n";
    let cases = [("t1", "args"), ("t2", "hcl"), ("t3", "json")];
    for (tenant, format) in cases {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("main.tf"), stack).unwrap();
        let config = run_ok(
            &mut fx.saasctl(&["backend", "config", "-a", "web", "-t", tenant, "-f", format]),
        );
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
                let file = format!("backend.{}", if format == "hcl" { "hcl" } else { "json" });
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

async fn create_table(name: &str, key: &str, provisioned: bool) {
    let mut request = dynamodb_client()
        .await
        .create_table()
        .table_name(name)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(key)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name(key)
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        );
    request = if provisioned {
        request
            .billing_mode(BillingMode::Provisioned)
            .provisioned_throughput(
                ProvisionedThroughput::builder()
                    .read_capacity_units(1)
                    .write_capacity_units(1)
                    .build()
                    .unwrap(),
            )
    } else {
        request.billing_mode(BillingMode::PayPerRequest)
    };
    request.send().await.unwrap();
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
