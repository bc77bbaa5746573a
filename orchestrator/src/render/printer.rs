//! The one way output leaves saasctl: results on stdout, notes, warnings and
//! progress on stderr. Every command gets the same `Printer` (uv's pattern).
//!
//! Writing results returns the I/O error, so a closed pipe
//! (`saasctl tenants -o json | head -1`) ends the command quietly through
//! `main` instead of panicking the way `println!` does. Lines on stderr are
//! best effort: a closed stderr must not fail a run.

use std::fmt::Display;
use std::io::{IsTerminal, Write};

use serde::Serialize;

use super::table::Table;
use super::OutputFormat;

#[derive(Debug, Clone, Copy)]
pub struct Printer {
    colour: bool,
}

impl Printer {
    /// Colour only on a terminal, and never with `NO_COLOR`.
    pub fn new(no_color: bool) -> Self {
        Printer {
            colour: !no_color && std::io::stderr().is_terminal(),
        }
    }

    /// A result, exactly as given.
    pub fn out(&self, text: &str) -> std::io::Result<()> {
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(text.as_bytes())?;
        stdout.flush()
    }

    /// A result as pretty JSON and a newline.
    pub fn json<T: Serialize + ?Sized>(&self, value: &T) -> anyhow::Result<()> {
        let mut text = serde_json::to_string_pretty(value)?;
        text.push('\n');
        Ok(self.out(&text)?)
    }

    /// `rows` as one JSON array, or as the table `to_table` builds.
    pub fn listing<T: Serialize>(
        &self,
        format: OutputFormat,
        rows: &[T],
        to_table: impl Fn(&[T]) -> Table,
    ) -> anyhow::Result<()> {
        match format {
            OutputFormat::Json => self.json(rows),
            OutputFormat::Table => Ok(self.out(&to_table(rows).to_string())?),
        }
    }

    /// A line on stderr, as given (progress, status).
    pub fn line(&self, text: impl Display) {
        let _ = writeln!(std::io::stderr().lock(), "{text}");
    }

    pub fn note(&self, text: impl Display) {
        self.line(format_args!("note: {text}"));
    }

    pub fn warning(&self, text: impl Display) {
        self.line(format_args!("warning: {text}"));
    }

    /// `text` in SGR colour `code` when colour is on.
    pub fn paint(&self, text: &str, code: &str) -> String {
        if self.colour {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}
