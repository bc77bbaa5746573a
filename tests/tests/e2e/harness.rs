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
    let tables = dynamodb_client().await.list_tables().send().await.unwrap();
    assert!(tables.table_names().contains(&table), "{tables:?}");
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
