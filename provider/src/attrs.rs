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

/// Any type, decided by the configuration's value (Terraform's `dynamic`).
pub fn dynamic() -> AttributeType {
    AttributeType::Any
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

/// A data source's view of a resource's attributes: everything computed.
pub fn read_only_all(attributes: HashMap<String, Attribute>) -> HashMap<String, Attribute> {
    attributes
        .into_iter()
        .map(|(name, mut attr)| {
            attr.constraint = AttributeConstraint::Computed;
            (name, attr)
        })
        .collect()
}

/// The object type whose fields are `attributes`, for computed attributes
/// that hold records (Terraform takes no nested attribute types from
/// tf-provider, and blocks cannot be computed).
pub fn object_type(attributes: &HashMap<String, Attribute>) -> AttributeType {
    AttributeType::Object(
        attributes
            .iter()
            .map(|(name, attr)| (name.clone(), attr.attr_type.clone()))
            .collect(),
    )
}

/// A single nested block, as the computed object attribute a data source
/// shows it as.
pub fn block_as_computed(block: &Block) -> Attribute {
    computed(object_type(&block.attributes), &block.description.content)
}
