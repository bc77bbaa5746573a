//! The fan-out engine, in three steps: `prepare` resolves the tenants (new
//! run, resume, or the saved plans of a plan run), creates the run
//! directory with its report and installs providers once; `execute` runs
//! the tenants through the pool, saving `report.json` after every tenant so
//! a killed run can resume; `finish` writes JUnit, the release page and the
//! result. Command-line values arrive already checked, in `FanoutSettings`.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use saas_registry::{Registry, RegistryLocation, S3BackendConfig, Tenant};

use crate::changed::{
    read_records, record_store, saved_fingerprints, skip_unchanged, tenant_fingerprints,
    unchanged_tenants,
};
use crate::discovery::{discover, only_new, open_registry};
use crate::exit::{CliError, Outcome};
use crate::init_template::InitTemplate;
use crate::mirror;
use crate::pool::{self, PoolSettings, Slot, Wave};
use crate::progress::Progress;
use crate::redact::Redactor;
use crate::render::{self, Printer};
use crate::rollout;
use crate::runner::{self, Invocation, TerraformSettings};
use crate::runs::{
    new_run_id, now_rfc3339, write_atomic, RunReport, RunStatus, RunStore, TenantReport,
    TenantResult, JUNIT_FILE, REPORT_HTML,
};
use crate::settings::{FanoutSettings, Global, RetrySettings, RunStart, StackLocation};
use crate::tenant_job::{run_tenant, JobContext, Operation, SavedPlans, TenantOutcome};
use crate::workspace::{self, RunWorkspace};

/// Runs the settings' operation over the selected tenants.
pub async fn run(
    global: &Global,
    settings: &FanoutSettings,
    printer: &Printer,
) -> anyhow::Result<Outcome> {
    let mut run = prepare(global, settings, printer).await?;
    execute(settings, &mut run, printer).await?;
    finish(settings, run, printer)
}

/// A run ready to execute.
struct PreparedRun {
    store: RunStore,
    report: RunReport,
    ctx: JobContext,
    waves: Vec<Wave<String>>,
    tenants: BTreeMap<String, Tenant>,
    pool: PoolSettings,
}

/// The tenants a run covers, and the run they belong to.
struct Resolved {
    run_id: String,
    tenants: Vec<Tenant>,
    /// The report of the run being resumed.
    resumed: Option<RunReport>,
    saved_plans: Option<SavedPlans>,
}

async fn prepare(
    global: &Global,
    s: &FanoutSettings,
    printer: &Printer,
) -> anyhow::Result<PreparedRun> {
    let binary = runner::find_terraform(global.terraform.as_deref())?;
    let store = RunStore::new(&s.runs_dir);
    let registry = open_registry(global).await?;
    let (application, selected) = discover(&registry, &s.selection).await?;
    let mut resolved = resolve_run(&registry, &store, s, selected, printer).await?;
    if s.selection.new_only {
        resolved.tenants = only_new(&global.endpoints, &application, resolved.tenants).await?;
    }
    let waves = rollout::waves_for(s.waves.as_deref(), &resolved.tenants)?;
    let pool = PoolSettings {
        jobs: s.jobs.get(),
        max_failures: s.failure_budget.map(|b| b.limit(resolved.tenants.len())),
        fail_fast: s.fail_fast,
    };

    let workspace = RunWorkspace::new(store.run_dir(&resolved.run_id));
    std::fs::create_dir_all(&workspace.dir)
        .with_context(|| format!("creating run directory {}", workspace.dir.display()))?;
    let terraform = terraform_for_run(binary, global, &workspace, &registry, s.retry)?;
    let tenants: BTreeMap<String, Tenant> = resolved
        .tenants
        .into_iter()
        .map(|t| (t.id.clone(), t))
        .collect();
    let mut report = match resolved.resumed {
        Some(old) => resumed_report(old),
        None => new_report(
            s,
            &resolved.run_id,
            &application.name,
            &resolved.saved_plans,
            &waves,
        ),
    };
    for entry in &mut report.tenants {
        if let Some(tenant) = tenants.get(&entry.tenant) {
            entry.name = Some(tenant.name.clone());
        }
    }
    store.save(&report)?;

    let needs_records = s.changed || matches!(s.operation, Operation::Apply | Operation::Destroy);
    let records = match needs_records && !tenants.is_empty() {
        true => Some(record_store(global, &application).await),
        false => None,
    };
    // Nothing here depends on the others: the install, Terraform's version
    // and (`--changed`) the applied records run at once.
    let version_known = report.terraform_version.is_some();
    let init_template = InitTemplate::default();
    let first_backend = tenants.keys().next().and_then(|id| {
        let backend = saas_registry::derive_backend(&application, id).ok()?;
        Some(workspace::backend_config(&backend, &global.endpoints))
    });
    let (installed, version, recorded) = tokio::join!(
        async {
            if !tenants.is_empty() {
                workspace.mirror_stack(&s.stack.root, &s.stack.rel)?;
                let first = first_backend.as_ref().map(|b| (b, &init_template));
                install_providers(&terraform, &workspace, first).await?;
            }
            anyhow::Ok(())
        },
        async {
            if version_known {
                return None;
            }
            runner::terraform_version(&terraform.binary).await
        },
        async {
            let records = records.as_ref().filter(|_| s.changed)?;
            Some(read_records(records, &application, &tenants, printer).await)
        },
    );
    installed?;
    report.terraform_version = report.terraform_version.take().or(version);

    let mut waves = waves;
    let mut fingerprints = match &resolved.saved_plans {
        Some(saved) => saved_fingerprints(&store, &saved.run_id),
        None => BTreeMap::new(),
    };
    if !tenants.is_empty()
        && resolved.saved_plans.is_none()
        && matches!(s.operation, Operation::Plan | Operation::Apply)
    {
        let version = report.terraform_version.as_deref().unwrap_or("unknown");
        fingerprints = tenant_fingerprints(&workspace, &application, &tenants, version)?;
    }
    if let Some(recorded) = recorded {
        skip_unchanged(
            &unchanged_tenants(recorded, &fingerprints),
            &mut report,
            &mut waves,
        );
    }
    store.save(&report)?;
    let ctx = JobContext {
        terraform,
        workspace,
        application,
        operation: s.operation,
        saved_plans: resolved.saved_plans,
        fingerprints,
        records,
        run_id: report.run_id.clone(),
        endpoints: global.endpoints.clone(),
        init_template,
        plan_json: s.plan_json,
    };
    Ok(PreparedRun {
        store,
        report,
        ctx,
        waves,
        tenants,
        pool,
    })
}

/// `--changed` outside a run (`pipeline gitlab --changed`): the tenants
/// whose fingerprint differs from their applied record, after one provider
/// install in a scratch run directory under `runs_dir`.
pub async fn changed_tenants(
    global: &Global,
    stack: &StackLocation,
    runs_dir: &Path,
    registry: &Registry,
    application: &saas_registry::Application,
    tenants: Vec<Tenant>,
    printer: &Printer,
) -> anyhow::Result<Vec<Tenant>> {
    if tenants.is_empty() {
        return Ok(tenants);
    }
    let binary = runner::find_terraform(global.terraform.as_deref())?;
    let workspace =
        RunWorkspace::new(std::path::absolute(runs_dir)?.join(format!("changed-{}", new_run_id())));
    std::fs::create_dir_all(&workspace.dir)?;
    let terraform = terraform_for_run(binary, global, &workspace, registry, RetrySettings::ONCE)?;
    workspace.mirror_stack(&stack.root, &stack.rel)?;
    let by_id: BTreeMap<String, Tenant> = tenants.into_iter().map(|t| (t.id.clone(), t)).collect();
    let records = record_store(global, application).await;
    let (installed, version, recorded) = tokio::join!(
        install_providers(&terraform, &workspace, None),
        runner::terraform_version(&terraform.binary),
        read_records(&records, application, &by_id, printer),
    );
    installed?;
    let version = version.as_deref().unwrap_or("unknown");
    let fingerprints = tenant_fingerprints(&workspace, application, &by_id, version)?;
    let unchanged = unchanged_tenants(recorded, &fingerprints);
    Ok(by_id
        .into_values()
        .filter(|t| !unchanged.contains_key(&t.id))
        .collect())
}

/// How Terraform runs for every tenant of a run: the binary, the plugin
/// cache (`TF_PLUGIN_CACHE_DIR` or the run's own), the registry the `saas`
/// provider reads (absolute: terraform runs elsewhere), the retry policy.
pub fn terraform_for_run(
    binary: std::path::PathBuf,
    global: &Global,
    workspace: &RunWorkspace,
    registry: &Registry,
    retry: RetrySettings,
) -> anyhow::Result<TerraformSettings> {
    Ok(TerraformSettings {
        binary,
        plugin_cache_dir: global
            .plugin_cache
            .clone()
            .unwrap_or_else(|| workspace.plugin_cache()),
        registry_url: absolute_registry_url(registry.url())?,
        retry,
    })
}

/// New run, resume or saved plans: which run id, which tenants.
async fn resolve_run(
    registry: &Registry,
    store: &RunStore,
    s: &FanoutSettings,
    selected: Vec<Tenant>,
    printer: &Printer,
) -> anyhow::Result<Resolved> {
    let fresh = |run_id: &Option<String>| -> anyhow::Result<String> {
        let run_id = run_id.clone().unwrap_or_else(new_run_id);
        if store.run_dir(&run_id).exists() {
            return Err(CliError::Usage(format!(
                "run {run_id:?} already exists; pick another --run-id or use --resume {run_id}"
            ))
            .into());
        }
        Ok(run_id)
    };
    let saved = |plan_run: &str| SavedPlans {
        run_id: plan_run.to_string(),
        workspace: RunWorkspace::new(store.run_dir(plan_run)),
    };
    Ok(match &s.start {
        RunStart::New { run_id } => Resolved {
            run_id: fresh(run_id)?,
            tenants: selected,
            resumed: None,
            saved_plans: None,
        },
        RunStart::FromPlans { plan_run, run_id } => {
            let plans = store.load(plan_run)?;
            let tenants = with_saved_plans(&plans, &s.selection.application, selected, printer)?;
            Resolved {
                run_id: fresh(run_id)?,
                tenants,
                resumed: None,
                saved_plans: Some(saved(plan_run)),
            }
        }
        RunStart::Resume { run_id } => {
            let old = store.load(run_id)?;
            let tenants = resume_selection(registry, &old, s, printer).await?;
            Resolved {
                run_id: old.run_id.clone(),
                tenants,
                saved_plans: old.from_run.as_deref().map(saved),
                resumed: Some(old),
            }
        }
    })
}

fn new_report(
    s: &FanoutSettings,
    run_id: &str,
    application: &str,
    saved_plans: &Option<SavedPlans>,
    waves: &[Wave<String>],
) -> RunReport {
    RunReport {
        run_id: run_id.to_string(),
        command: s.operation.command().to_string(),
        application: application.to_string(),
        stack: s.stack.dir().display().to_string(),
        started_at: now_rfc3339(),
        finished_at: None,
        status: RunStatus::Running,
        jobs: s.jobs.get(),
        from_run: saved_plans.as_ref().map(|p| p.run_id.clone()),
        resumes: 0,
        terraform_version: None,
        tenants: waves
            .iter()
            .flat_map(|w| w.items.iter().map(|id| TenantReport::pending(id, &w.name)))
            .collect(),
    }
}

/// The report of a resumed run, with the tenants to re-run reset.
fn resumed_report(mut old: RunReport) -> RunReport {
    for t in old.tenants.iter_mut().filter(|t| t.result.needs_rerun()) {
        *t = TenantReport::pending(&t.tenant, &t.wave);
    }
    old.resumes += 1;
    old.status = RunStatus::Running;
    old.finished_at = None;
    old
}

/// Runs the tenants through the pool, keeping `report.json` current.
async fn execute(
    s: &FanoutSettings,
    run: &mut PreparedRun,
    printer: &Printer,
) -> anyhow::Result<()> {
    // Unchanged tenants are already in the report; progress counts the rest.
    let to_run = run.waves.iter().map(|w| w.items.len()).sum();
    let mut progress = Progress::new(*printer, to_run);
    progress.start(s.operation.command(), &run.report.run_id, s.jobs.get());
    let mut save_error = None;
    let (ctx, tenants) = (&run.ctx, &run.tenants);
    pool::run(
        std::mem::take(&mut run.waves),
        run.pool,
        |id: String| async move { run_tenant(ctx, &tenants[&id]).await },
        |id, slot| {
            if let Some(entry) = run.report.tenant_mut(id) {
                record(entry, slot);
                progress.finished(entry);
            }
            if let Err(err) = run.store.save(&run.report) {
                save_error.get_or_insert(err);
            }
        },
    )
    .await;
    match save_error {
        Some(err) => Err(err.context("saving report.json")),
        None => Ok(()),
    }
}

/// The final report, JUnit, the release page, the printed result.
fn finish(s: &FanoutSettings, run: PreparedRun, printer: &Printer) -> anyhow::Result<Outcome> {
    let PreparedRun {
        store,
        mut report,
        ctx,
        ..
    } = run;
    report.status = report.summarise();
    report.finished_at = Some(now_rfc3339());
    store.save(&report)?;
    let dir = &ctx.workspace.dir;
    write_atomic(
        &dir.join(JUNIT_FILE),
        render::junit::render(&report).as_bytes(),
    )?;
    let page = render::html::page(&report, &render::html::PageContext::default());
    write_atomic(&dir.join(REPORT_HTML), page.as_bytes())?;
    render::report::print(printer, s.output, &report, dir)?;
    Ok(report.status.outcome(s.operation.reports_changes()))
}

fn record(entry: &mut TenantReport, slot: &Slot<TenantOutcome>) {
    match slot {
        Slot::Done(outcome) => {
            entry.result = outcome.result;
            entry.counts = outcome.counts;
            entry.changed = outcome.changed.clone();
            entry.drifted = outcome.drifted.clone();
            entry.started_at = Some(outcome.started_at.clone());
            entry.finished_at = Some(outcome.finished_at.clone());
            entry.duration_ms = Some(outcome.duration_ms);
            entry.init_ms = outcome.init_ms;
            entry.attempts = outcome.attempts;
            entry.error = outcome.error.clone();
            entry.lock = outcome.lock.clone();
            entry.released_locks = outcome.released_locks.clone();
            entry.fingerprint = outcome.fingerprint.clone();
        }
        Slot::Skipped(why) => {
            entry.result = TenantResult::NotStarted;
            entry.error = Some(why.to_string());
        }
    }
}

/// The tenants of run `old` to run again, fetched fresh from the registry.
async fn resume_selection(
    registry: &Registry,
    old: &RunReport,
    s: &FanoutSettings,
    printer: &Printer,
) -> anyhow::Result<Vec<Tenant>> {
    if old.command != s.operation.command() || old.application != s.selection.application {
        return Err(CliError::Usage(format!(
            "run {} was `saasctl {} --application {}`; resume it with the same command and application",
            old.run_id, old.command, old.application
        ))
        .into());
    }
    if old.status == RunStatus::Running {
        printer.warning(format_args!(
            "run {} did not finish (killed?); make sure it is not still running",
            old.run_id
        ));
    }
    let mut tenants = Vec::new();
    for entry in old.tenants.iter().filter(|t| t.result.needs_rerun()) {
        let tenant = registry.get_tenant(&entry.tenant).await?.ok_or_else(|| {
            CliError::NotFound(format!(
                "tenant {:?} of run {} no longer exists",
                entry.tenant, old.run_id
            ))
        })?;
        tenants.push(tenant);
    }
    Ok(tenants)
}

/// For `apply --from-run`: the selected tenants that have a saved plan.
fn with_saved_plans(
    saved: &RunReport,
    application: &str,
    selected: Vec<Tenant>,
    printer: &Printer,
) -> anyhow::Result<Vec<Tenant>> {
    if saved.command != "plan" || saved.application != application {
        return Err(CliError::Usage(format!(
            "run {} is `saasctl {} --application {}`, not a plan of {application}",
            saved.run_id, saved.command, saved.application
        ))
        .into());
    }
    let planned = |id: &str| {
        saved.tenants.iter().any(|t| {
            t.tenant == id && matches!(t.result, TenantResult::Changes | TenantResult::NoChanges)
        })
    };
    let (keep, skip): (Vec<Tenant>, Vec<Tenant>) =
        selected.into_iter().partition(|t| planned(&t.id));
    if !skip.is_empty() {
        let ids: Vec<&str> = skip.iter().map(|t| t.id.as_str()).collect();
        printer.note(format_args!(
            "run {} has no successful plan for {}; not applying them",
            saved.run_id,
            ids.join(", ")
        ));
    }
    Ok(keep)
}

/// One provider (and module) install per run, in the run's mirror. It
/// writes a `.terraform.lock.hcl` there when the stack commits none (a
/// committed one is used read-only: a provider that does not match it fails
/// the run with Terraform's message) and fills the plugin cache, so each
/// tenant's init only links providers. With `first` (the backend of the
/// run's first tenant, and the run's init template) it is a real init
/// whose data dir becomes every tenant's template: no tenant runs an init
/// of its own. Should that fail (say the tenant's bucket is not
/// bootstrapped yet), it installs without a backend and the first tenants
/// init for themselves.
pub async fn install_providers(
    terraform: &TerraformSettings,
    workspace: &RunWorkspace,
    first: Option<(&S3BackendConfig, &InitTemplate)>,
) -> anyhow::Result<()> {
    let config_dir = workspace.config_dir();
    let data_dir = workspace.init_data_dir();
    let log = workspace.init_log();
    let redactor = Redactor::default();
    let inv = Invocation {
        config_dir: &config_dir,
        data_dir: &data_dir,
        secret_env: &[],
        log: &log,
        redactor: &redactor,
        tenant: "",
    };
    let mut args: Vec<String> = ["init", "-input=false", "-no-color"]
        .map(String::from)
        .into();
    let _cache_lock = terraform.lock_plugin_cache().await.with_context(|| {
        format!(
            "locking plugin cache {}",
            terraform.plugin_cache_dir.display()
        )
    })?;
    if config_dir.join(mirror::LOCK_FILE).is_file() {
        args.push("-lockfile=readonly".into());
    }
    if let Some((first, template)) = first {
        let mut with_backend = args.clone();
        with_backend.push("-reconfigure".into());
        with_backend.extend(workspace::backend_args(first));
        if terraform
            .run_retrying(&inv, &with_backend, &[0], true)
            .await
            .is_ok()
        {
            template.offer(&data_dir);
            return Ok(());
        }
    }
    args.push("-backend=false".into());
    terraform
        .run_retrying(&inv, &args, &[0], true)
        .await
        .with_context(|| format!("installing the stack's providers (log: {})", log.display()))?;
    Ok(())
}

/// Terraform runs in another directory, so a relative SQLite path is made
/// absolute before the provider sees it.
pub fn absolute_registry_url(url: &str) -> anyhow::Result<String> {
    Ok(match RegistryLocation::parse(url)? {
        RegistryLocation::Sqlite { path } if path.is_relative() => {
            format!("sqlite://{}", std::path::absolute(&path)?.display())
        }
        _ => url.to_string(),
    })
}
