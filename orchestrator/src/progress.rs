//! Live progress on stderr: one line per finished tenant with the running
//! counts. Colour only on a terminal and never with NO_COLOR set.

use std::io::{IsTerminal, Write};

use crate::runs::{TenantReport, TenantResult};

pub struct Progress {
    total: usize,
    done: usize,
    failed: usize,
    colour: bool,
}

impl Progress {
    pub fn new(total: usize) -> Self {
        let colour = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            && std::io::stderr().is_terminal();
        Progress {
            total,
            done: 0,
            failed: 0,
            colour,
        }
    }

    pub fn start(&self, command: &str, run_id: &str, jobs: usize) {
        eprintln!(
            "saasctl {command}: {} tenant(s), {jobs} at a time, run {run_id}",
            self.total
        );
    }

    pub fn finished(&mut self, report: &TenantReport) {
        self.done += 1;
        if report.result.needs_rerun() {
            self.failed += 1;
        }
        let result = self.paint(report.result);
        let seconds = report
            .duration_ms
            .map_or(String::new(), |ms| format!("  {:.1}s", ms as f64 / 1000.0));
        let detail = report
            .error
            .as_deref()
            .map_or(String::new(), |e| format!("  {}", first_chars(e, 160)));
        let c = report.counts;
        let mut err = std::io::stderr().lock();
        let _ = writeln!(
            err,
            "[{}/{}, {} failed] {}  {result}  +{} ~{} -{}{seconds}{detail}",
            self.done, self.total, self.failed, report.tenant, c.add, c.change, c.destroy
        );
    }

    fn paint(&self, result: TenantResult) -> String {
        let text = result.as_str();
        if !self.colour {
            return text.to_string();
        }
        let code = match result {
            TenantResult::Failed | TenantResult::NotStarted | TenantResult::Pending => "31",
            TenantResult::Changes | TenantResult::Drifted => "33",
            _ => "32",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }
}

fn first_chars(text: &str, n: usize) -> String {
    match text.char_indices().nth(n) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}
