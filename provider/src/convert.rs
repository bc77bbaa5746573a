//! Conversions shared by every resource and data source: Terraform values to
//! and from registry data, registry errors to diagnostics, and the registry
//! handle that `configure` fills in.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::{Arc, OnceLock};

use serde::de::value::StrDeserializer;
use serde::de::{self, DeserializeOwned, Deserializer};
use serde::{Deserialize, Serialize};

use saas_registry::{Registry, RegistryError};
use tf_provider::value::Value;
use tf_provider::{AttributePath, Diagnostics};

use crate::dynamic::Dynamic;

pub type StringValue = Value<String>;
/// A set of strings. A `Vec`, not a `BTreeSet`: a planned set may hold
/// several unknown elements, which must not collapse into one.
pub type StringSet = Value<Vec<Value<String>>>;
pub type StringMap = Value<BTreeMap<String, Value<String>>>;
/// A `dynamic` attribute: tenant variables, typed as the configuration wrote them.
pub type DynamicValue = Value<Dynamic>;

/// An attribute of only some of the schemas that share one model: `None`
/// where the schema has no such attribute, so it is not sent.
pub type Only<T> = Option<T>;

/// Deserializes an `Only` attribute that is there: `Some`, even when null
/// (serde's `Option` would read null as `None` and then not send it).
pub fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}

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

/// The name of a registry enum value (`Isolation::Prefix` is `prefix`): its
/// serde form, so the provider spells every value as the registry stores it.
pub fn enum_name<T: Serialize>(value: T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        _ => String::new(),
    }
}

/// The registry enum value named `name`; any other name is an invalid
/// `field`, with the accepted names (from the enum's serde derive) listed.
pub fn parse_enum<T: DeserializeOwned>(field: &str, name: &str) -> saas_registry::Result<T> {
    T::deserialize(StrDeserializer::<NotOneOf>::new(name))
        .map_err(|NotOneOf(message)| RegistryError::invalid(field, message))
}

/// A deserialization error worded for a diagnostic.
#[derive(Debug)]
struct NotOneOf(String);

impl de::Error for NotOneOf {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        NotOneOf(msg.to_string())
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        NotOneOf(format!("{variant:?} is not one of {}", expected.join(", ")))
    }
}

impl fmt::Display for NotOneOf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NotOneOf {}

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
    fn enum_names_are_the_registrys() {
        use saas_registry::{Isolation, LockKind};
        assert_eq!(enum_name(Isolation::Bucket), "bucket");
        assert_eq!(enum_name(LockKind::Dynamodb), "dynamodb");
        let lock: LockKind = parse_enum("state.lock", "s3").unwrap();
        assert_eq!(lock, LockKind::S3);
        let err = parse_enum::<Isolation>("state.isolation", "shared").unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"invalid state.isolation: "shared" is not one of prefix, bucket"#
        );
    }

    #[test]
    fn empty_optional_values_keep_null() {
        assert_eq!(optional_string("", &Value::Null), Value::Null);
        assert_eq!(optional_string("", &string("")), string(""));
        assert_eq!(optional_map(&BTreeMap::new(), &Value::Null), Value::Null);
        assert!(optional_set(&["a".to_string()].into(), &Value::Null).is_value());
    }
}
