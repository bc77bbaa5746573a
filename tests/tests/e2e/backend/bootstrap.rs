//! `saasctl backend bootstrap` on moto: it creates hardened buckets and lock
//! tables idempotently, fixes drift in place, and `--check` reports drift
//! without changing anything. Hardening is verified through the S3 and
//! DynamoDB APIs, not through saasctl's own report.

use std::process::{Output, Stdio};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ProvisionedThroughput,
    ScalarAttributeType,
};
use aws_sdk_s3::types::{
    BucketVersioningStatus, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule, VersioningConfiguration,
};
use saas_e2e::{dynamodb_client, run_code, run_ok, s3_client, unique_name};
use saas_registry::LockKind;
use serde_json::Value;

use super::{bucket_exists, bucket_state, prefix_state, Fixture};

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

/// `--new` (onboarding): only tenants without a state object yet get their
/// bucket and table; an existing tenant's resources are not even inspected.
#[tokio::test]
async fn bootstrap_new_only_covers_tenants_without_state() {
    let prefix = unique_name("bs-new");
    let fx = Fixture::new(bucket_state(&prefix, LockKind::Dynamodb), &["old", "fresh"]).await;
    let old = fx.backend("old");
    let s3 = s3_client().await;
    s3.create_bucket().bucket(&old.bucket).send().await.unwrap();
    s3.put_object()
        .bucket(&old.bucket)
        .key(&old.key)
        .body(b"{}".to_vec().into())
        .send()
        .await
        .unwrap();

    let out = report(&run_ok(&mut fx.harden(&["--new", "-o", "json"])));
    let fresh = fx.backend("fresh");
    let names: Vec<&str> = out.iter().map(|i| i["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [fresh.bucket.as_str(), fresh.lock_table.as_deref().unwrap()],
        "{out:?}"
    );
    assert!(statuses(&out).iter().all(|s| *s == "created"), "{out:?}");
    let old_table = dynamodb_client()
        .await
        .describe_table()
        .table_name(old.lock_table.as_deref().unwrap())
        .send()
        .await;
    assert!(
        old_table.is_err(),
        "the existing tenant's table was left alone"
    );
}

/// A customer-managed KMS key survives the fix that turns the bucket key
/// on, and `--encryption aes256` never downgrades a KMS bucket.
#[tokio::test]
async fn customer_kms_keys_are_kept_and_kms_is_never_downgraded() {
    let prefix = unique_name("bs-kms");
    let fx = Fixture::new(bucket_state(&prefix, LockKind::S3), &["t1"]).await;
    let bucket = fx.backend("t1").bucket;
    let key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let s3 = s3_client().await;
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let default = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(ServerSideEncryption::AwsKms)
        .kms_master_key_id(key)
        .build()
        .unwrap();
    let rule = ServerSideEncryptionRule::builder()
        .apply_server_side_encryption_by_default(default)
        .bucket_key_enabled(false)
        .build();
    s3.put_bucket_encryption()
        .bucket(&bucket)
        .server_side_encryption_configuration(
            ServerSideEncryptionConfiguration::builder()
                .rules(rule)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();

    let out = report(&run_ok(&mut fx.harden(&["-o", "json"])));
    assert_eq!(status_of(&out, "bucket", &bucket), "fixed");
    assert_bucket_hardened(&bucket, "aws:kms").await;
    let enc = s3
        .get_bucket_encryption()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let rule = &enc.server_side_encryption_configuration().unwrap().rules()[0];
    let kept = rule
        .apply_server_side_encryption_by_default()
        .unwrap()
        .kms_master_key_id();
    assert_eq!(kept, Some(key), "the customer key is kept");

    run_ok(&mut fx.harden(&["--check", "--encryption", "aes256"]));
    run_ok(&mut fx.harden(&["--encryption", "aes256"]));
    assert_bucket_hardened(&bucket, "aws:kms").await;
}

/// Two bootstraps racing over the same tenants both succeed and leave every
/// bucket and table hardened exactly once (no duplicate policy statements).
#[tokio::test]
async fn concurrent_bootstraps_both_succeed() {
    let prefix = unique_name("bs-race");
    let ids = ["t1", "t2", "t3", "t4", "t5"];
    let fx = Fixture::new(bucket_state(&prefix, LockKind::Dynamodb), &ids).await;
    let mut runs = [fx.harden(&["-o", "json"]), fx.harden(&["-o", "json"])];
    for cmd in &mut runs {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    }
    let [mut first, mut second] = runs;
    let (a, b) = tokio::task::spawn_blocking(move || {
        let a = first.spawn().unwrap();
        let b = second.spawn().unwrap();
        (a.wait_with_output().unwrap(), b.wait_with_output().unwrap())
    })
    .await
    .unwrap();
    for out in [&a, &b] {
        assert!(out.status.success(), "{out:?}");
        let items = report(out);
        assert_eq!(items.len(), 10, "{items:?}");
        assert!(
            statuses(&items)
                .iter()
                .all(|s| ["created", "correct", "fixed"].contains(s)),
            "{items:?}"
        );
    }
    for id in ids {
        let b = fx.backend(id);
        assert_bucket_hardened(&b.bucket, "aws:kms").await;
        assert_lock_table(b.lock_table.as_deref().unwrap()).await;
        let policy = s3_client()
            .await
            .get_bucket_policy()
            .bucket(&b.bucket)
            .send()
            .await
            .unwrap();
        let policy: Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
        assert_eq!(policy["Statement"].as_array().unwrap().len(), 1, "{policy}");
    }
    let again = report(&run_ok(&mut fx.harden(&["-o", "json"])));
    assert!(
        statuses(&again).iter().all(|s| *s == "correct"),
        "{again:?}"
    );
}
