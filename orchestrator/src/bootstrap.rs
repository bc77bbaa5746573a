//! Backend bootstrap: create the S3 buckets and DynamoDB lock tables that a
//! set of tenants needs, with the hardening Terragrunt applies, or check
//! existing ones for drift. No CLI concerns: the command renders the report.
//!
//! Every item is worked on independently, so one failing bucket never stops
//! or touches another; an unreachable endpoint aborts the whole run instead.

use std::collections::BTreeSet;
use std::fmt;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TableStatus,
};
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration,
    PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule, VersioningConfiguration,
};
use futures::StreamExt;
use saas_registry::BackendSettings;
use serde::Serialize;

use crate::policy;

/// At most this many lock tables are created at once (DynamoDB throttles
/// concurrent control-plane calls per account).
pub const MAX_CONCURRENT_TABLES: usize = 10;
/// Buckets are independent; this only bounds open connections.
const MAX_CONCURRENT_BUCKETS: usize = 16;
/// How long to wait for a new table to become ACTIVE.
const TABLE_ACTIVE_POLLS: u32 = 120;
const TABLE_POLL_INTERVAL: std::time::Duration = std::time::Duration::from_millis(500);

#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    /// The endpoint could not be reached at all (connection refused, DNS, timeout).
    #[error("{service} endpoint unreachable ({operation}): {message}")]
    Unavailable {
        service: &'static str,
        operation: &'static str,
        message: String,
    },
    #[error("{operation} failed: {message}")]
    Aws {
        operation: &'static str,
        message: String,
    },
    #[error(transparent)]
    Policy(#[from] policy::PolicyError),
    #[error("table is not ACTIVE after waiting (status {0})")]
    TableNotActive(String),
}

/// Server-side encryption a state bucket must have by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Encryption {
    /// `aws:kms` with the AWS-managed key and an S3 bucket key.
    Kms,
    /// `AES256` (SSE-S3).
    Aes256,
}

impl Encryption {
    fn algorithm(self) -> ServerSideEncryption {
        match self {
            Encryption::Kms => ServerSideEncryption::AwsKms,
            Encryption::Aes256 => ServerSideEncryption::Aes256,
        }
    }
}

/// What every state bucket must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hardening {
    pub encryption: Encryption,
    /// Whether the bucket policy must deny non-TLS access. Off only where
    /// requests cannot use TLS (a plain-HTTP endpoint), since the statement
    /// would then deny every request, Terraform's included.
    pub tls_policy: bool,
}

/// Whether to change anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Apply,
    Check,
}

/// The distinct buckets and lock tables a set of tenants needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Needs {
    pub buckets: BTreeSet<String>,
    pub tables: BTreeSet<String>,
}

impl Needs {
    /// Tenants sharing a bucket or table (prefix isolation) need it once;
    /// S3-lockfile backends need no table.
    pub fn of<'a>(backends: impl IntoIterator<Item = &'a BackendSettings>) -> Self {
        let mut needs = Needs::default();
        for b in backends {
            needs.buckets.insert(b.bucket.clone());
            if let Some(table) = &b.lock_table {
                needs.tables.insert(table.clone());
            }
        }
        needs
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemKind {
    Bucket,
    Table,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemStatus {
    /// Did not exist; created and hardened.
    Created,
    /// Existed with every hardening in place.
    Correct,
    /// Existed with drift, which was fixed (`details` says what).
    Fixed,
    /// `--check`: does not exist.
    Missing,
    /// `--check`: exists with drift (`details` says what).
    Drifted,
    /// Could not be created, inspected or fixed (`details` says why).
    Failed,
}

/// One line of the report.
#[derive(Debug, Clone, Serialize)]
pub struct ItemReport {
    pub kind: ItemKind,
    pub name: String,
    pub status: ItemStatus,
    pub details: Vec<String>,
}

/// What was observed on a bucket, in the terms the hardening cares about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BucketState {
    /// `Enabled`, `Suspended`, or None when versioning was never turned on.
    pub versioning: Option<String>,
    /// Default encryption algorithm and whether the bucket key is on.
    pub encryption: Option<(String, bool)>,
    /// The four public-access-block flags, all false when none is set.
    pub public_access_block: [bool; 4],
    pub denies_insecure_transport: bool,
}

/// One hardening setting that is not as it should be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BucketDrift {
    Versioning(Option<String>),
    Encryption(Option<(String, bool)>),
    PublicAccessBlock([bool; 4]),
    InsecureTransportAllowed,
}

impl fmt::Display for BucketDrift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BucketDrift::Versioning(v) => {
                write!(
                    f,
                    "versioning {} (want Enabled)",
                    v.as_deref().unwrap_or("never enabled")
                )
            }
            BucketDrift::Encryption(None) => f.write_str("no default encryption"),
            BucketDrift::Encryption(Some((alg, key))) => {
                write!(
                    f,
                    "default encryption {alg}{}",
                    if *key { " with bucket key" } else { "" }
                )
            }
            BucketDrift::PublicAccessBlock(flags) => {
                let off: Vec<&str> = PAB_FLAGS
                    .iter()
                    .zip(flags)
                    .filter(|(_, on)| !**on)
                    .map(|(name, _)| *name)
                    .collect();
                write!(f, "public access block off: {}", off.join(", "))
            }
            BucketDrift::InsecureTransportAllowed => {
                f.write_str("bucket policy does not deny non-TLS access")
            }
        }
    }
}

const PAB_FLAGS: [&str; 4] = [
    "BlockPublicAcls",
    "IgnorePublicAcls",
    "BlockPublicPolicy",
    "RestrictPublicBuckets",
];

/// What differs between `observed` and `hardening`.
pub fn bucket_drift(hardening: Hardening, observed: &BucketState) -> Vec<BucketDrift> {
    let encryption = hardening.encryption;
    let mut drift = Vec::new();
    if observed.versioning.as_deref() != Some("Enabled") {
        drift.push(BucketDrift::Versioning(observed.versioning.clone()));
    }
    let want = encryption.algorithm();
    let encryption_ok = match &observed.encryption {
        Some((alg, bucket_key)) => {
            alg == want.as_str() && (encryption == Encryption::Aes256 || *bucket_key)
        }
        None => false,
    };
    if !encryption_ok {
        drift.push(BucketDrift::Encryption(observed.encryption.clone()));
    }
    if observed.public_access_block != [true; 4] {
        drift.push(BucketDrift::PublicAccessBlock(observed.public_access_block));
    }
    if hardening.tls_policy && !observed.denies_insecure_transport {
        drift.push(BucketDrift::InsecureTransportAllowed);
    }
    drift
}

/// What was observed on a lock table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableState {
    /// `PAY_PER_REQUEST` or `PROVISIONED`.
    pub billing_mode: String,
    /// The key schema as `name:HASH|RANGE:type`.
    pub key_schema: Vec<String>,
}

/// The key schema Terraform's lock table must have.
const LOCK_KEY_SCHEMA: &str = "LockID:HASH:S";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableDrift {
    /// Fixable in place with UpdateTable.
    BillingMode(String),
    /// Not fixable in place: the table must be recreated by its owner.
    KeySchema(Vec<String>),
}

impl fmt::Display for TableDrift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TableDrift::BillingMode(mode) => write!(f, "billing mode {mode} (want PAY_PER_REQUEST)"),
            TableDrift::KeySchema(keys) => write!(
                f,
                "key schema [{}] (want [{LOCK_KEY_SCHEMA}]); a key schema cannot change, recreate the table",
                keys.join(", ")
            ),
        }
    }
}

pub fn table_drift(observed: &TableState) -> Vec<TableDrift> {
    let mut drift = Vec::new();
    if observed.key_schema != [LOCK_KEY_SCHEMA] {
        drift.push(TableDrift::KeySchema(observed.key_schema.clone()));
    }
    if observed.billing_mode != "PAY_PER_REQUEST" {
        drift.push(TableDrift::BillingMode(observed.billing_mode.clone()));
    }
    drift
}

/// Creates, hardens or checks backend resources with one SDK config.
pub struct Bootstrapper {
    s3: aws_sdk_s3::Client,
    dynamodb: aws_sdk_dynamodb::Client,
    region: String,
    hardening: Hardening,
    mode: Mode,
}

impl Bootstrapper {
    pub fn new(
        config: &aws_config::SdkConfig,
        region: &str,
        hardening: Hardening,
        mode: Mode,
    ) -> Self {
        Bootstrapper {
            s3: crate::aws::s3_client(config),
            dynamodb: crate::aws::dynamodb_client(config),
            region: region.to_string(),
            hardening,
            mode,
        }
    }

    /// Works on every bucket and table of `needs`; the report lists buckets,
    /// then tables, each in name order. Errors of one item are reported on
    /// that item; only an unreachable endpoint fails the whole run.
    pub async fn run(&self, needs: &Needs) -> Result<Vec<ItemReport>, BootstrapError> {
        let buckets = bounded(
            needs.buckets.iter(),
            MAX_CONCURRENT_BUCKETS,
            |name| async move { report(ItemKind::Bucket, name, self.bucket(name).await) },
        );
        let tables = bounded(
            needs.tables.iter(),
            MAX_CONCURRENT_TABLES,
            |name| async move { report(ItemKind::Table, name, self.table(name).await) },
        );
        let (buckets, tables) = futures::join!(buckets, tables);
        buckets.into_iter().chain(tables).collect()
    }

    /// Whether the tenant's state object exists yet (for `--new`).
    pub async fn state_exists(&self, backend: &BackendSettings) -> Result<bool, BootstrapError> {
        match self
            .s3
            .head_object()
            .bucket(&backend.bucket)
            .key(&backend.key)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            // A missing bucket answers 404 to HeadObject too.
            Err(err)
                if err
                    .raw_response()
                    .is_some_and(|r| r.status().as_u16() == 404) =>
            {
                Ok(false)
            }
            Err(err) => Err(aws_error("s3", "HeadObject", err)),
        }
    }

    async fn bucket(&self, name: &str) -> Result<(ItemStatus, Vec<String>), BootstrapError> {
        let Some(observed) = self.inspect_bucket(name).await? else {
            if self.mode == Mode::Check {
                return Ok((ItemStatus::Missing, Vec::new()));
            }
            self.create_bucket(name).await?;
            let all = bucket_drift(self.hardening, &BucketState::default());
            let applied = self.fix_bucket(name, &all, None).await?;
            return Ok((ItemStatus::Created, applied));
        };
        let drift = bucket_drift(self.hardening, &observed.0);
        if drift.is_empty() {
            return Ok((ItemStatus::Correct, Vec::new()));
        }
        if self.mode == Mode::Check {
            return Ok((
                ItemStatus::Drifted,
                drift.iter().map(ToString::to_string).collect(),
            ));
        }
        let applied = self.fix_bucket(name, &drift, observed.1.as_deref()).await?;
        let details = drift
            .iter()
            .zip(applied)
            .map(|(d, fix)| format!("{d} → {fix}"))
            .collect();
        Ok((ItemStatus::Fixed, details))
    }

    /// The bucket's hardening and its raw policy, or None if it does not exist.
    async fn inspect_bucket(
        &self,
        name: &str,
    ) -> Result<Option<(BucketState, Option<String>)>, BootstrapError> {
        match self.s3.head_bucket().bucket(name).send().await {
            Ok(_) => {}
            Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found()) => {
                return Ok(None)
            }
            Err(err) => return Err(aws_error("s3", "HeadBucket", err)),
        }
        let versioning = match self.s3.get_bucket_versioning().bucket(name).send().await {
            Ok(out) => out.status().map(|s| s.as_str().to_string()),
            Err(err) => match versioning_from_raw(&err) {
                Some(status) => status,
                None => return Err(aws_error("s3", "GetBucketVersioning", err)),
            },
        };
        let encryption = match self.s3.get_bucket_encryption().bucket(name).send().await {
            Ok(out) => out
                .server_side_encryption_configuration()
                .and_then(|c| c.rules().first())
                .and_then(|rule| {
                    let default = rule.apply_server_side_encryption_by_default()?;
                    Some((
                        default.sse_algorithm().as_str().to_string(),
                        rule.bucket_key_enabled().unwrap_or(false),
                    ))
                }),
            Err(err)
                if error_code(&err) == Some("ServerSideEncryptionConfigurationNotFoundError") =>
            {
                None
            }
            Err(err) => return Err(aws_error("s3", "GetBucketEncryption", err)),
        };
        let public_access_block = match self.s3.get_public_access_block().bucket(name).send().await
        {
            Ok(out) => out
                .public_access_block_configuration()
                .map_or([false; 4], |c| {
                    [
                        c.block_public_acls(),
                        c.ignore_public_acls(),
                        c.block_public_policy(),
                        c.restrict_public_buckets(),
                    ]
                    .map(|flag| flag.unwrap_or(false))
                }),
            Err(err) if error_code(&err) == Some("NoSuchPublicAccessBlockConfiguration") => {
                [false; 4]
            }
            Err(err) => return Err(aws_error("s3", "GetPublicAccessBlock", err)),
        };
        let policy = match self.s3.get_bucket_policy().bucket(name).send().await {
            Ok(out) => out.policy().map(str::to_string),
            Err(err) if error_code(&err) == Some("NoSuchBucketPolicy") => None,
            Err(err) => return Err(aws_error("s3", "GetBucketPolicy", err)),
        };
        let denies_insecure_transport = policy
            .as_deref()
            .is_some_and(|p| policy::denies_insecure_transport(p, &self.region, name));
        let state = BucketState {
            versioning,
            encryption,
            public_access_block,
            denies_insecure_transport,
        };
        Ok(Some((state, policy)))
    }

    async fn create_bucket(&self, name: &str) -> Result<(), BootstrapError> {
        let mut request = self.s3.create_bucket().bucket(name);
        // us-east-1 is the one region that rejects an explicit location constraint.
        if self.region != "us-east-1" {
            request = request.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(self.region.as_str()))
                    .build(),
            );
        }
        match request.send().await {
            Ok(_) => Ok(()),
            // Another bootstrap created it a moment ago: ours to harden all the same.
            Err(err) if err.as_service_error().is_some_and(|e| e.is_bucket_already_owned_by_you()) => Ok(()),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_bucket_already_exists()) => {
                Err(BootstrapError::Aws {
                    operation: "CreateBucket",
                    message: "the name is taken by another AWS account; choose another bucket name or prefix".into(),
                })
            }
            Err(err) => Err(aws_error("s3", "CreateBucket", err)),
        }
    }

    /// Applies the fix for each drift, in order; returns what was done.
    async fn fix_bucket(
        &self,
        name: &str,
        drift: &[BucketDrift],
        policy: Option<&str>,
    ) -> Result<Vec<String>, BootstrapError> {
        let mut done = Vec::with_capacity(drift.len());
        for d in drift {
            match d {
                BucketDrift::Versioning(_) => {
                    self.s3
                        .put_bucket_versioning()
                        .bucket(name)
                        .versioning_configuration(
                            VersioningConfiguration::builder()
                                .status(BucketVersioningStatus::Enabled)
                                .build(),
                        )
                        .send()
                        .await
                        .map_err(|e| aws_error("s3", "PutBucketVersioning", e))?;
                    done.push("versioning Enabled".to_string());
                }
                BucketDrift::Encryption(_) => {
                    let encryption = self.hardening.encryption;
                    let kms = encryption == Encryption::Kms;
                    let default = ServerSideEncryptionByDefault::builder()
                        .sse_algorithm(encryption.algorithm())
                        .build()
                        .expect("sse_algorithm is set");
                    let rule = ServerSideEncryptionRule::builder()
                        .apply_server_side_encryption_by_default(default)
                        .bucket_key_enabled(kms)
                        .build();
                    let config = ServerSideEncryptionConfiguration::builder()
                        .rules(rule)
                        .build()
                        .expect("rules are set");
                    self.s3
                        .put_bucket_encryption()
                        .bucket(name)
                        .server_side_encryption_configuration(config)
                        .send()
                        .await
                        .map_err(|e| aws_error("s3", "PutBucketEncryption", e))?;
                    let alg = encryption.algorithm();
                    done.push(format!(
                        "encryption {}{}",
                        alg.as_str(),
                        if kms { " with bucket key" } else { "" }
                    ));
                }
                BucketDrift::PublicAccessBlock(_) => {
                    let config = PublicAccessBlockConfiguration::builder()
                        .block_public_acls(true)
                        .ignore_public_acls(true)
                        .block_public_policy(true)
                        .restrict_public_buckets(true)
                        .build();
                    self.s3
                        .put_public_access_block()
                        .bucket(name)
                        .public_access_block_configuration(config)
                        .send()
                        .await
                        .map_err(|e| aws_error("s3", "PutPublicAccessBlock", e))?;
                    done.push("public access block on".to_string());
                }
                BucketDrift::InsecureTransportAllowed => {
                    let merged = policy::with_tls_statement(policy, &self.region, name)?;
                    self.s3
                        .put_bucket_policy()
                        .bucket(name)
                        .policy(merged)
                        .send()
                        .await
                        .map_err(|e| aws_error("s3", "PutBucketPolicy", e))?;
                    done.push("TLS-only bucket policy".to_string());
                }
            }
        }
        Ok(done)
    }

    async fn table(&self, name: &str) -> Result<(ItemStatus, Vec<String>), BootstrapError> {
        let Some(observed) = self.inspect_table(name).await? else {
            if self.mode == Mode::Check {
                return Ok((ItemStatus::Missing, Vec::new()));
            }
            self.create_table(name).await?;
            return Ok((
                ItemStatus::Created,
                vec!["PAY_PER_REQUEST, hash key LockID (S)".into()],
            ));
        };
        let drift = table_drift(&observed);
        if drift.is_empty() {
            return Ok((ItemStatus::Correct, Vec::new()));
        }
        let details: Vec<String> = drift.iter().map(ToString::to_string).collect();
        if self.mode == Mode::Check {
            return Ok((ItemStatus::Drifted, details));
        }
        if drift.iter().any(|d| matches!(d, TableDrift::KeySchema(_))) {
            return Ok((ItemStatus::Failed, details));
        }
        self.dynamodb
            .update_table()
            .table_name(name)
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await
            .map_err(|e| aws_error("dynamodb", "UpdateTable", e))?;
        Ok((
            ItemStatus::Fixed,
            details
                .into_iter()
                .map(|d| format!("{d} → PAY_PER_REQUEST"))
                .collect(),
        ))
    }

    async fn inspect_table(&self, name: &str) -> Result<Option<TableState>, BootstrapError> {
        let out = match self.dynamodb.describe_table().table_name(name).send().await {
            Ok(out) => out,
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                return Ok(None)
            }
            Err(err) => return Err(aws_error("dynamodb", "DescribeTable", err)),
        };
        let Some(table) = out.table() else {
            return Ok(None);
        };
        let billing_mode = table
            .billing_mode_summary()
            .and_then(|s| s.billing_mode())
            // Tables created before on-demand existed report no summary: provisioned.
            .map_or("PROVISIONED".to_string(), |m| m.as_str().to_string());
        let key_schema = table
            .key_schema()
            .iter()
            .map(|k| {
                let ty = table
                    .attribute_definitions()
                    .iter()
                    .find(|a| a.attribute_name() == k.attribute_name())
                    .map_or("?", |a| a.attribute_type().as_str());
                format!("{}:{}:{ty}", k.attribute_name(), k.key_type().as_str())
            })
            .collect();
        Ok(Some(TableState {
            billing_mode,
            key_schema,
        }))
    }

    async fn create_table(&self, name: &str) -> Result<(), BootstrapError> {
        let attribute = AttributeDefinition::builder()
            .attribute_name("LockID")
            .attribute_type(ScalarAttributeType::S)
            .build()
            .expect("name and type are set");
        let key = KeySchemaElement::builder()
            .attribute_name("LockID")
            .key_type(KeyType::Hash)
            .build()
            .expect("name and type are set");
        let created = self
            .dynamodb
            .create_table()
            .table_name(name)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attribute)
            .key_schema(key)
            .send()
            .await;
        match created {
            Ok(_) => {}
            // Created concurrently by someone else: wait for it like for ours.
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_in_use_exception()) => {}
            Err(err) => return Err(aws_error("dynamodb", "CreateTable", err)),
        }
        let mut status = String::from("unknown");
        for _ in 0..TABLE_ACTIVE_POLLS {
            let out = self
                .dynamodb
                .describe_table()
                .table_name(name)
                .send()
                .await
                .map_err(|e| aws_error("dynamodb", "DescribeTable", e))?;
            match out.table().and_then(|t| t.table_status()) {
                Some(TableStatus::Active) => return Ok(()),
                Some(s) => status = s.as_str().to_string(),
                None => {}
            }
            tokio::time::sleep(TABLE_POLL_INTERVAL).await;
        }
        Err(BootstrapError::TableNotActive(status))
    }
}

/// Turns one item's outcome into its report line; only unreachability escapes.
fn report(
    kind: ItemKind,
    name: &str,
    outcome: Result<(ItemStatus, Vec<String>), BootstrapError>,
) -> Result<ItemReport, BootstrapError> {
    let (status, details) = match outcome {
        Ok(done) => done,
        Err(err @ BootstrapError::Unavailable { .. }) => return Err(err),
        Err(err) => (ItemStatus::Failed, vec![err.to_string()]),
    };
    Ok(ItemReport {
        kind,
        name: name.to_string(),
        status,
        details,
    })
}

/// Runs `work` over `items` with at most `limit` in flight; results keep
/// the order of `items`.
pub async fn bounded<I, T, F, Fut>(items: I, limit: usize, work: F) -> Vec<T>
where
    I: IntoIterator,
    F: FnMut(I::Item) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    futures::stream::iter(items)
        .map(work)
        .buffered(limit.max(1))
        .collect()
        .await
}

fn error_code<E: ProvideErrorMetadata, R>(err: &aws_sdk_s3::error::SdkError<E, R>) -> Option<&str> {
    err.as_service_error().and_then(ProvideErrorMetadata::code)
}

/// Some S3-compatible servers (moto 5) name the GetBucketVersioning root
/// element `GetBucketVersioningResponse` where AWS says
/// `VersioningConfiguration`, and the SDK refuses the body. Its content is
/// the same, so read `<Status>` from a successful response ourselves:
/// `Some(None)` means versioning was never enabled.
fn versioning_from_raw<E>(
    err: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> Option<Option<String>> {
    let raw = err.raw_response().filter(|raw| raw.status().is_success())?;
    let body = std::str::from_utf8(raw.body().bytes()?).ok()?;
    let status = body
        .split_once("<Status>")
        .and_then(|(_, rest)| rest.split_once("</Status>"))
        .map(|(status, _)| status.trim().to_string());
    Some(status)
}

/// One line for any SDK error; connection-level failures become `Unavailable`.
fn aws_error<E, R>(
    service: &'static str,
    operation: &'static str,
    err: aws_sdk_s3::error::SdkError<E, R>,
) -> BootstrapError
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
    R: fmt::Debug + 'static,
{
    use aws_sdk_s3::error::SdkError;
    let unreachable = match &err {
        SdkError::DispatchFailure(f) => f.is_io() || f.is_timeout(),
        SdkError::TimeoutError(_) => true,
        _ => false,
    };
    let message = match err
        .as_service_error()
        .and_then(|e| Some((e.code()?, e.message())))
    {
        Some((code, message)) => format!("{code}: {}", message.unwrap_or("(no message)")),
        None => error_chain(&err),
    };
    if unreachable {
        BootstrapError::Unavailable {
            service,
            operation,
            message,
        }
    } else {
        BootstrapError::Aws { operation, message }
    }
}

/// The error's messages from outermost to innermost cause on one line,
/// without the raw response dump that the SDK's Debug output carries.
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        let text = e.to_string().replace('\n', " ");
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use saas_registry::{derive_backend, Application, Isolation, LockKind, StateConfig};
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn app(isolation: Isolation, lock: LockKind) -> Application {
        Application::new(
            "web",
            StateConfig {
                isolation,
                bucket: (isolation == Isolation::Prefix).then(|| "acme-state".into()),
                bucket_prefix: (isolation == Isolation::Bucket).then(|| "acme".into()),
                lock,
                lock_table: (lock == LockKind::Dynamodb).then(|| "acme-locks".into()),
                ..Default::default()
            },
        )
    }

    fn needs(app: &Application, ids: &[&str]) -> Needs {
        let backends: Vec<_> = ids
            .iter()
            .map(|id| derive_backend(app, id).unwrap())
            .collect();
        Needs::of(&backends)
    }

    #[test]
    fn prefix_isolation_needs_one_bucket_and_table() {
        let n = needs(
            &app(Isolation::Prefix, LockKind::Dynamodb),
            &["t1", "t2", "t3"],
        );
        assert_eq!(n.buckets, BTreeSet::from(["acme-state".to_string()]));
        assert_eq!(n.tables, BTreeSet::from(["acme-locks".to_string()]));
    }

    #[test]
    fn bucket_isolation_needs_one_of_each_per_tenant() {
        let n = needs(&app(Isolation::Bucket, LockKind::Dynamodb), &["t1", "t2"]);
        assert_eq!(
            n.buckets,
            BTreeSet::from(["acme-t1".to_string(), "acme-t2".to_string()])
        );
        assert_eq!(
            n.tables,
            BTreeSet::from(["acme-locks-t1".to_string(), "acme-locks-t2".to_string()])
        );
    }

    #[test]
    fn s3_lockfile_needs_no_tables() {
        let n = needs(&app(Isolation::Bucket, LockKind::S3), &["t1", "t2"]);
        assert_eq!(n.buckets.len(), 2);
        assert!(n.tables.is_empty());
        assert!(needs(&app(Isolation::Prefix, LockKind::S3), &["t1"])
            .tables
            .is_empty());
    }

    fn hardened(alg: &str, bucket_key: bool) -> BucketState {
        BucketState {
            versioning: Some("Enabled".into()),
            encryption: Some((alg.into(), bucket_key)),
            public_access_block: [true; 4],
            denies_insecure_transport: true,
        }
    }

    const KMS: Hardening = Hardening {
        encryption: Encryption::Kms,
        tls_policy: true,
    };
    const AES: Hardening = Hardening {
        encryption: Encryption::Aes256,
        tls_policy: true,
    };

    #[test]
    fn hardened_buckets_have_no_drift() {
        assert!(bucket_drift(KMS, &hardened("aws:kms", true)).is_empty());
        assert!(bucket_drift(AES, &hardened("AES256", false)).is_empty());
    }

    #[test]
    fn every_missing_setting_is_drift() {
        let drift = bucket_drift(KMS, &BucketState::default());
        assert_eq!(drift.len(), 4, "{drift:?}");
        let suspended = BucketState {
            versioning: Some("Suspended".into()),
            ..hardened("aws:kms", true)
        };
        assert_eq!(
            bucket_drift(KMS, &suspended),
            [BucketDrift::Versioning(Some("Suspended".into()))]
        );
        assert_eq!(
            bucket_drift(KMS, &hardened("aws:kms", false)),
            [BucketDrift::Encryption(Some(("aws:kms".into(), false)))],
            "KMS without a bucket key is drift"
        );
        assert_eq!(bucket_drift(KMS, &hardened("AES256", false)).len(), 1);
        let pab = BucketState {
            public_access_block: [true, true, false, true],
            ..hardened("AES256", false)
        };
        let drift = bucket_drift(AES, &pab);
        assert_eq!(drift.len(), 1);
        assert_eq!(
            drift[0].to_string(),
            "public access block off: BlockPublicPolicy"
        );
        let open = BucketState {
            denies_insecure_transport: false,
            ..hardened("AES256", false)
        };
        assert_eq!(
            bucket_drift(AES, &open),
            [BucketDrift::InsecureTransportAllowed]
        );
        let plain_http = Hardening {
            tls_policy: false,
            ..AES
        };
        assert!(
            bucket_drift(plain_http, &open).is_empty(),
            "no TLS policy where TLS is impossible"
        );
    }

    #[test]
    fn table_drift_separates_fixable_from_not() {
        let ok = TableState {
            billing_mode: "PAY_PER_REQUEST".into(),
            key_schema: vec![LOCK_KEY_SCHEMA.into()],
        };
        assert!(table_drift(&ok).is_empty());
        let provisioned = TableState {
            billing_mode: "PROVISIONED".into(),
            ..ok.clone()
        };
        assert_eq!(
            table_drift(&provisioned),
            [TableDrift::BillingMode("PROVISIONED".into())]
        );
        let wrong_key = TableState {
            key_schema: vec!["id:HASH:S".into()],
            ..ok
        };
        let drift = table_drift(&wrong_key);
        assert!(matches!(&drift[..], [TableDrift::KeySchema(_)]));
        assert!(drift[0].to_string().contains("recreate the table"));
    }

    #[tokio::test]
    async fn bounded_never_exceeds_its_limit_and_keeps_order() {
        let in_flight = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        let out = bounded(0..25, MAX_CONCURRENT_TABLES, |i| {
            let (in_flight, peak) = (&in_flight, &peak);
            async move {
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                for _ in 0..3 {
                    tokio::task::yield_now().await;
                }
                in_flight.fetch_sub(1, Ordering::SeqCst);
                i * 2
            }
        })
        .await;
        assert_eq!(out, (0..25).map(|i| i * 2).collect::<Vec<_>>());
        assert_eq!(peak.load(Ordering::SeqCst), MAX_CONCURRENT_TABLES);
    }
}
