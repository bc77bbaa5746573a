//! The single-table layout and its items.
//!
//! | item        | PK            | SK          | other attributes                          |
//! |-------------|---------------|-------------|-------------------------------------------|
//! | application | `APP`         | name        | version, body, tiers (SS), tenant_count   |
//! | tenant      | `TENANT`      | tenant id   | version, body                             |
//! | membership  | `APP#<name>`  | tenant id   | version, body (the full tenant document)  |
//!
//! Membership items make "tenants of application X" one Query; the
//! application's `tenant_count` lets a delete be conditional on "no tenants"
//! and a tenant write be conditional on "the application exists and allows
//! this tier", all inside one transaction.

use std::collections::{BTreeSet, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use serde::de::DeserializeOwned;

use crate::codec;
use crate::error::{RecordKind, RegistryError, Result};

pub(super) const PK: &str = "PK";
pub(super) const SK: &str = "SK";
pub(super) const VERSION: &str = "version";
pub(super) const BODY: &str = "body";
pub(super) const TIERS: &str = "tiers";
pub(super) const TENANT_COUNT: &str = "tenant_count";

pub(super) const APPLICATIONS_PK: &str = "APP";
pub(super) const TENANTS_PK: &str = "TENANT";

pub(super) type Item = HashMap<String, AttributeValue>;

/// Partition holding one membership item per tenant of `application`.
pub(super) fn members_pk(application: &str) -> String {
    format!("APP#{application}")
}

/// The partition key a record kind lives under.
pub(super) fn partition_of(kind: RecordKind) -> &'static str {
    match kind {
        RecordKind::Application => APPLICATIONS_PK,
        RecordKind::Tenant => TENANTS_PK,
    }
}

pub(super) fn key(pk: impl Into<String>, sk: impl Into<String>) -> Item {
    HashMap::from([
        (PK.to_string(), AttributeValue::S(pk.into())),
        (SK.to_string(), AttributeValue::S(sk.into())),
    ])
}

pub(super) fn num(n: u64) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

pub(super) fn string_set(values: &BTreeSet<String>) -> AttributeValue {
    AttributeValue::Ss(values.iter().cloned().collect())
}

/// A versioned record: its key, `version` and JSON `body`.
pub(super) fn record(
    pk: impl Into<String>,
    sk: impl Into<String>,
    version: u64,
    body: &str,
) -> Item {
    let mut item = key(pk, sk);
    item.insert(VERSION.into(), num(version));
    item.insert(BODY.into(), AttributeValue::S(body.to_string()));
    item
}

pub(super) fn number_of(item: &Item, attr: &str, kind: RecordKind, id: &str) -> Result<u64> {
    match item.get(attr) {
        Some(AttributeValue::N(n)) => n.parse().map_err(|_| {
            RegistryError::Backend(format!("stored {kind} {id:?} has a malformed {attr} {n:?}"))
        }),
        // Absent counters are zero (an application written before any tenant).
        None if attr == TENANT_COUNT => Ok(0),
        _ => Err(RegistryError::Backend(format!(
            "stored {kind} {id:?} has no numeric {attr}"
        ))),
    }
}

pub(super) fn version_of(item: &Item, kind: RecordKind, id: &str) -> Result<u64> {
    number_of(item, VERSION, kind, id)
}

pub(super) fn body_of<T: DeserializeOwned>(item: &Item, kind: RecordKind, id: &str) -> Result<T> {
    match item.get(BODY) {
        Some(AttributeValue::S(body)) => codec::decode(kind, id, body),
        _ => Err(RegistryError::Backend(format!(
            "stored {kind} {id:?} has no body"
        ))),
    }
}

/// The sort key of an item read back from a listing.
pub(super) fn sort_key(item: &Item) -> &str {
    match item.get(SK) {
        Some(AttributeValue::S(s)) => s,
        _ => "?",
    }
}

/// Builds the `ExpressionAttributeNames` map for `#name` placeholders.
pub(super) fn names(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Builds the `ExpressionAttributeValues` map for `:value` placeholders.
pub(super) fn values(pairs: Vec<(&str, AttributeValue)>) -> Item {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}
