//! Registry-layout documentation (`docs/`), rendered from the schemas the
//! provider serves plus the example files under `examples/`. `scripts/gen-docs`
//! writes it; a test fails when the committed copy is stale.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use tf_provider::schema::{
    Attribute, AttributeConstraint, AttributeType, Block, NestedBlock, Schema,
};
use tf_provider::{Diagnostics, Provider};

use crate::provider::{SaasProvider, PROVIDER_NAME};

/// One generated page: its path under `docs/` and its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub path: PathBuf,
    pub content: String,
}

#[derive(Clone, Copy)]
enum Kind {
    Resource,
    DataSource,
}

impl Kind {
    fn title(self) -> &'static str {
        match self {
            Kind::Resource => "Resource",
            Kind::DataSource => "Data Source",
        }
    }

    fn dir(self) -> &'static str {
        match self {
            Kind::Resource => "resources",
            Kind::DataSource => "data-sources",
        }
    }
}

/// Renders every page. `examples` is the repository's `examples/` directory.
pub fn render(examples: &Path) -> std::io::Result<Vec<Page>> {
    let provider = SaasProvider::default();
    let mut diags = Diagnostics::default();
    let mut pages = Vec::new();

    let schema =
        Provider::schema(&provider, &mut diags).unwrap_or_else(crate::provider::provider_schema);
    let example = read(&examples.join("provider/provider.tf"))?;
    pages.push(Page {
        path: "index.md".into(),
        content: index_page(&schema, &example),
    });

    let mut entries: Vec<(Kind, String, Schema)> = Vec::new();
    for (name, resource) in Provider::get_resources(&provider, &mut diags).unwrap_or_default() {
        entries.extend(
            resource
                .schema(&mut diags)
                .map(|s| (Kind::Resource, name, s)),
        );
    }
    for (name, source) in Provider::get_data_sources(&provider, &mut diags).unwrap_or_default() {
        entries.extend(
            source
                .schema(&mut diags)
                .map(|s| (Kind::DataSource, name, s)),
        );
    }
    for (kind, name, schema) in entries {
        let type_name = format!("{PROVIDER_NAME}_{name}");
        let dir = examples.join(kind.dir()).join(&type_name);
        let example = match kind {
            Kind::Resource => read(&dir.join("resource.tf"))?,
            Kind::DataSource => read(&dir.join("data-source.tf"))?,
        };
        let import = match kind {
            Kind::Resource => Some(read(&dir.join("import.sh"))?),
            Kind::DataSource => None,
        };
        pages.push(Page {
            path: Path::new(kind.dir()).join(format!("{name}.md")),
            content: type_page(kind, &type_name, &schema, &example, import.as_deref()),
        });
    }
    pages.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(pages)
}

fn read(path: &Path) -> std::io::Result<String> {
    std::fs::read_to_string(path)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

fn front_matter(out: &mut String, title: &str, description: &str) {
    let _ = writeln!(out, "---");
    let _ = writeln!(out, "page_title: \"{title}\"");
    let _ = writeln!(out, "subcategory: \"\"");
    let _ = writeln!(out, "description: |-");
    let _ = writeln!(out, "  {}", first_sentence(description));
    let _ = writeln!(out, "---\n");
}

fn first_sentence(text: &str) -> &str {
    text.split_once(". ").map_or(text, |(first, _)| first)
}

fn code(out: &mut String, lang: &str, body: &str) {
    let _ = writeln!(out, "```{lang}\n{}\n```\n", body.trim_end());
}

fn index_page(schema: &Schema, example: &str) -> String {
    let mut out = String::new();
    let description = &schema.block.description.content;
    front_matter(&mut out, &format!("{PROVIDER_NAME} Provider"), description);
    let _ = writeln!(out, "# {PROVIDER_NAME} Provider\n\n{description}\n");
    let _ = writeln!(out, "## Example Usage\n");
    code(&mut out, "terraform", example);
    schema_section(&mut out, &schema.block);
    out
}

fn type_page(
    kind: Kind,
    type_name: &str,
    schema: &Schema,
    example: &str,
    import: Option<&str>,
) -> String {
    let mut out = String::new();
    let description = &schema.block.description.content;
    front_matter(
        &mut out,
        &format!("{type_name} {} - {PROVIDER_NAME}", kind.title()),
        description,
    );
    let _ = writeln!(out, "# {type_name} ({})\n\n{description}\n", kind.title());
    let _ = writeln!(out, "## Example Usage\n");
    code(&mut out, "terraform", example);
    schema_section(&mut out, &schema.block);
    if let Some(import) = import {
        let _ = writeln!(
            out,
            "## Import\n\nImport is supported using the following syntax:\n"
        );
        code(&mut out, "shell", import);
    }
    out.trim_end().to_string() + "\n"
}

fn schema_section(out: &mut String, block: &Block) {
    let _ = writeln!(
        out,
        "<!-- generated by scripts/gen-docs from the provider schema; do not edit -->"
    );
    let _ = writeln!(out, "## Schema\n");
    let mut nested = Vec::new();
    block_fields(out, block, "", &mut nested);
    while let Some((anchor, title, body)) = nested.pop() {
        let _ = writeln!(
            out,
            "<a id=\"{anchor}\"></a>\n### Nested Schema for `{title}`\n"
        );
        match body {
            Nested::Block(block) => block_fields(out, &block, &title, &mut nested),
            Nested::Object(fields) => {
                let _ = writeln!(out, "Read-Only:\n");
                let mut fields: Vec<_> = fields.into_iter().collect();
                fields.sort_by(|a, b| a.0.cmp(&b.0));
                for (name, ty) in fields {
                    let _ = writeln!(out, "- `{name}` ({})", type_name(&ty));
                }
                out.push('\n');
            }
        }
    }
}

enum Nested {
    Block(Block),
    Object(HashMap<String, AttributeType>),
}

type NestedQueue = Vec<(String, String, Nested)>;

fn block_fields(out: &mut String, block: &Block, parent: &str, nested: &mut NestedQueue) {
    let groups = [
        ("Required", AttributeConstraint::Required),
        ("Optional", AttributeConstraint::Optional),
        ("Read-Only", AttributeConstraint::Computed),
    ];
    let heading = if parent.is_empty() { "###" } else { "" };
    for (title, constraint) in groups {
        let mut lines = Vec::new();
        let mut names: Vec<&String> = block.attributes.keys().collect();
        names.sort();
        for name in names {
            let attr = &block.attributes[name];
            let group = match attr.constraint {
                AttributeConstraint::OptionalComputed => AttributeConstraint::Optional,
                ref c => c.clone(),
            };
            if group == constraint {
                lines.push(attribute_line(name, attr, parent, nested));
            }
        }
        let mut blocks: Vec<(&String, &NestedBlock)> = block.blocks.iter().collect();
        blocks.sort_by(|a, b| a.0.cmp(b.0));
        for (name, nested_block) in blocks {
            let (label, required, inner) = match nested_block {
                NestedBlock::Single(b) => ("Block, Required", true, b),
                NestedBlock::Optional(b) => ("Block, Optional", false, b),
                NestedBlock::List(b) | NestedBlock::Group(b) => ("Block List", false, b),
                NestedBlock::Set(b) => ("Block Set", false, b),
                NestedBlock::Map(b) => ("Block Map", false, b),
            };
            if required == (constraint == AttributeConstraint::Required)
                && constraint != AttributeConstraint::Computed
            {
                let anchor = anchor("nestedblock", parent, name);
                lines.push(format!(
                    "- `{name}` ({label}) {} (see [below for nested schema](#{anchor}))",
                    inner.description.content
                ));
                nested.insert(
                    0,
                    (anchor, path(parent, name), Nested::Block(inner.clone())),
                );
            }
        }
        if !lines.is_empty() {
            if heading.is_empty() {
                let _ = writeln!(out, "{title}:\n");
            } else {
                let _ = writeln!(out, "{heading} {title}\n");
            }
            for line in lines {
                let _ = writeln!(out, "{line}");
            }
            out.push('\n');
        }
    }
}

fn path(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_string()
    } else {
        format!("{parent}.{name}")
    }
}

fn anchor(prefix: &str, parent: &str, name: &str) -> String {
    format!("{prefix}--{}", path(parent, name).replace('.', "--"))
}

fn attribute_line(name: &str, attr: &Attribute, parent: &str, nested: &mut NestedQueue) -> String {
    let mut flags = type_name(&attr.attr_type);
    if attr.sensitive {
        flags.push_str(", Sensitive");
    }
    let mut line = format!("- `{name}` ({flags}) {}", attr.description.content);
    if let Some(fields) = object_fields(&attr.attr_type) {
        let anchor = anchor("nestedatt", parent, name);
        let _ = write!(line, " (see [below for nested schema](#{anchor}))");
        nested.insert(
            0,
            (anchor, path(parent, name), Nested::Object(fields.clone())),
        );
    }
    line.trim_end().to_string()
}

fn object_fields(ty: &AttributeType) -> Option<&HashMap<String, AttributeType>> {
    match ty {
        AttributeType::Object(fields) => Some(fields),
        AttributeType::List(inner) | AttributeType::Set(inner) | AttributeType::Map(inner) => {
            object_fields(inner)
        }
        _ => None,
    }
}

fn type_name(ty: &AttributeType) -> String {
    match ty {
        AttributeType::String => "String".into(),
        AttributeType::Number => "Number".into(),
        AttributeType::Bool => "Boolean".into(),
        AttributeType::List(inner) => format!("List of {}", type_name(inner)),
        AttributeType::Set(inner) => format!("Set of {}", type_name(inner)),
        AttributeType::Map(inner) => format!("Map of {}", type_name(inner)),
        AttributeType::Object(_) => "Object".into(),
        AttributeType::Tuple(_) => "Tuple".into(),
        AttributeType::AttributeSingle(_) => "Attributes".into(),
        AttributeType::AttributeList(_) => "Attributes List".into(),
        AttributeType::AttributeSet(_) => "Attributes Set".into(),
        AttributeType::AttributeMap(_) => "Attributes Map".into(),
        AttributeType::Any => "Dynamic".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
    }

    #[test]
    fn committed_docs_match_the_schema() {
        let pages = render(&repo().join("examples")).expect("examples must exist");
        let mut stale = Vec::new();
        for page in &pages {
            let committed =
                std::fs::read_to_string(repo().join("docs").join(&page.path)).unwrap_or_default();
            if committed != page.content {
                stale.push(page.path.display().to_string());
            }
        }
        assert!(
            stale.is_empty(),
            "docs are stale ({}): run scripts/gen-docs",
            stale.join(", ")
        );
    }

    #[test]
    fn every_resource_and_data_source_has_a_page() {
        let pages = render(&repo().join("examples")).unwrap();
        let paths: Vec<String> = pages.iter().map(|p| p.path.display().to_string()).collect();
        for expected in [
            "index.md",
            "resources/application.md",
            "resources/tenant.md",
            "data-sources/application.md",
            "data-sources/tenant.md",
            "data-sources/tenants.md",
        ] {
            assert!(
                paths.iter().any(|p| p == expected),
                "{expected} missing from {paths:?}"
            );
        }
        let tenant = pages
            .iter()
            .find(|p| p.path == Path::new("resources/tenant.md"))
            .unwrap();
        assert!(tenant
            .content
            .contains("- `sensitive_variables` (Dynamic, Sensitive)"));
        assert!(tenant.content.contains("terraform import saas_tenant."));
    }
}
