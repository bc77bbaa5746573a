//! Values of `dynamic` attributes (Terraform's DynamicPseudoType), as the
//! registry keeps them: JSON.
//!
//! On the wire (the plugin protocol's msgpack) a known dynamic value is the
//! pair `[type as JSON bytes, value encoded for that type]`; an unknown one
//! is msgpack extension 0; in stored state JSON it is `{"value", "type"}`.
//! [`Dynamic`] keeps the type Terraform gave a value along with it, so a
//! value read back from the registry keeps the configuration's type
//! (`tolist([...])` stays a list and a map stays a map) and a second plan
//! shows no change from a type conversion.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq, SerializeTuple, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value as Json};

/// A dynamic value with its cty type (the type's JSON form, for example
/// `["object",{"replicas":"number"}]`).
#[derive(Debug, Clone, PartialEq)]
pub struct Dynamic {
    pub ty: Json,
    pub value: Tree,
}

/// A value as msgpack carries it; `Unknown` only during plan.
#[derive(Debug, Clone, PartialEq)]
pub enum Tree {
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    Seq(Vec<Tree>),
    Map(BTreeMap<String, Tree>),
    Unknown,
}

impl Dynamic {
    /// A value from JSON, with the type Terraform would give the same
    /// literal in a configuration (objects and tuples).
    pub fn from_json(json: &Json) -> Dynamic {
        Dynamic {
            ty: implied_type(json),
            value: Tree::from_json(json),
        }
    }

    /// `json` as a value of type `ty` (a cty type's JSON form); the caller
    /// vouches that they match.
    pub fn typed_json(ty: Json, json: &Json) -> Dynamic {
        Dynamic {
            ty,
            value: Tree::from_json(json),
        }
    }

    /// The JSON of a fully known value.
    pub fn to_json(&self) -> Option<Json> {
        self.value.to_json()
    }

    /// The entries of an object or map value, as JSON; `None` while any is
    /// unknown, `Err` when the value is not an object or a map.
    pub fn to_json_map(&self) -> Result<Option<BTreeMap<String, Json>>, ()> {
        if !is_map_like(&self.ty) {
            return Err(());
        }
        match self.to_json() {
            Some(Json::Object(map)) => Ok(Some(map.into_iter().collect())),
            Some(Json::Null) => Ok(Some(BTreeMap::new())),
            Some(_) => Err(()),
            None => Ok(None),
        }
    }

    /// The names of an object or map value (known even while some values
    /// are not; none while the whole value is unknown or null); `None` for
    /// any other type of value.
    pub fn keys(&self) -> Option<Vec<&String>> {
        match (&self.value, is_map_like(&self.ty)) {
            (Tree::Map(map), true) => Some(map.keys().collect()),
            (Tree::Unknown | Tree::Null, true) => Some(Vec::new()),
            _ => None,
        }
    }

    /// `prior` when it holds the same JSON as `json` (it keeps its type),
    /// else `json` with its implied type.
    pub fn reconcile(json: &Json, prior: Option<&Dynamic>) -> Dynamic {
        match prior {
            Some(prior) if prior.to_json().as_ref() == Some(json) => prior.clone(),
            _ => Dynamic::from_json(json),
        }
    }
}

fn is_map_like(ty: &Json) -> bool {
    matches!(ty.get(0).and_then(Json::as_str), Some("object" | "map"))
}

/// The type a configuration literal of this JSON would have.
fn implied_type(json: &Json) -> Json {
    match json {
        Json::Null => Json::from("dynamic"),
        Json::Bool(_) => Json::from("bool"),
        Json::Number(_) => Json::from("number"),
        Json::String(_) => Json::from("string"),
        Json::Array(items) => Json::Array(vec![
            "tuple".into(),
            items.iter().map(implied_type).collect(),
        ]),
        Json::Object(map) => {
            let fields: Map<String, Json> = map
                .iter()
                .map(|(k, v)| (k.clone(), implied_type(v)))
                .collect();
            Json::Array(vec!["object".into(), Json::Object(fields)])
        }
    }
}

impl Tree {
    fn from_json(json: &Json) -> Tree {
        match json {
            Json::Null => Tree::Null,
            Json::Bool(b) => Tree::Bool(*b),
            Json::Number(n) => Tree::Number(n.clone()),
            Json::String(s) => Tree::String(s.clone()),
            Json::Array(items) => Tree::Seq(items.iter().map(Tree::from_json).collect()),
            Json::Object(map) => Tree::Map(
                map.iter()
                    .map(|(k, v)| (k.clone(), Tree::from_json(v)))
                    .collect(),
            ),
        }
    }

    fn to_json(&self) -> Option<Json> {
        Some(match self {
            Tree::Null => Json::Null,
            Tree::Bool(b) => Json::Bool(*b),
            Tree::Number(n) => Json::Number(n.clone()),
            Tree::String(s) => Json::String(s.clone()),
            Tree::Seq(items) => {
                Json::Array(items.iter().map(Tree::to_json).collect::<Option<_>>()?)
            }
            Tree::Map(map) => Json::Object(
                map.iter()
                    .map(|(k, v)| Some((k.clone(), v.to_json()?)))
                    .collect::<Option<_>>()?,
            ),
            Tree::Unknown => return None,
        })
    }

    /// Applies `ty` to a decoded value: numbers sent as strings (too large
    /// for msgpack's number types) become numbers, and values under a
    /// nested `dynamic` type are unwrapped from their own pair.
    fn typed(self, ty: &Json) -> Result<Tree, String> {
        match (ty, self) {
            (_, Tree::Null) => Ok(Tree::Null),
            (_, Tree::Unknown) => Ok(Tree::Unknown),
            (Json::String(t), Tree::String(s)) if t == "number" => s
                .parse::<Number>()
                .map(Tree::Number)
                .map_err(|_| format!("{s:?} is not a number")),
            (Json::String(t), Tree::Seq(pair)) if t == "dynamic" => {
                let [Tree::String(inner), value] = <[Tree; 2]>::try_from(pair)
                    .map_err(|_| "a dynamic value is not a [type, value] pair".to_string())?
                else {
                    return Err("a dynamic value's type is not JSON text".into());
                };
                let inner: Json = serde_json::from_str(&inner).map_err(|e| e.to_string())?;
                value.typed(&inner)
            }
            (Json::String(_), tree) => Ok(tree),
            (Json::Array(parts), tree) => {
                let kind = parts.first().and_then(Json::as_str).unwrap_or_default();
                let arg = parts.get(1).cloned().unwrap_or(Json::Null);
                match (kind, tree) {
                    ("list" | "set", Tree::Seq(items)) => Ok(Tree::Seq(
                        items
                            .into_iter()
                            .map(|v| v.typed(&arg))
                            .collect::<Result<_, _>>()?,
                    )),
                    ("tuple", Tree::Seq(items)) => {
                        let types = arg.as_array().cloned().unwrap_or_default();
                        Ok(Tree::Seq(
                            items
                                .into_iter()
                                .zip(types.iter().chain(std::iter::repeat(&Json::Null)))
                                .map(|(v, t)| v.typed(t))
                                .collect::<Result<_, _>>()?,
                        ))
                    }
                    ("map", Tree::Map(map)) => Ok(Tree::Map(
                        map.into_iter()
                            .map(|(k, v)| Ok((k, v.typed(&arg)?)))
                            .collect::<Result<_, String>>()?,
                    )),
                    ("object", Tree::Map(map)) => Ok(Tree::Map(
                        map.into_iter()
                            .map(|(k, v)| {
                                let t = arg.get(&k).cloned().unwrap_or(Json::Null);
                                Ok((k, v.typed(&t)?))
                            })
                            .collect::<Result<_, String>>()?,
                    )),
                    (kind, _) => Err(format!("a value does not match its type {kind:?}")),
                }
            }
            (_, tree) => Ok(tree),
        }
    }
}

/// Terraform's "unknown" marker: msgpack extension 0, as tf-provider spells it.
#[derive(Serialize)]
#[serde(rename = "_ExtStruct")]
struct Unknown((i8, serde_bytes::ByteBuf));

fn unknown() -> Unknown {
    Unknown((0, serde_bytes::ByteBuf::new()))
}

/// A tree serialized for its type: a nested `dynamic` position gets its own
/// `[type, value]` pair.
struct Typed<'a>(&'a Tree, &'a Json);

impl Serialize for Typed<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (tree, ty) = (self.0, self.1);
        if ty == "dynamic" && !matches!(tree, Tree::Null | Tree::Unknown) {
            let json = tree.to_json().unwrap_or(Json::Null);
            return Dynamic {
                ty: implied_type(&json),
                value: tree.clone(),
            }
            .serialize(s);
        }
        let kind = ty.get(0).and_then(Json::as_str).unwrap_or_default();
        let arg = ty.get(1).cloned().unwrap_or(Json::Null);
        match tree {
            Tree::Null => s.serialize_unit(),
            Tree::Unknown => unknown().serialize(s),
            Tree::Bool(b) => s.serialize_bool(*b),
            Tree::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
                (Some(i), _, _) => s.serialize_i64(i),
                (_, Some(u), _) => s.serialize_u64(u),
                (_, _, Some(f)) => s.serialize_f64(f),
                _ => s.serialize_str(&n.to_string()),
            },
            Tree::String(text) => s.serialize_str(text),
            Tree::Seq(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for (i, item) in items.iter().enumerate() {
                    let t = match kind {
                        "tuple" => arg.get(i).cloned().unwrap_or(Json::from("dynamic")),
                        _ => arg.clone(),
                    };
                    seq.serialize_element(&Typed(item, &t))?;
                }
                seq.end()
            }
            Tree::Map(map) => {
                let mut out = s.serialize_map(Some(map.len()))?;
                for (k, v) in map {
                    let t = match kind {
                        "object" => arg.get(k).cloned().unwrap_or(Json::from("dynamic")),
                        _ => arg.clone(),
                    };
                    out.serialize_entry(k, &Typed(v, &t))?;
                }
                out.end()
            }
        }
    }
}

impl Serialize for Dynamic {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            // Terraform's JSON state form.
            let mut map = s.serialize_map(Some(2))?;
            map.serialize_entry("value", &self.value.to_json())?;
            map.serialize_entry("type", &self.ty)?;
            return map.end();
        }
        let ty = serde_json::to_vec(&self.ty).map_err(serde::ser::Error::custom)?;
        let mut pair = s.serialize_tuple(2)?;
        pair.serialize_element(&serde_bytes::Bytes::new(&ty))?;
        pair.serialize_element(&Typed(&self.value, &self.ty))?;
        pair.end()
    }
}

impl<'de> Deserialize<'de> for Dynamic {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = d.deserialize_any(TreeVisitor)?;
        let (ty, value) = match raw {
            // msgpack: [type JSON bytes, value]
            Tree::Seq(pair) if pair.len() == 2 => {
                let [ty, value] =
                    <[Tree; 2]>::try_from(pair).map_err(|_| de::Error::custom("pair"))?;
                let Tree::String(ty) = ty else {
                    return Err(de::Error::custom("a dynamic value's type is not JSON text"));
                };
                (serde_json::from_str(&ty).map_err(de::Error::custom)?, value)
            }
            // state JSON: {"value": ..., "type": ...}
            Tree::Map(mut map) if map.contains_key("type") => {
                let ty = map
                    .remove("type")
                    .and_then(|t| t.to_json())
                    .unwrap_or(Json::Null);
                (ty, map.remove("value").unwrap_or(Tree::Null))
            }
            other => return Err(de::Error::custom(format!("not a dynamic value: {other:?}"))),
        };
        let value = value.typed(&ty).map_err(de::Error::custom)?;
        Ok(Dynamic { ty, value })
    }
}

/// Decodes any msgpack or JSON value; type JSON arrives as bytes and is
/// kept as text.
struct TreeVisitor;

impl<'de> Visitor<'de> for TreeVisitor {
    type Value = Tree;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Terraform value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Tree, E> {
        Ok(Tree::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Tree, E> {
        Ok(Tree::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Tree, E> {
        Ok(Tree::Number(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Tree, E> {
        Number::from_f64(v)
            .map(Tree::Number)
            .ok_or_else(|| E::custom("a number is not finite"))
    }
    fn visit_str<E>(self, v: &str) -> Result<Tree, E> {
        Ok(Tree::String(v.to_string()))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Tree, E> {
        String::from_utf8(v.to_vec())
            .map(Tree::String)
            .map_err(E::custom)
    }
    fn visit_unit<E>(self) -> Result<Tree, E> {
        Ok(Tree::Null)
    }
    fn visit_none<E>(self) -> Result<Tree, E> {
        Ok(Tree::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Tree, D::Error> {
        d.deserialize_any(TreeVisitor)
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Tree, D::Error> {
        // rmp-serde hands an extension (Terraform's unknown) over as a
        // newtype holding (tag, bytes).
        <(i8, serde_bytes::ByteBuf)>::deserialize(d).map(|_| Tree::Unknown)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Tree, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(TreeSeed)? {
            items.push(item);
        }
        Ok(Tree::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Tree, A::Error> {
        let mut out = BTreeMap::new();
        while let Some(key) = map.next_key::<String>()? {
            out.insert(key, map.next_value_seed(TreeSeed)?);
        }
        Ok(Tree::Map(out))
    }
}

struct TreeSeed;

impl<'de> de::DeserializeSeed<'de> for TreeSeed {
    type Value = Tree;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Tree, D::Error> {
        d.deserialize_any(TreeVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn round_trip(d: &Dynamic) -> Dynamic {
        let bytes = rmp_serde::to_vec_named(d).unwrap();
        rmp_serde::from_slice(&bytes).unwrap()
    }

    #[test]
    fn typed_values_survive_msgpack_with_their_type() {
        let value = json!({"replicas": 2, "cidrs": ["10.0.0.0/8"], "limits": {"cpu": 0.5}, "id": "007", "on": true});
        let d = Dynamic::from_json(&value);
        assert_eq!(d.ty[0], "object");
        assert_eq!(d.ty[1]["cidrs"], json!(["tuple", ["string"]]));
        let back = round_trip(&d);
        assert_eq!(back, d);
        // A string that looks like a number stays a string.
        assert_eq!(back.to_json().unwrap()["id"], json!("007"));
    }

    #[test]
    fn a_configured_type_is_kept_when_the_json_is_the_same() {
        let configured = Dynamic {
            ty: json!(["map", ["list", "string"]]),
            value: Tree::from_json(&json!({"a": ["x"]})),
        };
        let back = round_trip(&configured);
        assert_eq!(back.ty, configured.ty);
        let same = Dynamic::reconcile(&json!({"a": ["x"]}), Some(&back));
        assert_eq!(same.ty, configured.ty);
        let changed = Dynamic::reconcile(&json!({"a": ["y"]}), Some(&back));
        assert_eq!(changed.ty, json!(["object", {"a": ["tuple", ["string"]]}]));
    }

    #[test]
    fn large_numbers_sent_as_strings_become_numbers() {
        let tree = Tree::String("12".into()).typed(&json!("number")).unwrap();
        assert_eq!(tree, Tree::Number(12.into()));
        assert!(Tree::String("x".into()).typed(&json!("number")).is_err());
    }

    #[test]
    fn state_json_form_is_read_and_only_maps_are_variable_maps() {
        let d: Dynamic =
            serde_json::from_value(json!({"value": {"n": 1}, "type": ["object", {"n": "number"}]}))
                .unwrap();
        assert_eq!(d.to_json_map().unwrap().unwrap()["n"], json!(1));
        let list = Dynamic::from_json(&json!(["a"]));
        assert!(list.to_json_map().is_err());
    }

    #[test]
    fn unknown_values_are_not_known() {
        let d = Dynamic {
            ty: json!(["object", {"a": "string"}]),
            value: Tree::Map([("a".to_string(), Tree::Unknown)].into()),
        };
        let back = round_trip(&d);
        assert_eq!(back.value, d.value);
        assert_eq!(back.to_json_map(), Ok(None));
    }
}
