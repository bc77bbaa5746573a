//! `saasctl runs`: list past runs, or show one (`runs show ID`).

use crate::cli::{RunsArgs, RunsCommand};
use crate::discovery::open_registry;
use crate::exit::{CliError, Outcome};
use crate::fanout::terraform_for_run;
use crate::redact::Redactor;
use crate::render::{self, table::Table, Printer};
use crate::runs::{write_atomic, RunStore, TenantResult, REPORT_HTML};
use crate::settings::{Global, RetrySettings};
use crate::tenant_job::{invocation, save_plan_json, show_plan_args};
use crate::workspace::RunWorkspace;

pub async fn run(global: &Global, printer: &Printer, args: RunsArgs) -> anyhow::Result<Outcome> {
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
        Some(RunsCommand::Show {
            id,
            plan_json: Some(tenant),
            ..
        }) => plan_json(global, printer, &store, &id, &tenant).await?,
        Some(RunsCommand::Show { id, html: true, .. }) => {
            let report = store.load(&id)?;
            let path = store.run_dir(&id).join(REPORT_HTML);
            if !path.is_file() {
                let page = render::html::page(&report, &render::html::PageContext::default());
                write_atomic(&path, page.as_bytes())?;
            }
            printer.out(&format!("{}\n", std::path::absolute(&path)?.display()))?;
        }
        Some(RunsCommand::Show {
            id, html: false, ..
        }) => {
            let report = store.load(&id)?;
            render::report::print(printer, format, &report, &store.run_dir(&id))?;
        }
    }
    Ok(Outcome::Clean)
}

/// `runs show RUN --plan-json TENANT`: the tenant's `plan.json`, made from
/// its saved plan on first use (one `terraform show -json`, redacted with
/// the tenant's secrets from the registry).
async fn plan_json(
    global: &Global,
    printer: &Printer,
    store: &RunStore,
    run_id: &str,
    tenant_id: &str,
) -> anyhow::Result<()> {
    saas_registry::validate::slug("tenant", tenant_id)?;
    store.load(run_id)?;
    let workspace = RunWorkspace::new(std::path::absolute(store.run_dir(run_id))?);
    let ws = workspace.tenant(tenant_id);
    if !ws.plan.is_file() {
        return Err(
            CliError::NotFound(format!("run {run_id} has no saved plan for {tenant_id}")).into(),
        );
    }
    if !ws.plan_json.is_file() {
        let binary = crate::runner::find_terraform(global.terraform.as_deref())?;
        let registry = open_registry(global).await?;
        let tenant = registry.require_tenant(tenant_id).await?;
        let redactor = Redactor::for_values(tenant.sensitive_variables.values());
        let terraform =
            terraform_for_run(binary, global, &workspace, &registry, RetrySettings::ONCE)?;
        let config_dir = workspace.config_dir();
        let inv = invocation(&config_dir, &ws, &[], &redactor, tenant_id);
        let shown = terraform
            .run_retrying(&inv, &show_plan_args(&ws), &[0], false)
            .await?;
        save_plan_json(&shown.out.stdout, &redactor, &ws).map_err(anyhow::Error::msg)?;
    }
    printer.out(&std::fs::read_to_string(&ws.plan_json)?)?;
    Ok(())
}
