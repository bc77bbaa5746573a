//! GitLab CI YAML text: a header comment, then one block per top-level key,
//! separated by blank lines so a reviewer can diff job by job.

use serde_yaml::{Mapping, Value};

/// A YAML mapping from `(key, value)` pairs, in the given order.
pub fn map<'a>(pairs: impl IntoIterator<Item = (&'a str, Value)>) -> Value {
    Value::Mapping(
        pairs
            .into_iter()
            .map(|(k, v)| (Value::String(k.to_string()), v))
            .collect::<Mapping>(),
    )
}

pub fn string(s: impl Into<String>) -> Value {
    Value::String(s.into())
}

pub fn strings<I: IntoIterator<Item = S>, S: Into<String>>(items: I) -> Value {
    Value::Sequence(items.into_iter().map(|s| string(s)).collect())
}

/// Renders a whole CI file. `blocks` are the top-level keys in order.
pub fn document(
    header: &[String],
    blocks: Vec<(String, Value)>,
) -> Result<String, serde_yaml::Error> {
    let mut out = String::new();
    for line in header {
        out.push_str("# ");
        out.push_str(line);
        out.push('\n');
    }
    for (key, value) in blocks {
        out.push('\n');
        let mut one = Mapping::new();
        one.insert(Value::String(key), value);
        out.push_str(&serde_yaml::to_string(&Value::Mapping(one))?);
    }
    Ok(out)
}

/// Quotes `word` for a POSIX shell when it holds anything but
/// `[A-Za-z0-9_./:=@%+,-]`.
pub fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./:=@%+,-".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_has_header_and_one_block_per_key() {
        let text = document(
            &["generated".into()],
            vec![
                ("stages".into(), strings(["plan", "apply"])),
                (
                    "plan:a".into(),
                    map([("stage", string("plan")), ("script", strings(["true"]))]),
                ),
            ],
        )
        .unwrap();
        assert!(text.starts_with("# generated\n\nstages:\n"), "{text}");
        assert!(text.contains("\n\nplan:a:\n  stage: plan\n"), "{text}");
        let parsed: Value = serde_yaml::from_str(&text).unwrap();
        assert_eq!(parsed["plan:a"]["script"][0], string("true"));
    }

    #[test]
    fn shell_quote_leaves_plain_words_and_quotes_the_rest() {
        assert_eq!(shell_quote("stacks/app-1"), "stacks/app-1");
        assert_eq!(shell_quote("my stack"), "'my stack'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote("$(rm -rf /)"), "'$(rm -rf /)'");
        assert_eq!(shell_quote(""), "''");
    }
}
