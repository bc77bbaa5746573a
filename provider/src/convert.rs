//! Conversions shared by every resource and data source: Terraform values to
//! and from registry data, registry errors to diagnostics, and the registry
//! handle that `configure` fills in.

use crate::dynamic::Dynamic;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, OnceLock};

use saas_registry::{RecordKind, RecordMeta, Registry, RegistryError};
use tf_provider::value::Value;
use tf_provider::{AttributePath, Diagnostics};

pub type StringValue = Value<String>;
/// A set of strings. A `Vec`, not a `BTreeSet`: a planned set may hold
/// several unknown elements, which must not collapse into one.
pub type StringSet = Value<Vec<Value<String>>>;
pub type StringMap = Value<BTreeMap<String, Value<String>>>;
/// A `dynamic` attribute: tenant variables, typed as the configuration wrote them.
pub type DynamicValue = Value<Dynamic>;

/// The registry opened once per provider process by `configure`, shared by
/// every resource and data source.
#[derive(Debug, Clone, Default)]
pub struct SharedRegistry(Arc<OnceLock<Registry>>);

impl SharedRegistry {
    pub fn set(&self, registry: Registry) {
        // Terraform configures a provider instance once; a second call keeps
        // the first registry, which is the one every resource already uses.
        let _ = self.0.set(registry);
    }

    /// The configured registry, or an error diagnostic when `configure`
    /// failed or has not run.
    pub fn get(&self, diags: &mut Diagnostics) -> Option<&Registry> {
        let registry = self.0.get();
        if registry.is_none() {
            diags.root_error(
                "The saas provider is not configured",
                "The registry could not be opened; see the provider configuration error above.",
            );
        }
        registry
    }
}

/// Turns a registry error into a diagnostic. Input errors point at the
/// attribute they name; everything else is about the whole resource.
pub fn report(diags: &mut Diagnostics, err: RegistryError) {
    match &err {
        RegistryError::Invalid { field, .. } => {
            let summary = format!("Invalid {field}");
            let path = attribute_path(field);
            diags.error(summary, err.to_string(), path);
        }
        RegistryError::Conflict { .. } => diags.root_error(
            err.to_string(),
            "Someone else changed this record after Terraform read it; nothing was written. \
             Run terraform plan/apply again to see and reconcile the current record.",
        ),
        RegistryError::AlreadyExists { .. } => diags.root_error(
            err.to_string(),
            "The record already exists in the registry. Import it with terraform import, or pick another id.",
        ),
        _ => diags.root_error_short(err.to_string()),
    }
}

/// The value of `result`, or `None` once its error is reported.
pub fn reported<T>(diags: &mut Diagnostics, result: saas_registry::Result<T>) -> Option<T> {
    result.map_err(|err| report(diags, err)).ok()
}

/// A delete's outcome: a record that is already gone counts as deleted.
pub fn deleted(diags: &mut Diagnostics, result: saas_registry::Result<()>) -> Option<()> {
    match result {
        Err(RegistryError::NotFound { .. }) => Some(()),
        other => reported(diags, other),
    }
}

/// A refresh's outcome: the fresh state; `None` when the record is gone (so
/// the next plan creates it again); the prior state when the read failed.
pub fn refreshed<R, S>(
    diags: &mut Diagnostics,
    result: saas_registry::Result<Option<R>>,
    prior: S,
    to_state: impl FnOnce(&R, &S) -> S,
) -> Option<S> {
    match result {
        Ok(Some(record)) => Some(to_state(&record, &prior)),
        Ok(None) => None,
        Err(err) => {
            report(diags, err);
            Some(prior)
        }
    }
}

/// An import's outcome: the record, or an error when there is none.
pub fn imported<R>(
    diags: &mut Diagnostics,
    kind: RecordKind,
    id: &str,
    result: saas_registry::Result<Option<R>>,
) -> Option<R> {
    let record = reported(diags, result)?;
    if record.is_none() {
        diags.root_error(
            format!("Cannot import {kind} {id:?}"),
            format!("The registry holds no {kind} {id:?}."),
        );
    }
    record
}

/// Plan-time check that a record about to be created does not exist yet.
pub fn check_absent<R>(
    diags: &mut Diagnostics,
    kind: RecordKind,
    id: &str,
    attribute: &'static str,
    result: saas_registry::Result<Option<R>>,
) {
    if let Some(Some(_)) = reported(diags, result) {
        diags.error(
            format!("{kind} {id:?} already exists"),
            format!("The registry already holds {kind} {id:?}. Import it (terraform import <address> {id}) or choose another {attribute}."),
            AttributePath::new(attribute),
        );
    }
}

/// Parses a registry attribute path (`state.bucket`, `labels["k"]`) into a
/// Terraform attribute path.
pub fn attribute_path(field: &str) -> AttributePath {
    let mut path = AttributePath::root();
    let mut chars = field.chars().peekable();
    let mut name = String::new();
    while let Some(c) = chars.next() {
        match c {
            '.' => {
                if !name.is_empty() {
                    path.add_attribute(std::mem::take(&mut name));
                }
            }
            '[' => {
                if !name.is_empty() {
                    path.add_attribute(std::mem::take(&mut name));
                }
                let mut key = String::new();
                let quoted = chars.peek() == Some(&'"');
                if quoted {
                    chars.next();
                }
                while let Some(k) = chars.next() {
                    match k {
                        '\\' if quoted => key.extend(chars.next()),
                        '"' if quoted && chars.peek() == Some(&']') => {
                            chars.next();
                            break;
                        }
                        ']' if !quoted => break,
                        _ => key.push(k),
                    }
                }
                match key.parse::<i64>() {
                    Ok(index) if !quoted => path.add_index(index),
                    _ => path.add_key(key),
                };
            }
            _ => name.push(c),
        }
    }
    if !name.is_empty() {
        path.add_attribute(name);
    }
    path
}

/// Adds a diagnostic for `result`'s error, if any, and says whether it was ok.
pub fn check(diags: &mut Diagnostics, result: saas_registry::Result<()>) -> bool {
    match result {
        Ok(()) => true,
        Err(err) => {
            report(diags, err);
            false
        }
    }
}

pub fn known_str(value: &StringValue) -> Option<&str> {
    value.as_ref_option().map(String::as_str)
}

/// A fully known set (no unknown elements); `None` when unknown. Null is empty.
pub fn known_set(value: &StringSet) -> Option<BTreeSet<String>> {
    match value {
        Value::Null => Some(BTreeSet::new()),
        Value::Unknown => None,
        Value::Value(items) => items.iter().map(|v| v.as_ref_option().cloned()).collect(),
    }
}

/// A fully known map (no unknown values); `None` when unknown. Null is empty.
pub fn known_map(value: &StringMap) -> Option<BTreeMap<String, String>> {
    match value {
        Value::Null => Some(BTreeMap::new()),
        Value::Unknown => None,
        Value::Value(items) => items
            .iter()
            .map(|(k, v)| v.as_ref_option().map(|v| (k.clone(), v.clone())))
            .collect(),
    }
}

/// The variables of a `dynamic` map attribute as JSON, once fully known
/// (null is empty); `None` while any part is unknown or it is not a map.
pub fn known_json_map(value: &DynamicValue) -> Option<BTreeMap<String, serde_json::Value>> {
    match value {
        Value::Null => Some(BTreeMap::new()),
        Value::Unknown => None,
        Value::Value(d) => d.to_json_map().ok().flatten(),
    }
}

/// A record's JSON map as a `dynamic` attribute, with the type its JSON implies.
pub fn json_map_value(items: &BTreeMap<String, serde_json::Value>) -> DynamicValue {
    let json = serde_json::Value::Object(items.clone().into_iter().collect());
    Value::Value(Dynamic::from_json(&json))
}

/// A record's JSON map as a `dynamic` attribute: null where `prior` had
/// null and the record holds nothing, `prior` itself where it holds the
/// same values (so the configuration's types stay and no diff appears).
pub fn optional_json_map(
    items: &BTreeMap<String, serde_json::Value>,
    prior: &DynamicValue,
) -> DynamicValue {
    if items.is_empty() && !prior.is_value() {
        return Value::Null;
    }
    let json = serde_json::Value::Object(items.clone().into_iter().collect());
    Value::Value(Dynamic::reconcile(&json, prior.as_ref_option()))
}

pub fn string(value: &str) -> StringValue {
    Value::Value(value.to_string())
}

pub fn set_value(items: &BTreeSet<String>) -> StringSet {
    Value::Value(items.iter().map(|s| Value::Value(s.clone())).collect())
}

/// Puts a set's elements in a canonical order, for comparing two sets.
pub fn sort_set(set: &mut StringSet) {
    if let Value::Value(items) = set {
        items.sort();
    }
}

pub fn map_value(items: &BTreeMap<String, String>) -> StringMap {
    Value::Value(
        items
            .iter()
            .map(|(k, v)| (k.clone(), Value::Value(v.clone())))
            .collect(),
    )
}

/// An optional string as stored: empty stays null when it was null before, so
/// an attribute the configuration leaves out does not show a diff.
pub fn optional_string(value: &str, prior: &StringValue) -> StringValue {
    if value.is_empty() && !prior.is_value() {
        Value::Null
    } else {
        string(value)
    }
}

pub fn optional_set(items: &BTreeSet<String>, prior: &StringSet) -> StringSet {
    if items.is_empty() && !prior.is_value() {
        Value::Null
    } else {
        set_value(items)
    }
}

pub fn optional_map(items: &BTreeMap<String, String>, prior: &StringMap) -> StringMap {
    if items.is_empty() && !prior.is_value() {
        Value::Null
    } else {
        map_value(items)
    }
}

/// `config` when set, otherwise `default`: how optional attributes with a
/// default are planned, so removing them from the configuration restores the
/// default instead of keeping the last value.
pub fn or_default<T: Clone>(config: &Value<T>, default: T) -> Value<T> {
    match config {
        Value::Null => Value::Value(default),
        other => other.clone(),
    }
}

/// The computed bookkeeping attributes every resource carries.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetaValues {
    pub created_at: StringValue,
    pub updated_at: StringValue,
    pub version: Value<i64>,
}

impl MetaValues {
    pub fn unknown() -> Self {
        MetaValues {
            created_at: Value::Unknown,
            updated_at: Value::Unknown,
            version: Value::Unknown,
        }
    }

    pub fn from_record(meta: &RecordMeta) -> Self {
        MetaValues {
            created_at: string(&meta.created_at),
            updated_at: string(&meta.updated_at),
            version: Value::Value(i64::try_from(meta.version).unwrap_or(i64::MAX)),
        }
    }

    /// The meta a write starts from: the version Terraform last read is the
    /// write's condition.
    pub fn to_record(&self) -> RecordMeta {
        RecordMeta {
            created_at: self.created_at.clone().unwrap_or_default(),
            updated_at: self.updated_at.clone().unwrap_or_default(),
            version: self
                .version
                .as_ref_option()
                .and_then(|v| u64::try_from(*v).ok())
                .unwrap_or(0),
        }
    }

    /// For an update: creation time stays, the rest becomes unknown.
    pub fn for_update(&self) -> Self {
        MetaValues {
            created_at: self.created_at.clone(),
            updated_at: Value::Unknown,
            version: Value::Unknown,
        }
    }

    pub fn expected_version(&self) -> Option<u64> {
        self.version
            .as_ref_option()
            .and_then(|v| u64::try_from(*v).ok())
    }
}

/// What every resource state has: settings the user writes and the
/// registry's computed bookkeeping.
pub trait RecordState: Clone + PartialEq {
    fn meta(&self) -> MetaValues;
    fn set_meta(&mut self, meta: MetaValues);
    /// Puts set attributes in canonical order, so equal sets compare equal.
    fn sort_sets(&mut self);

    /// Whether the user's settings are equal, bookkeeping aside.
    fn same_settings(&self, other: &Self) -> bool {
        let (mut a, mut b) = (self.clone(), other.clone());
        for state in [&mut a, &mut b] {
            state.set_meta(MetaValues::default());
            state.sort_sets();
        }
        a == b
    }

    /// Plans the bookkeeping of an update: unknown when the record is
    /// replaced, unchanged when nothing changes (so the plan after an apply
    /// is empty), else a new version and update time.
    fn plan_meta(&mut self, prior: &Self, replaced: bool) {
        let meta = if replaced {
            MetaValues::unknown()
        } else if self.same_settings(prior) {
            prior.meta()
        } else {
            prior.meta().for_update()
        };
        self.set_meta(meta);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tf_provider::AttributePathStep;

    #[test]
    fn attribute_paths_from_registry_fields() {
        assert_eq!(attribute_path("id"), AttributePath::new("id"));
        assert_eq!(
            attribute_path("state.bucket"),
            AttributePath::new("state").attribute("bucket")
        );
        assert_eq!(
            attribute_path(r#"sensitive_variables["db.pass\"x"]"#),
            AttributePath::new("sensitive_variables").key("db.pass\"x")
        );
        assert_eq!(
            attribute_path("tenants[3].id").steps,
            vec![
                AttributePathStep::Attribute("tenants".into()),
                AttributePathStep::Index(3),
                AttributePathStep::Attribute("id".into()),
            ]
        );
    }

    #[test]
    fn invalid_errors_point_at_their_attribute() {
        let mut diags = Diagnostics::default();
        report(
            &mut diags,
            RegistryError::invalid("state.lock_table", "is required"),
        );
        let diag = &diags.errors[0];
        assert_eq!(
            diag.attribute,
            AttributePath::new("state").attribute("lock_table")
        );
        assert!(diag.summary.contains("state.lock_table"));
    }

    #[test]
    fn partially_unknown_collections_are_not_known() {
        let set: StringSet = Value::Value(vec![Value::Value("a".into()), Value::Unknown]);
        assert_eq!(known_set(&set), None);
        assert_eq!(known_set(&Value::Null), Some(BTreeSet::new()));
        let map: StringMap = Value::Value([("k".to_string(), Value::Value("v".into()))].into());
        assert_eq!(known_map(&map).unwrap()["k"], "v");
    }

    #[test]
    fn empty_optional_values_keep_null() {
        assert_eq!(optional_string("", &Value::Null), Value::Null);
        assert_eq!(optional_string("", &string("")), string(""));
        assert_eq!(optional_map(&BTreeMap::new(), &Value::Null), Value::Null);
        assert!(optional_set(&["a".to_string()].into(), &Value::Null).is_value());
    }
}
