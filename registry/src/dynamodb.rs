//! DynamoDB backend: one table (layout in `items`), every write conditional,
//! every tenant write one `TransactWriteItems` so its tenant item,
//! membership items and application counters never disagree.

mod items;
mod transaction;

use std::time::Duration;

use aws_config::environment::region::EnvironmentVariableRegionProvider;
use aws_config::meta::region::RegionProviderChain;
use aws_config::profile::ProfileFileRegionProvider;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    TransactWriteItem,
};
use aws_sdk_dynamodb::Client;
use aws_smithy_runtime_api::client::waiters::error::WaiterError;
use serde::de::DeserializeOwned;

use self::items::{Item, APPLICATIONS_PK, BODY, PK, SK, TENANTS_PK, TENANT_COUNT, TIERS, VERSION};
use crate::codec::{self, already_exists, check_version};
use crate::error::{RecordKind, RegistryError, Result};
use crate::model::{Application, Tenant, TenantFilter};
use crate::validate;

/// Region used when neither the URL nor the AWS configuration names one.
const FALLBACK_REGION: &str = "us-east-1";
/// A write whose condition failed only because the record moved between
/// our read and our write is retried this many times.
const WRITE_ATTEMPTS: usize = 5;
/// Attempts per request for throttling, 5xx and connection errors.
const RETRY_ATTEMPTS: u32 = 8;
/// How long `init` waits for a new table to become ACTIVE.
const TABLE_READY_TIMEOUT: Duration = Duration::from_secs(120);

/// Where the registry table lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DynamoSettings {
    pub table: String,
    /// Region from the registry URL; else the AWS configuration's, else us-east-1.
    pub region: Option<String>,
    /// Endpoint override; else `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL`.
    pub endpoint: Option<String>,
}

pub struct DynamoStore {
    client: Client,
    table: String,
    /// For error messages: where requests go.
    endpoint: String,
}

impl std::fmt::Debug for DynamoStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoStore")
            .field("table", &self.table)
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

/// What a tenant write expects of the stored tenant.
#[derive(Debug, Clone, Copy)]
enum Expect {
    Absent,
    Version(u64),
    /// Exists, any version (an unconditional delete).
    Present,
}

impl DynamoStore {
    /// Builds a client from the standard AWS configuration. No network I/O:
    /// the region comes from the URL, the environment or the profile files
    /// (never instance metadata), and credentials resolve on first use.
    pub async fn connect(table: &str, region: Option<String>) -> Result<Self> {
        Self::connect_with(DynamoSettings {
            table: table.to_string(),
            region,
            endpoint: None,
        })
        .await
    }

    pub async fn connect_with(settings: DynamoSettings) -> Result<Self> {
        validate::table_name("registry", &settings.table)?;
        let regions = RegionProviderChain::first_try(settings.region.clone().map(Region::new))
            .or_else(EnvironmentVariableRegionProvider::new())
            .or_else(ProfileFileRegionProvider::new())
            .or_else(Region::new(FALLBACK_REGION));
        let region = regions
            .region()
            .await
            .unwrap_or_else(|| Region::new(FALLBACK_REGION));
        let sdk = aws_config::defaults(BehaviorVersion::latest())
            .region(region.clone())
            .load()
            .await;
        let mut config = aws_sdk_dynamodb::config::Builder::from(&sdk).retry_config(retry_config());
        if let Some(endpoint) = &settings.endpoint {
            config = config.endpoint_url(endpoint);
        }
        let endpoint = settings
            .endpoint
            .or_else(|| env_endpoint("AWS_ENDPOINT_URL_DYNAMODB"))
            .or_else(|| env_endpoint("AWS_ENDPOINT_URL"))
            .unwrap_or_else(|| format!("https://dynamodb.{region}.amazonaws.com"));
        Ok(DynamoStore {
            client: Client::from_conf(config.build()),
            table: settings.table,
            endpoint,
        })
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Turns an SDK failure into the registry's error: unreachable endpoints
    /// and missing tables get messages that say what to do.
    fn sdk_error<E, R>(&self, e: SdkError<E, R>) -> RegistryError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug,
    {
        match &e {
            SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => {
                RegistryError::Unavailable(format!(
                    "cannot reach DynamoDB at {}: {}",
                    self.endpoint,
                    DisplayErrorContext(&e)
                ))
            }
            _ if e.code() == Some("ResourceNotFoundException") => self.missing_table(),
            // The service's own code and message say it best; the raw
            // response is noise in a one-line error.
            SdkError::ServiceError(service) => {
                let err = service.err();
                let detail = match (err.code(), err.message()) {
                    (Some(code), Some(message)) => format!("{code}: {message}"),
                    _ => DisplayErrorContext(err).to_string(),
                };
                RegistryError::Backend(format!("DynamoDB at {}: {detail}", self.endpoint))
            }
            _ => RegistryError::Backend(format!(
                "DynamoDB at {}: {}",
                self.endpoint,
                DisplayErrorContext(&e)
            )),
        }
    }

    fn missing_table(&self) -> RegistryError {
        RegistryError::Backend(format!(
            "registry table {:?} does not exist at {}; run `saasctl registry init` to create it",
            self.table, self.endpoint
        ))
    }

    async fn read_item(&self, key: Item) -> Result<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.sdk_error(e))?;
        Ok(out.item)
    }

    /// A record's stored item (application or tenant).
    async fn read_record_item(&self, kind: RecordKind, id: &str) -> Result<Option<Item>> {
        self.read_item(items::key(items::partition_of(kind), id))
            .await
    }

    async fn read_record<T: DeserializeOwned>(
        &self,
        kind: RecordKind,
        id: &str,
    ) -> Result<Option<(u64, T)>> {
        match self.read_record_item(kind, id).await? {
            Some(item) => Ok(Some((
                items::version_of(&item, kind, id)?,
                items::body_of(&item, kind, id)?,
            ))),
            None => Ok(None),
        }
    }

    /// Every item of one partition, following `LastEvaluatedKey` through
    /// all pages (each at most 1 MB).
    async fn query_partition(&self, pk: &str) -> Result<Vec<Item>> {
        let mut all = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_values(
                    ":pk",
                    aws_sdk_dynamodb::types::AttributeValue::S(pk.to_string()),
                )
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| self.sdk_error(e))?;
            all.extend(page.items.unwrap_or_default());
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(all),
            }
        }
    }

    async fn list_bodies<T: DeserializeOwned>(&self, kind: RecordKind, pk: &str) -> Result<Vec<T>> {
        self.query_partition(pk)
            .await?
            .iter()
            .map(|item| items::body_of(item, kind, items::sort_key(item)))
            .collect()
    }

    /// Sends one transaction. `Ok(false)` when a condition failed (the
    /// caller finds out which); retried while DynamoDB reports a conflict
    /// with another in-flight transaction.
    async fn transact(&self, writes: Vec<TransactWriteItem>) -> Result<bool> {
        for attempt in 0..WRITE_ATTEMPTS {
            let sent = self
                .client
                .transact_write_items()
                .set_transact_items(Some(writes.clone()))
                .send()
                .await;
            let e = match sent {
                Ok(_) => return Ok(true),
                Err(e) => e,
            };
            let codes: Vec<String> = match e.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(c)) => c
                    .cancellation_reasons()
                    .iter()
                    .filter_map(|r| r.code().map(str::to_string))
                    .collect(),
                Some(TransactWriteItemsError::TransactionInProgressException(_)) => {
                    vec!["TransactionConflict".into()]
                }
                _ => return Err(self.sdk_error(e)),
            };
            let has = |code: &str| codes.iter().any(|c| c == code);
            if has("ResourceNotFoundException") {
                return Err(self.missing_table());
            }
            if has("ConditionalCheckFailed") || codes.is_empty() {
                return Ok(false);
            }
            if !has("TransactionConflict") {
                return Err(self.sdk_error(e));
            }
            tokio::time::sleep(Duration::from_millis(20 << attempt)).await;
        }
        Err(RegistryError::Unavailable(format!(
            "DynamoDB at {} kept reporting conflicting transactions on table {:?}; retry later",
            self.endpoint, self.table
        )))
    }

    /// Why a tenant write's stored record does not match what it expects.
    fn check_tenant_expectation(id: &str, found: Option<u64>, expect: Expect) -> Result<()> {
        match expect {
            Expect::Absent if found.is_some() => Err(already_exists(RecordKind::Tenant, id)),
            Expect::Absent => Ok(()),
            Expect::Version(v) => check_version(RecordKind::Tenant, id, found, Some(v)).map(drop),
            Expect::Present => check_version(RecordKind::Tenant, id, found, None).map(drop),
        }
    }

    /// Writes (or with `after: None`, deletes) tenant `id` in one transaction.
    async fn write_tenant(&self, id: &str, expect: Expect, after: Option<&Tenant>) -> Result<()> {
        for _ in 0..WRITE_ATTEMPTS {
            let stored: Option<(u64, Tenant)> = self.read_record(RecordKind::Tenant, id).await?;
            Self::check_tenant_expectation(id, stored.as_ref().map(|(v, _)| *v), expect)?;
            let before = stored.as_ref().map(|(version, tenant)| (tenant, *version));
            let writes = transaction::tenant_write(&self.table, before, after)?;
            if self.transact(writes).await? {
                return Ok(());
            }
            // A condition failed: say which, or retry if the record merely
            // moved under an unconditional delete.
            let found = self.read_record_item(RecordKind::Tenant, id).await?;
            let found = found
                .map(|item| items::version_of(&item, RecordKind::Tenant, id))
                .transpose()?;
            Self::check_tenant_expectation(id, found, expect)?;
            if let Some(tenant) = after {
                self.check_references(tenant).await?;
            }
        }
        Err(RegistryError::Unavailable(format!(
            "tenant {id:?} kept changing while it was being written; retry"
        )))
    }

    /// Every application `tenant` names exists and allows its tier.
    async fn check_references(&self, tenant: &Tenant) -> Result<()> {
        for name in &tenant.applications {
            let (_, app): (u64, Application) = self
                .read_record(RecordKind::Application, name)
                .await?
                .ok_or_else(|| codec::unknown_application(name))?;
            validate::tenant_references(tenant, std::slice::from_ref(&app))?;
        }
        Ok(())
    }

    /// Waits with the SDK's `table_exists` waiter (DescribeTable until the
    /// status is ACTIVE), then checks the table has our key schema.
    async fn wait_until_active(&self) -> Result<()> {
        let waited = self
            .client
            .wait_until_table_exists()
            .table_name(&self.table)
            .wait(TABLE_READY_TIMEOUT)
            .await;
        let out = match waited {
            Ok(poll) => poll.into_result().map_err(|e| self.sdk_error(e))?,
            Err(WaiterError::OperationFailed(failed)) => {
                return Err(self.sdk_error(failed.into_error()))
            }
            Err(WaiterError::ExceededMaxWait(_)) => {
                return Err(RegistryError::Unavailable(format!(
                    "table {:?} at {} did not become ACTIVE within {}s",
                    self.table,
                    self.endpoint,
                    TABLE_READY_TIMEOUT.as_secs()
                )))
            }
            Err(other) => {
                return Err(RegistryError::Backend(
                    DisplayErrorContext(other).to_string(),
                ))
            }
        };
        let table = out.table.ok_or_else(|| self.missing_table())?;
        let keys: Vec<(&str, &KeyType)> = table
            .key_schema()
            .iter()
            .map(|k| (k.attribute_name(), k.key_type()))
            .collect();
        if keys != [(PK, &KeyType::Hash), (SK, &KeyType::Range)] {
            return Err(RegistryError::Backend(format!(
                "table {:?} at {} exists but is not a saasctl registry (its key schema is not PK/SK)",
                self.table, self.endpoint
            )));
        }
        Ok(())
    }
}

/// DynamoDB answers throttling and transient 5xx quickly, so retry more
/// often than the SDK default (3) but with short backoffs, keeping an
/// unreachable endpoint's failure to a couple of seconds.
fn retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(RETRY_ATTEMPTS)
        .with_initial_backoff(Duration::from_millis(50))
        .with_max_backoff(Duration::from_secs(2))
}

fn env_endpoint(var: &str) -> Option<String> {
    std::env::var(var).ok().filter(|v| !v.is_empty())
}

fn key_attribute(name: &str, key_type: KeyType) -> Result<(AttributeDefinition, KeySchemaElement)> {
    let build_error =
        |e: aws_sdk_dynamodb::error::BuildError| RegistryError::Backend(e.to_string());
    Ok((
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(build_error)?,
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(key_type)
            .build()
            .map_err(build_error)?,
    ))
}

fn is_condition_failure<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
    e.code() == Some("ConditionalCheckFailedException")
}

#[async_trait::async_trait]
impl crate::Store for DynamoStore {
    async fn init(&self) -> Result<()> {
        let (pk_def, pk_key) = key_attribute(PK, KeyType::Hash)?;
        let (sk_def, sk_key) = key_attribute(SK, KeyType::Range)?;
        let created = self
            .client
            .create_table()
            .table_name(&self.table)
            .attribute_definitions(pk_def)
            .attribute_definitions(sk_def)
            .key_schema(pk_key)
            .key_schema(sk_key)
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await;
        match created {
            Ok(_) => {}
            // Already there (or being created by a concurrent init).
            Err(e) if e.code() == Some("ResourceInUseException") => {}
            Err(e) => return Err(self.sdk_error(e)),
        }
        self.wait_until_active().await
    }

    async fn insert_application(&self, app: &Application) -> Result<()> {
        let body = codec::encode(RecordKind::Application, &app.name, app)?;
        let mut item = items::record(APPLICATIONS_PK, &app.name, app.meta.version, &body);
        item.insert(TIERS.into(), items::string_set(&app.tiers));
        item.insert(TENANT_COUNT.into(), items::num(0));
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .send()
            .await;
        match put {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => {
                Err(already_exists(RecordKind::Application, &app.name))
            }
            Err(e) => Err(self.sdk_error(e)),
        }
    }

    async fn replace_application(&self, app: &Application, expected_version: u64) -> Result<()> {
        let body = codec::encode(RecordKind::Application, &app.name, app)?;
        for _ in 0..WRITE_ATTEMPTS {
            // `tenant_count` is left alone: tenants change it, not this.
            let update = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(items::key(APPLICATIONS_PK, &app.name)))
                .update_expression("SET #v = :v, #b = :b, #t = :t")
                .condition_expression("#v = :expected")
                .set_expression_attribute_names(Some(items::names(&[
                    ("#v", VERSION),
                    ("#b", BODY),
                    ("#t", TIERS),
                ])))
                .set_expression_attribute_values(Some(items::values(vec![
                    (":v", items::num(app.meta.version)),
                    (
                        ":b",
                        aws_sdk_dynamodb::types::AttributeValue::S(body.clone()),
                    ),
                    (":t", items::string_set(&app.tiers)),
                    (":expected", items::num(expected_version)),
                ])))
                .send()
                .await;
            match update {
                Ok(_) => return Ok(()),
                Err(e) if is_condition_failure(&e) => {
                    let found = self
                        .read_record_item(RecordKind::Application, &app.name)
                        .await?;
                    let found = found
                        .map(|i| items::version_of(&i, RecordKind::Application, &app.name))
                        .transpose()?;
                    check_version(
                        RecordKind::Application,
                        &app.name,
                        found,
                        Some(expected_version),
                    )?;
                }
                Err(e) => return Err(self.sdk_error(e)),
            }
        }
        Err(RegistryError::Unavailable(format!(
            "application {:?} kept changing while it was being written; retry",
            app.name
        )))
    }

    async fn remove_application(&self, name: &str, expected_version: Option<u64>) -> Result<()> {
        let mut condition =
            String::from("attribute_exists(#pk) AND (attribute_not_exists(#c) OR #c = :zero)");
        let mut names = vec![("#pk", PK), ("#c", TENANT_COUNT)];
        let mut values = vec![(":zero", items::num(0))];
        if let Some(v) = expected_version {
            condition.push_str(" AND #v = :expected");
            names.push(("#v", VERSION));
            values.push((":expected", items::num(v)));
        }
        for _ in 0..WRITE_ATTEMPTS {
            let deleted = self
                .client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(items::key(APPLICATIONS_PK, name)))
                .condition_expression(condition.clone())
                .set_expression_attribute_names(Some(items::names(&names)))
                .set_expression_attribute_values(Some(items::values(values.clone())))
                .send()
                .await;
            match deleted {
                Ok(_) => return Ok(()),
                Err(e) if is_condition_failure(&e) => {
                    let item = self.read_record_item(RecordKind::Application, name).await?;
                    let found = item
                        .as_ref()
                        .map(|i| items::version_of(i, RecordKind::Application, name))
                        .transpose()?;
                    check_version(RecordKind::Application, name, found, expected_version)?;
                    let count = match &item {
                        Some(i) => {
                            items::number_of(i, TENANT_COUNT, RecordKind::Application, name)?
                        }
                        None => 0,
                    };
                    if count > 0 {
                        return Err(RegistryError::InUse {
                            application: name.to_string(),
                            count: count as usize,
                        });
                    }
                }
                Err(e) => return Err(self.sdk_error(e)),
            }
        }
        Err(RegistryError::Unavailable(format!(
            "application {name:?} kept changing while it was being removed; retry"
        )))
    }

    async fn get_application(&self, name: &str) -> Result<Option<Application>> {
        Ok(self
            .read_record(RecordKind::Application, name)
            .await?
            .map(|(_, app)| app))
    }

    async fn list_applications(&self) -> Result<Vec<Application>> {
        let mut apps: Vec<Application> = self
            .list_bodies(RecordKind::Application, APPLICATIONS_PK)
            .await?;
        apps.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(apps)
    }

    async fn insert_tenant(&self, tenant: &Tenant) -> Result<()> {
        self.write_tenant(&tenant.id, Expect::Absent, Some(tenant))
            .await
    }

    async fn replace_tenant(&self, tenant: &Tenant, expected_version: u64) -> Result<()> {
        self.write_tenant(&tenant.id, Expect::Version(expected_version), Some(tenant))
            .await
    }

    async fn remove_tenant(&self, id: &str, expected_version: Option<u64>) -> Result<()> {
        let expect = expected_version.map_or(Expect::Present, Expect::Version);
        self.write_tenant(id, expect, None).await
    }

    async fn get_tenant(&self, id: &str) -> Result<Option<Tenant>> {
        Ok(self
            .read_record(RecordKind::Tenant, id)
            .await?
            .map(|(_, tenant)| tenant))
    }

    async fn list_tenants(&self, filter: &TenantFilter) -> Result<Vec<Tenant>> {
        let partition = filter
            .application
            .as_deref()
            .map_or_else(|| TENANTS_PK.to_string(), items::members_pk);
        let tenants = self.list_bodies(RecordKind::Tenant, &partition).await?;
        Ok(codec::finish_tenant_listing(tenants, filter))
    }
}
