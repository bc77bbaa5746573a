//! `saasctl runs`: list past runs, or show one (`runs show ID`).

use crate::cli::{RunsArgs, RunsCommand};
use crate::exit::Outcome;
use crate::render::{self, table::Table};
use crate::runs::{write_atomic, RunReport, RunStore, TenantResult, REPORT_HTML};

pub async fn run(args: RunsArgs) -> anyhow::Result<Outcome> {
    let store = RunStore::new(&args.runs_dir);
    match args.command {
        None => {
            let reports = store.list()?;
            render::listing(args.output.output, &reports, |reports| {
                let mut table = Table::new([
                    "RUN",
                    "COMMAND",
                    "APPLICATION",
                    "STARTED",
                    "STATUS",
                    "TENANTS",
                    "FAILED",
                ]);
                for r in reports {
                    table.row([
                        r.run_id.clone(),
                        r.command.clone(),
                        r.application.clone(),
                        r.started_at.clone(),
                        r.status.as_str().to_string(),
                        r.tenants.len().to_string(),
                        failed(r).to_string(),
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
            println!("{}", std::path::absolute(&path)?.display());
        }
        Some(RunsCommand::Show { id, html: false }) => {
            let report = store.load(&id)?;
            render::report::print(args.output.output, &report, &store.run_dir(&id))?;
        }
    }
    Ok(Outcome::Clean)
}

fn failed(report: &RunReport) -> usize {
    report.count(TenantResult::Failed)
        + report.count(TenantResult::NotStarted)
        + report.count(TenantResult::Pending)
}
