//! Lock tables: inspect a DynamoDB table against what Terraform's S3
//! backend needs (PAY_PER_REQUEST, hash key `LockID` of type S), create it,
//! and fix what can be fixed in place.

use std::fmt;
use std::time::Duration;

use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use aws_smithy_runtime_api::client::waiters::error::WaiterError;

use super::{aws_error, error_chain, BootstrapError, Bootstrapper, ItemStatus, Mode};

/// How long to wait for a new table to become ACTIVE.
const TABLE_ACTIVE_WAIT: Duration = Duration::from_secs(60);

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

impl Bootstrapper {
    pub(super) async fn table(
        &self,
        name: &str,
    ) -> Result<(ItemStatus, Vec<String>), BootstrapError> {
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
        self.wait_until_active(name).await
    }

    /// Waits with the SDK's `table_exists` waiter (DescribeTable until the
    /// status is ACTIVE) for at most [`TABLE_ACTIVE_WAIT`].
    async fn wait_until_active(&self, name: &str) -> Result<(), BootstrapError> {
        let waited = self
            .dynamodb
            .wait_until_table_exists()
            .table_name(name)
            .wait(TABLE_ACTIVE_WAIT)
            .await;
        match waited {
            Ok(_) => Ok(()),
            Err(WaiterError::OperationFailed(failed)) => {
                Err(aws_error("dynamodb", "DescribeTable", failed.into_error()))
            }
            Err(WaiterError::ExceededMaxWait(_)) => Err(BootstrapError::TableNotActive(
                self.table_status(name).await,
            )),
            Err(other) => Err(BootstrapError::Aws {
                operation: "DescribeTable",
                message: error_chain(&other),
            }),
        }
    }

    /// The table's status now, for the error after waiting in vain.
    async fn table_status(&self, name: &str) -> String {
        let described = self.dynamodb.describe_table().table_name(name).send().await;
        described
            .ok()
            .and_then(|out| out.table()?.table_status().cloned())
            .map_or("unknown".into(), |status| status.as_str().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
