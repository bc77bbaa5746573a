//! The `TransactWriteItems` request for one tenant write: the tenant item,
//! its membership items, and the reference counters on the applications it
//! joins or leaves. The conditions make the whole write fail if another
//! writer got there first, if an application it joins is gone, or if that
//! application no longer allows the tenant's tier.

use std::collections::{BTreeSet, HashMap};

use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, Put, TransactWriteItem, Update,
};

use super::items::{self, Item, PK, TENANTS_PK, TENANT_COUNT, TIERS, VERSION};
use crate::codec;
use crate::error::{RecordKind, RegistryError, Result};
use crate::model::Tenant;

/// DynamoDB's limit on items in one transaction.
const MAX_TRANSACTION_ITEMS: usize = 100;

/// A condition with its placeholders; empty maps are left out of the
/// request because DynamoDB rejects them.
struct Condition {
    expression: &'static str,
    names: HashMap<String, String>,
    values: Item,
}

impl Condition {
    fn new(
        expression: &'static str,
        names: &[(&str, &str)],
        values: Vec<(&str, AttributeValue)>,
    ) -> Self {
        Condition {
            expression,
            names: items::names(names),
            values: items::values(values),
        }
    }

    fn absent() -> Self {
        Condition::new("attribute_not_exists(#pk)", &[("#pk", PK)], vec![])
    }

    fn present() -> Self {
        Condition::new("attribute_exists(#pk)", &[("#pk", PK)], vec![])
    }

    fn at_version(version: u64) -> Self {
        Condition::new(
            "#v = :expected",
            &[("#v", VERSION)],
            vec![(":expected", items::num(version))],
        )
    }

    /// The application exists and allows `tier`.
    fn allows_tier(tier: &str) -> Self {
        Condition::new(
            "attribute_exists(#pk) AND contains(#tiers, :tier)",
            &[("#pk", PK), ("#tiers", TIERS)],
            vec![(":tier", AttributeValue::S(tier.to_string()))],
        )
    }

    fn values(&self) -> Option<Item> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }
}

fn build_error(e: aws_sdk_dynamodb::error::BuildError) -> RegistryError {
    RegistryError::Backend(format!("cannot build DynamoDB request: {e}"))
}

fn put(table: &str, item: Item, condition: Option<Condition>) -> Result<TransactWriteItem> {
    let mut put = Put::builder().table_name(table).set_item(Some(item));
    if let Some(c) = condition {
        put = put
            .set_expression_attribute_values(c.values())
            .condition_expression(c.expression)
            .set_expression_attribute_names(Some(c.names));
    }
    Ok(TransactWriteItem::builder()
        .put(put.build().map_err(build_error)?)
        .build())
}

fn delete(table: &str, key: Item, condition: Option<Condition>) -> Result<TransactWriteItem> {
    let mut delete = Delete::builder().table_name(table).set_key(Some(key));
    if let Some(c) = condition {
        delete = delete
            .set_expression_attribute_values(c.values())
            .condition_expression(c.expression)
            .set_expression_attribute_names(Some(c.names));
    }
    Ok(TransactWriteItem::builder()
        .delete(delete.build().map_err(build_error)?)
        .build())
}

/// Adds `delta` to an application's tenant counter under `condition`.
fn count(
    table: &str,
    application: &str,
    delta: i64,
    condition: Condition,
) -> Result<TransactWriteItem> {
    let mut names = condition.names;
    names.insert("#count".into(), TENANT_COUNT.into());
    let mut values = condition.values;
    values.insert(":delta".into(), AttributeValue::N(delta.to_string()));
    let update = Update::builder()
        .table_name(table)
        .set_key(Some(items::key(items::APPLICATIONS_PK, application)))
        .update_expression("ADD #count :delta")
        .condition_expression(condition.expression)
        .set_expression_attribute_names(Some(names))
        .set_expression_attribute_values(Some(values))
        .build()
        .map_err(build_error)?;
    Ok(TransactWriteItem::builder().update(update).build())
}

fn check(table: &str, application: &str, condition: Condition) -> Result<TransactWriteItem> {
    let check = ConditionCheck::builder()
        .table_name(table)
        .set_key(Some(items::key(items::APPLICATIONS_PK, application)))
        .set_expression_attribute_values(condition.values())
        .condition_expression(condition.expression)
        .set_expression_attribute_names(Some(condition.names))
        .build()
        .map_err(build_error)?;
    Ok(TransactWriteItem::builder().condition_check(check).build())
}

/// The items of one tenant write. `before` is the stored tenant and the
/// version the write is conditional on (`None`: it must not exist yet);
/// `after` is the new tenant (`None`: delete it).
pub(super) fn tenant_write(
    table: &str,
    before: Option<(&Tenant, u64)>,
    after: Option<&Tenant>,
) -> Result<Vec<TransactWriteItem>> {
    let empty = BTreeSet::new();
    let old_apps = before.map_or(&empty, |(t, _)| &t.applications);
    let new_apps = after.map_or(&empty, |t| &t.applications);
    let tenant_condition = match before {
        Some((_, version)) => Condition::at_version(version),
        None => Condition::absent(),
    };

    let Some(id) = after.or(before.map(|(t, _)| t)).map(|t| t.id.as_str()) else {
        return Ok(Vec::new());
    };
    let mut writes = Vec::new();
    match (after, before) {
        (Some(tenant), _) => {
            let body = codec::encode(RecordKind::Tenant, &tenant.id, tenant)?;
            writes.push(put(
                table,
                items::record(TENANTS_PK, &tenant.id, tenant.meta.version, &body),
                Some(tenant_condition),
            )?);
            for app in new_apps {
                let membership = items::record(
                    items::members_pk(app),
                    &tenant.id,
                    tenant.meta.version,
                    &body,
                );
                writes.push(put(table, membership, None)?);
                writes.push(if old_apps.contains(app) {
                    // Already counted; only its tier may have changed.
                    check(table, app, Condition::allows_tier(&tenant.tier))?
                } else {
                    count(table, app, 1, Condition::allows_tier(&tenant.tier))?
                });
            }
        }
        (None, Some(_)) => {
            writes.push(delete(
                table,
                items::key(TENANTS_PK, id),
                Some(tenant_condition),
            )?);
        }
        (None, None) => return Ok(writes),
    }
    for app in old_apps.difference(new_apps) {
        writes.push(delete(table, items::key(items::members_pk(app), id), None)?);
        writes.push(count(table, app, -1, Condition::present())?);
    }
    if writes.len() > MAX_TRANSACTION_ITEMS {
        return Err(RegistryError::invalid(
            "applications",
            format!(
                "this change touches {} applications; the DynamoDB registry changes at most {} per write (one transaction)",
                old_apps.union(new_apps).count(),
                (MAX_TRANSACTION_ITEMS - 1) / 2
            ),
        ));
    }
    Ok(writes)
}
