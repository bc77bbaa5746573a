//! Live progress on stderr: one line per finished tenant with the running
//! counts, through the printer (colour only on a terminal, never with NO_COLOR).

use crate::render::Printer;
use crate::runs::{TenantReport, TenantResult};

pub struct Progress {
    printer: Printer,
    total: usize,
    done: usize,
    failed: usize,
    not_started: usize,
}

impl Progress {
    pub fn new(printer: Printer, total: usize) -> Self {
        Progress {
            printer,
            total,
            done: 0,
            failed: 0,
            not_started: 0,
        }
    }

    pub fn start(&self, command: &str, run_id: &str, jobs: usize) {
        self.printer.line(format_args!(
            "saasctl {command}: {} tenant(s), {jobs} at a time, run {run_id}",
            self.total
        ));
    }

    pub fn finished(&mut self, report: &TenantReport) {
        self.done += 1;
        self.failed += usize::from(report.result.is_failure());
        self.not_started += usize::from(report.result == TenantResult::NotStarted);
        let result = self.paint(report.result);
        let seconds = report
            .duration_ms
            .map_or(String::new(), |ms| format!("  {:.1}s", ms as f64 / 1000.0));
        let detail = report
            .error
            .as_deref()
            .map_or(String::new(), |e| format!("  {}", first_chars(e, 160)));
        let skipped = match self.not_started {
            0 => String::new(),
            n => format!(", {n} not started"),
        };
        self.printer.line(format_args!(
            "[{}/{}, {} failed{skipped}] {}  {result}  {}{seconds}{detail}",
            self.done, self.total, self.failed, report.tenant, report.counts
        ));
    }

    fn paint(&self, result: TenantResult) -> String {
        let code = match result {
            TenantResult::Failed | TenantResult::NotStarted | TenantResult::Pending => "31",
            TenantResult::Changes | TenantResult::Drifted => "33",
            _ => "32",
        };
        self.printer.paint(result.as_str(), code)
    }
}

fn first_chars(text: &str, n: usize) -> String {
    match text.char_indices().nth(n) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}
