//! Small builders for schema attributes, so each resource's schema reads as
//! a list of names, types and descriptions.

use std::collections::HashMap;

use tf_provider::schema::{
    Attribute, AttributeConstraint, AttributeType, Block, Description, Schema,
};

pub fn string() -> AttributeType {
    AttributeType::String
}

pub fn number() -> AttributeType {
    AttributeType::Number
}

pub fn bool() -> AttributeType {
    AttributeType::Bool
}

pub fn string_set() -> AttributeType {
    AttributeType::Set(Box::new(AttributeType::String))
}

pub fn string_list() -> AttributeType {
    AttributeType::List(Box::new(AttributeType::String))
}

pub fn string_map() -> AttributeType {
    AttributeType::Map(Box::new(AttributeType::String))
}

fn attribute(
    attr_type: AttributeType,
    constraint: AttributeConstraint,
    description: &str,
) -> Attribute {
    Attribute {
        attr_type,
        description: self::description(description),
        constraint,
        sensitive: false,
        deprecated: false,
    }
}

pub fn required(attr_type: AttributeType, description: &str) -> Attribute {
    attribute(attr_type, AttributeConstraint::Required, description)
}

pub fn optional(attr_type: AttributeType, description: &str) -> Attribute {
    attribute(attr_type, AttributeConstraint::Optional, description)
}

/// Optional, with a default the provider fills in when it is left out.
pub fn optional_computed(attr_type: AttributeType, description: &str) -> Attribute {
    attribute(
        attr_type,
        AttributeConstraint::OptionalComputed,
        description,
    )
}

pub fn computed(attr_type: AttributeType, description: &str) -> Attribute {
    attribute(attr_type, AttributeConstraint::Computed, description)
}

pub fn sensitive(mut attr: Attribute) -> Attribute {
    attr.sensitive = true;
    attr
}

/// The computed bookkeeping attributes of a registry record.
pub fn meta_attributes(kind: &str) -> [(&'static str, Attribute); 3] {
    [
        (
            "created_at",
            computed(string(), &format!("When the {kind} was created in the registry (RFC 3339, UTC).")),
        ),
        (
            "updated_at",
            computed(string(), &format!("When the {kind} was last written (RFC 3339, UTC).")),
        ),
        (
            "version",
            computed(
                number(),
                &format!("Version of the {kind} record. Every write increments it; updates and deletes are conditional on it, so a concurrent change fails instead of being overwritten."),
            ),
        ),
    ]
}

pub fn schema(
    description: &str,
    attributes: impl IntoIterator<Item = (&'static str, Attribute)>,
) -> Schema {
    schema_from(description, object(attributes))
}

pub fn schema_from(description: &str, attributes: HashMap<String, Attribute>) -> Schema {
    Schema {
        version: 1,
        block: Block {
            version: 1,
            attributes,
            blocks: HashMap::new(),
            description: self::description(description),
            deprecated: false,
        },
    }
}

pub fn description(text: &str) -> Description {
    Description::markdown(text)
}

pub fn object(
    attributes: impl IntoIterator<Item = (&'static str, Attribute)>,
) -> HashMap<String, Attribute> {
    attributes
        .into_iter()
        .map(|(name, attr)| (name.to_string(), attr))
        .collect()
}

/// A data source's view of a resource's attributes: everything computed,
/// nested attributes too.
pub fn read_only(mut attr: Attribute) -> Attribute {
    attr.constraint = AttributeConstraint::Computed;
    attr.attr_type = match attr.attr_type {
        AttributeType::AttributeSingle(inner) => {
            AttributeType::AttributeSingle(read_only_all(inner))
        }
        AttributeType::AttributeList(inner) => AttributeType::AttributeList(read_only_all(inner)),
        AttributeType::AttributeSet(inner) => AttributeType::AttributeSet(read_only_all(inner)),
        AttributeType::AttributeMap(inner) => AttributeType::AttributeMap(read_only_all(inner)),
        other => other,
    };
    attr
}

pub fn read_only_all(attributes: HashMap<String, Attribute>) -> HashMap<String, Attribute> {
    attributes
        .into_iter()
        .map(|(name, attr)| (name, read_only(attr)))
        .collect()
}
