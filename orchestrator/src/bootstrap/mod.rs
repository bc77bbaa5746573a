//! Backend bootstrap: create the S3 buckets and DynamoDB lock tables that a
//! set of tenants needs, with the hardening Terragrunt applies, or check
//! existing ones for drift. No CLI concerns: the command renders the report.
//!
//! Every item is worked on independently, so one failing bucket never stops
//! or touches another; an unreachable endpoint aborts the whole run instead.
//! `bucket` and `table` hold the per-kind inspection, drift and fixes.

mod bucket;
mod table;

use std::collections::BTreeSet;
use std::fmt;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::ServerSideEncryption;
use futures::StreamExt;
use saas_registry::BackendSettings;
use serde::Serialize;

use crate::policy;

/// At most this many lock tables are created at once (DynamoDB throttles
/// concurrent control-plane calls per account).
pub const MAX_CONCURRENT_TABLES: usize = 10;
/// Buckets are independent; this only bounds open connections.
const MAX_CONCURRENT_BUCKETS: usize = 16;

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
        endpoints: &saas_registry::EndpointUrls,
        region: &str,
        hardening: Hardening,
        mode: Mode,
    ) -> Self {
        Bootstrapper {
            s3: crate::aws::s3_client(config, endpoints),
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
    use crate::test_fixtures::app;
    use saas_registry::{derive_backend, Application, Isolation, LockKind};
    use std::sync::atomic::{AtomicUsize, Ordering};

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
