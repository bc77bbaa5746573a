//! Rendering: tables for people, JSON for machines, JUnit and GitLab YAML for CI.

pub mod bootstrap;
pub mod gitlab;
pub mod html;
pub mod junit;
mod printer;
pub mod report;
pub mod table;

pub use printer::Printer;

pub use crate::settings::OutputFormat;
