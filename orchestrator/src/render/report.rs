//! A run's final result: the table people read, or the report as JSON.

use std::path::Path;

use crate::cli::OutputFormat;
use crate::render::table::Table;
use crate::runs::{RunReport, TenantReport};

pub fn print(format: OutputFormat, report: &RunReport, run_dir: &Path) -> anyhow::Result<()> {
    match format {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(report)?),
        OutputFormat::Table => print!("{}", table(report, run_dir)),
    }
    Ok(())
}

pub fn table(report: &RunReport, run_dir: &Path) -> String {
    let mut table = Table::new(["TENANT", "RESULT", "CHANGES", "DURATION", "LOG", "DETAIL"]);
    for t in &report.tenants {
        let c = t.counts;
        table.row([
            t.tenant.clone(),
            t.result.as_str().to_string(),
            format!("+{} ~{} -{}", c.add, c.change, c.destroy),
            t.duration_ms
                .map_or("-".into(), |ms| format!("{:.1}s", ms as f64 / 1000.0)),
            run_dir.join(&t.log).display().to_string(),
            detail(t) + &unlock_hint(report, t),
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

/// Why a tenant failed (with the lock holder), or what drifted.
pub fn detail(t: &TenantReport) -> String {
    if let Some(lock) = &t.lock {
        return format!(
            "state locked: ID {} held by {} since {} ({})",
            lock.id, lock.who, lock.created, lock.operation
        );
    }
    if let Some(error) = &t.error {
        return error.clone();
    }
    if !t.drifted.is_empty() {
        return format!("drifted: {}", t.drifted.join(", "));
    }
    String::new()
}
