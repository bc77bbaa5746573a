//! Rendering: tables for people, JSON for machines, JUnit and GitLab YAML for CI.

pub mod bootstrap;
pub mod gitlab;
pub mod html;
pub mod junit;
mod printer;
pub mod report;
pub mod table;

pub use printer::Printer;

/// How a result is printed: a table for people, JSON for machines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OutputFormat {
    #[default]
    Table,
    Json,
}
