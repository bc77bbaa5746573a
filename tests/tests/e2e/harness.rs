//! Smoke tests of the harness itself: terraform, its CLI config, moto and gitlab-ci-local work
//! together as `scripts/test` set them up.

use std::fs;
use std::process::Command;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use saas_e2e::{
    dynamodb_client, gitlab_ci_local, moto_url, run_code, run_ok, s3_client, terraform, unique_name,
};

const TRIVIAL_CONFIG: &str = r#"
resource "terraform_data" "greeting" {
  input = "hello"
}

output "greeting" {
  value = terraform_data.greeting.output
}
"#;

#[test]
fn terraform_plans_and_applies_a_trivial_config() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("main.tf"), TRIVIAL_CONFIG).unwrap();

    run_ok(terraform(dir.path()).args(["init", "-no-color"]));
    run_code(
        terraform(dir.path()).args(["plan", "-detailed-exitcode", "-no-color"]),
        2,
    );
    run_ok(terraform(dir.path()).args(["apply", "-auto-approve", "-no-color"]));
    run_code(
        terraform(dir.path()).args(["plan", "-detailed-exitcode", "-no-color"]),
        0,
    );
    let output = run_ok(terraform(dir.path()).args(["output", "-raw", "greeting"]));
    assert_eq!(String::from_utf8_lossy(&output.stdout), "hello");
}

#[test]
fn terraform_reports_configuration_errors_with_exit_code_1() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("main.tf"),
        "resource \"terraform_data\" \"x\" {\n  no_such_argument = 1\n}\n",
    )
    .unwrap();
    run_ok(terraform(dir.path()).args(["init", "-no-color"]));
    let output = run_code(terraform(dir.path()).args(["validate", "-no-color"]), 1);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no_such_argument"), "{stderr}");
}

#[tokio::test]
async fn moto_serves_s3_and_dynamodb() {
    let bucket = unique_name("harness");
    let s3 = s3_client().await;
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    s3.put_object()
        .bucket(&bucket)
        .key("a/b.txt")
        .body(b"payload".to_vec().into())
        .send()
        .await
        .unwrap();
    let object = s3
        .get_object()
        .bucket(&bucket)
        .key("a/b.txt")
        .send()
        .await
        .unwrap();
    let body = object.body.collect().await.unwrap().into_bytes();
    assert_eq!(&body[..], b"payload");

    let table = unique_name("harness");
    create_lock_table(&table).await;
    // Every page: other tests share this moto, and ListTables pages at 100.
    let tables: Vec<String> = dynamodb_client()
        .await
        .list_tables()
        .into_paginator()
        .items()
        .send()
        .collect::<Result<_, _>>()
        .await
        .unwrap();
    assert!(tables.contains(&table), "{table} not in {tables:?}");
}

/// The S3 backend with a DynamoDB lock table on moto, as the tenant stacks use it:
/// the state lands in the bucket and the lock table holds the state digest.
#[tokio::test]
async fn terraform_keeps_state_in_moto_s3_with_a_dynamodb_lock() {
    let bucket = unique_name("harness-state");
    let table = unique_name("harness-lock");
    let key = "tenant/terraform.tfstate";
    s3_client()
        .await
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    create_lock_table(&table).await;

    let url = moto_url();
    let dir = tempfile::tempdir().unwrap();
    let backend = format!(
        r#"
terraform {{
  backend "s3" {{
    bucket                      = "{bucket}"
    key                         = "{key}"
    region                      = "us-east-1"
    dynamodb_table              = "{table}"
    endpoints                   = {{ s3 = "{url}", dynamodb = "{url}" }}
    use_path_style              = true
    skip_credentials_validation = true
    skip_requesting_account_id  = true
    skip_metadata_api_check     = true
    skip_region_validation      = true
  }}
}}
"#
    );
    fs::write(
        dir.path().join("main.tf"),
        format!("{backend}{TRIVIAL_CONFIG}"),
    )
    .unwrap();
    let dir_path = dir.path().to_path_buf();
    tokio::task::spawn_blocking(move || {
        run_ok(terraform(&dir_path).args(["init", "-no-color"]));
        run_ok(terraform(&dir_path).args(["apply", "-auto-approve", "-no-color"]));
    })
    .await
    .unwrap();

    let state = s3_client()
        .await
        .get_object()
        .bucket(&bucket)
        .key(key)
        .send()
        .await
        .unwrap();
    let state: serde_json::Value =
        serde_json::from_slice(&state.body.collect().await.unwrap().into_bytes()).unwrap();
    assert_eq!(state["outputs"]["greeting"]["value"], "hello");

    let digest = dynamodb_client()
        .await
        .get_item()
        .table_name(&table)
        .key("LockID", AttributeValue::S(format!("{bucket}/{key}-md5")))
        .send()
        .await
        .unwrap();
    assert!(digest.item().is_some(), "no state digest in the lock table");
}

#[test]
fn gitlab_ci_local_runs_jobs_and_reports_failures() {
    let dir = tempfile::tempdir().unwrap();
    run_ok(
        Command::new("git")
            .args(["init", "-q"])
            .current_dir(dir.path()),
    );
    fs::write(
        dir.path().join(".gitlab-ci.yml"),
        "good:\n  script:\n    - echo \"hello from $CI_JOB_NAME\"\nbad:\n  script:\n    - exit 3\n",
    )
    .unwrap();
    let output = run_code(&mut gitlab_ci_local(dir.path()), 1);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("hello from good"), "{stdout}");
    assert!(stdout.contains("PASS  good"), "{stdout}");
    assert!(stdout.contains("FAIL  bad"), "{stdout}");
}

async fn create_lock_table(table: &str) {
    dynamodb_client()
        .await
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("LockID")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("LockID")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

/// The local S3/DynamoDB never fakes a lock conflict: many concurrent
/// Terraform lock/unlock cycles over distinct state keys, two at a time,
/// with the SDK's retries cut to one attempt so that a response the client
/// lost (the cause of the spurious "state locked" failures: see
/// `scripts/moto_server_serial.py`) fails the plan instead of being hidden
/// by a retry. Against the old server this failed ~1 plan in 120.
#[tokio::test]
async fn concurrent_lock_cycles_never_see_a_spurious_conflict() {
    const KEYS: usize = 16;
    const ROUNDS: usize = 5;
    let bucket = unique_name("harness-stress");
    let table = unique_name("harness-stress");
    s3_client()
        .await
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    create_lock_table(&table).await;
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("main.tf"),
        format!("terraform {{\n  backend \"s3\" {{}}\n}}\n{TRIVIAL_CONFIG}"),
    )
    .unwrap();
    let config = dir.path().to_path_buf();
    let failures = tokio::task::spawn_blocking(move || {
        let data_dir = |i: usize| config.join(format!("data-{i}"));
        for i in 0..KEYS {
            run_ok(
                terraform(&config)
                    .env("TF_DATA_DIR", data_dir(i))
                    .args(["init", "-no-color", "-input=false"])
                    .args(stress_backend(&bucket, &table, i)),
            );
        }
        // Two workers, as `-j 2` on these 2-core machines.
        let next = std::sync::atomic::AtomicUsize::new(0);
        let failures = std::sync::Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            for _ in 0..2 {
                scope.spawn(|| loop {
                    let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if n >= KEYS * ROUNDS {
                        break;
                    }
                    let out = terraform(&config)
                        .env("TF_DATA_DIR", data_dir(n % KEYS))
                        .args(["plan", "-no-color", "-input=false", "-lock-timeout=0s"])
                        .output()
                        .unwrap();
                    if !out.status.success() {
                        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
                        failures.lock().unwrap().push(stderr);
                    }
                });
            }
        });
        failures.into_inner().unwrap()
    })
    .await
    .unwrap();
    assert!(
        failures.is_empty(),
        "{} of {} plans failed; first: {}",
        failures.len(),
        KEYS * ROUNDS,
        failures[0]
    );
}

fn stress_backend(bucket: &str, table: &str, i: usize) -> Vec<String> {
    [
        format!("bucket={bucket}"),
        format!("key=t{i}/terraform.tfstate"),
        "region=us-east-1".into(),
        format!("dynamodb_table={table}"),
        // One attempt: a lost response must show, not be retried away.
        "max_retries=1".into(),
        "use_path_style=true".into(),
        "skip_credentials_validation=true".into(),
        "skip_requesting_account_id=true".into(),
        "skip_metadata_api_check=true".into(),
        "skip_region_validation=true".into(),
    ]
    .into_iter()
    .map(|kv| format!("-backend-config={kv}"))
    .collect()
}
