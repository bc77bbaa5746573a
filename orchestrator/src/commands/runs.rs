//! `saasctl runs`: list past runs, or show one (`runs show ID`).

use crate::cli::{RunsArgs, RunsCommand};
use crate::exit::Outcome;
use crate::render::{self, table::Table, Printer};
use crate::runs::{write_atomic, RunStore, TenantResult, REPORT_HTML};

pub async fn run(printer: &Printer, args: RunsArgs) -> anyhow::Result<Outcome> {
    let store = RunStore::new(&args.runs_dir);
    let format = args.output.output.into();
    match args.command {
        None => {
            let reports = store.list()?;
            printer.listing(format, &reports, |reports| {
                let mut table = Table::new([
                    "RUN",
                    "COMMAND",
                    "APPLICATION",
                    "STARTED",
                    "STATUS",
                    "TENANTS",
                    "FAILED",
                    "NOT STARTED",
                ]);
                for r in reports {
                    table.row([
                        r.run_id.clone(),
                        r.command.clone(),
                        r.application.clone(),
                        r.started_at.clone(),
                        r.status.as_str().to_string(),
                        r.tenants.len().to_string(),
                        r.failed().to_string(),
                        r.count(TenantResult::NotStarted).to_string(),
                    ]);
                }
                table
            })?;
        }
        Some(RunsCommand::Show { id, html: true }) => {
            let report = store.load(&id)?;
            let path = store.run_dir(&id).join(REPORT_HTML);
            if !path.is_file() {
                let page = render::html::page(&report, &render::html::PageContext::default());
                write_atomic(&path, page.as_bytes())?;
            }
            printer.out(&format!("{}\n", std::path::absolute(&path)?.display()))?;
        }
        Some(RunsCommand::Show { id, html: false }) => {
            let report = store.load(&id)?;
            render::report::print(printer, format, &report, &store.run_dir(&id))?;
        }
    }
    Ok(Outcome::Clean)
}
