//! Rendering: tables for people, JSON for machines, JUnit and GitLab YAML for CI.

pub mod bootstrap;
pub mod gitlab;
pub mod html;
pub mod junit;
pub mod report;
pub mod table;

use crate::cli::OutputFormat;

/// Prints `rows` as JSON (one array) or as a table built by `to_table`.
pub fn listing<T: serde::Serialize>(
    format: OutputFormat,
    rows: &[T],
    to_table: impl Fn(&[T]) -> table::Table,
) -> anyhow::Result<()> {
    match format {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(rows)?),
        OutputFormat::Table => print!("{}", to_table(rows)),
    }
    Ok(())
}
