//! A run's final result: the table people read, or the report as JSON.

use std::path::Path;

use crate::render::table::Table;
use crate::render::{OutputFormat, Printer};
use crate::runs::{RunReport, TenantReport};

pub fn print(
    printer: &Printer,
    format: OutputFormat,
    report: &RunReport,
    run_dir: &Path,
) -> anyhow::Result<()> {
    match format {
        OutputFormat::Json => printer.json(report),
        OutputFormat::Table => Ok(printer.out(&table(report, run_dir))?),
    }
}

pub fn table(report: &RunReport, run_dir: &Path) -> String {
    let mut table = Table::new(["TENANT", "RESULT", "CHANGES", "DURATION", "LOG", "DETAIL"]);
    for t in &report.tenants {
        table.row([
            t.tenant.clone(),
            t.result.as_str().to_string(),
            t.counts.to_string(),
            t.duration_ms
                .map_or("-".into(), |ms| format!("{:.1}s", ms as f64 / 1000.0)),
            run_dir.join(&t.log).display().to_string(),
            t.detail() + &unlock_hint(report, t),
        ]);
    }
    let summary = format!(
        "run {} ({} {}): {} tenant(s), status {}\n",
        report.run_id,
        report.command,
        report.application,
        report.tenants.len(),
        report.summarise().as_str()
    );
    format!("{table}{summary}")
}

/// The way out of a lock that stayed held (the holder may have died).
fn unlock_hint(report: &RunReport, t: &TenantReport) -> String {
    if t.lock.is_none() {
        return String::new();
    }
    format!(
        "; if that holder is gone: saasctl unlock -a {} -t {} -s {}",
        report.application, t.tenant, report.stack
    )
}
