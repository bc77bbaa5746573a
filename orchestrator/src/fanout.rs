//! The fan-out engine: checks everything that can fail before any tenant
//! runs, prepares the run directory (one stack copy and one provider
//! install per run), runs the tenants through the pool, and keeps
//! `report.json` current after every tenant so a killed run can resume.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use saas_registry::{Registry, RegistryLocation, Tenant, TenantStatus};

use crate::cli::{FanoutArgs, GlobalArgs};
use crate::discovery::{discover, only_new, open_registry};
use crate::exit::{CliError, Outcome};
use crate::init_template::InitTemplate;
use crate::mirror;
use crate::pool::{self, PoolSettings, Slot, Wave};
use crate::progress::Progress;
use crate::redact::Redactor;
use crate::render;
use crate::rollout;
use crate::runner::{self, Invocation, RetrySettings, TerraformSettings};
use crate::runs::{
    new_run_id, now_rfc3339, validate_run_id, write_atomic, RunReport, RunStatus, RunStore,
    TenantReport, TenantResult, JUNIT_FILE, REPORT_HTML,
};
use crate::tenant_job::{run_tenant, JobContext, Operation, SavedPlans, TenantOutcome};
use crate::workspace::RunWorkspace;

/// Runs `operation` over the selected tenants. `default_status` applies
/// without `--status` (active; offboarding for destroy).
pub async fn run(
    global: &GlobalArgs,
    args: &FanoutArgs,
    operation: Operation,
    default_status: TenantStatus,
) -> anyhow::Result<Outcome> {
    let binary = runner::find_terraform()?;
    let (root, stack_rel) = locate_stack(&args.stack, args.root.as_deref())?;
    let stack = root.join(&stack_rel);
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    if jobs == 0 {
        return Err(CliError::Usage("-j/--jobs must be at least 1".into()).into());
    }
    if let Some(id) = args.run_id.as_deref().or(args.resume.as_deref()) {
        validate_run_id(id)?;
    }
    let store = RunStore::new(absolute(&args.runs_dir)?);
    let registry = open_registry(global).await?;
    let (application, selected) = discover(&registry, &args.selection, default_status).await?;

    let previous = args
        .resume
        .as_deref()
        .map(|id| store.load(id))
        .transpose()?;
    let (run_id, mut operation, tenants) = match &previous {
        Some(old) => resume_selection(&registry, old, &application.name, operation).await?,
        None => {
            let tenants = match &operation {
                Operation::Apply {
                    from_run: Some(saved),
                } => with_saved_plans(&store.load(&saved.run_id)?, &application.name, selected)?,
                _ => selected,
            };
            let run_id = args.run_id.clone().unwrap_or_else(new_run_id);
            if store.run_dir(&run_id).exists() {
                return Err(CliError::Usage(format!(
                    "run {run_id:?} already exists; pick another --run-id or use --resume {run_id}"
                ))
                .into());
            }
            (run_id, operation, tenants)
        }
    };
    if let Operation::Apply {
        from_run: Some(saved),
    } = &mut operation
    {
        saved.workspace = RunWorkspace::new(store.run_dir(&saved.run_id));
    }
    let tenants = if args.selection.new {
        only_new(&application, tenants).await?
    } else {
        tenants
    };
    let waves = plan_waves(args.waves.as_deref(), &tenants)?;
    let max_failures = args
        .max_failures
        .as_deref()
        .map(|spec| rollout::parse_max_failures(spec, tenants.len()))
        .transpose()?;
    let pool_settings = PoolSettings {
        jobs,
        max_failures,
        fail_fast: args.fail_fast,
    };
    if !(0.0..=600.0).contains(&args.retry_delay) || args.attempts == 0 {
        return Err(CliError::Usage(
            "--attempts must be >= 1 and --retry-delay within 0..=600 seconds".into(),
        )
        .into());
    }

    let workspace = RunWorkspace::new(store.run_dir(&run_id));
    std::fs::create_dir_all(&workspace.dir)
        .with_context(|| format!("creating run directory {}", workspace.dir.display()))?;
    let terraform = TerraformSettings {
        binary,
        plugin_cache_dir: workspace.plugin_cache(),
        registry_url: absolute_registry_url(registry.url())?,
        retry: RetrySettings {
            attempts: args.attempts,
            base_delay: Duration::from_secs_f64(args.retry_delay),
        },
    };

    let mut report = match previous {
        Some(mut old) => {
            for t in old.tenants.iter_mut().filter(|t| t.result.needs_rerun()) {
                *t = TenantReport::pending(&t.tenant, &t.wave);
            }
            old.resumes += 1;
            old.status = RunStatus::Running;
            old.finished_at = None;
            old
        }
        None => RunReport {
            run_id: run_id.clone(),
            command: operation.command().to_string(),
            application: application.name.clone(),
            stack: stack.display().to_string(),
            started_at: now_rfc3339(),
            finished_at: None,
            status: RunStatus::Running,
            jobs,
            from_run: match &operation {
                Operation::Apply {
                    from_run: Some(saved),
                } => Some(saved.run_id.clone()),
                _ => None,
            },
            resumes: 0,
            terraform_version: None,
            tenants: waves
                .iter()
                .flat_map(|w| w.items.iter().map(|id| TenantReport::pending(id, &w.name)))
                .collect(),
        },
    };
    store.save(&report)?;

    if !tenants.is_empty() {
        workspace.mirror_stack(&root, &stack_rel)?;
        install_providers(&terraform, &workspace).await?;
    }

    let ctx = JobContext {
        terraform,
        workspace,
        application,
        operation,
        init_template: InitTemplate::default(),
        plan_json: args.plan_json,
    };
    let by_id: BTreeMap<String, Tenant> = tenants.into_iter().map(|t| (t.id.clone(), t)).collect();
    for entry in &mut report.tenants {
        if let Some(tenant) = by_id.get(&entry.tenant) {
            entry.name = Some(tenant.name.clone());
        }
    }
    if report.terraform_version.is_none() {
        report.terraform_version = runner::terraform_version(&ctx.terraform.binary).await;
    }
    let mut progress = Progress::new(by_id.len());
    progress.start(ctx.operation.command(), &run_id, jobs);
    let mut save_error = None;
    pool::run(
        waves,
        pool_settings,
        |id: String| {
            let (ctx, tenant) = (&ctx, &by_id[&id]);
            async move { run_tenant(ctx, tenant).await }
        },
        |id, slot| {
            if let Some(entry) = report.tenant_mut(id) {
                record(entry, slot);
                progress.finished(entry);
            }
            if let Err(err) = store.save(&report) {
                save_error.get_or_insert(err);
            }
        },
    )
    .await;
    if let Some(err) = save_error {
        return Err(err.context("saving report.json"));
    }

    report.status = report.summarise();
    report.finished_at = Some(now_rfc3339());
    store.save(&report)?;
    write_atomic(
        &ctx.workspace.dir.join(JUNIT_FILE),
        render::junit::render(&report).as_bytes(),
    )?;
    let page = render::html::page(&report, &render::html::PageContext::default());
    write_atomic(&ctx.workspace.dir.join(REPORT_HTML), page.as_bytes())?;
    render::report::print(args.output.output, &report, &ctx.workspace.dir)?;
    Ok(match report.status {
        RunStatus::Failed | RunStatus::Running => Outcome::TenantFailed,
        RunStatus::Changes if matches!(ctx.operation, Operation::Plan | Operation::Drift) => {
            Outcome::Changes
        }
        _ => Outcome::Clean,
    })
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
    application: &str,
    operation: Operation,
) -> anyhow::Result<(String, Operation, Vec<Tenant>)> {
    if old.command != operation.command() || old.application != application {
        return Err(CliError::Usage(format!(
            "run {} was `saasctl {} --application {}`; resume it with the same command and application",
            old.run_id, old.command, old.application
        ))
        .into());
    }
    if old.status == RunStatus::Running {
        eprintln!(
            "warning: run {} did not finish (killed?); make sure it is not still running",
            old.run_id
        );
    }
    let operation = match (operation, &old.from_run) {
        (Operation::Apply { .. }, Some(from)) => Operation::Apply {
            from_run: Some(SavedPlans {
                run_id: from.clone(),
                workspace: RunWorkspace::new(PathBuf::new()),
            }),
        },
        (op, _) => op,
    };
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
    Ok((old.run_id.clone(), operation, tenants))
}

/// For `apply --from-run`: the selected tenants that have a saved plan.
fn with_saved_plans(
    saved: &RunReport,
    application: &str,
    selected: Vec<Tenant>,
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
        eprintln!(
            "note: run {} has no successful plan for {}; not applying them",
            saved.run_id,
            ids.join(", ")
        );
    }
    Ok(keep)
}

fn plan_waves(spec: Option<&str>, tenants: &[Tenant]) -> anyhow::Result<Vec<Wave<String>>> {
    Ok(match rollout::label_key(spec) {
        Some(key) => rollout::plan_label_waves(
            &tenants
                .iter()
                .map(|t| (t.id.clone(), t.labels.get(key).cloned()))
                .collect::<Vec<_>>(),
        ),
        None => rollout::plan_waves(
            spec,
            &tenants.iter().map(|t| t.id.clone()).collect::<Vec<_>>(),
        )?,
    })
}

/// The stack as (canonical root, path below it): `root` or the enclosing
/// repository (see `mirror::find_root`).
pub fn locate_stack(stack: &Path, root: Option<&Path>) -> anyhow::Result<(PathBuf, PathBuf)> {
    let canonical = |dir: &Path, what: &str| {
        std::fs::canonicalize(dir)
            .ok()
            .filter(|d| d.is_dir())
            .ok_or_else(|| {
                CliError::NotFound(format!("{what} directory {} does not exist", dir.display()))
            })
    };
    let stack = canonical(stack, "stack")?;
    let root = match root {
        Some(root) => canonical(root, "root")?,
        None => mirror::find_root(&stack, None),
    };
    let rel = mirror::stack_within(&root, &stack).map_err(|e| CliError::Usage(e.to_string()))?;
    Ok((root, rel))
}

/// One provider (and module) install per run, in the run's mirror. It
/// writes a `.terraform.lock.hcl` there when the stack commits none (a
/// committed one is used read-only: a provider that does not match it fails
/// the run with Terraform's message) and fills the plugin cache, so each
/// tenant's init only links providers.
pub async fn install_providers(
    terraform: &TerraformSettings,
    workspace: &RunWorkspace,
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
    let mut args: Vec<String> = ["init", "-backend=false", "-input=false", "-no-color"]
        .map(String::from)
        .into();
    if config_dir.join(mirror::LOCK_FILE).is_file() {
        args.push("-lockfile=readonly".into());
    }
    terraform
        .run_retrying(&inv, &args, &[0], true)
        .await
        .with_context(|| format!("installing the stack's providers (log: {})", log.display()))?;
    Ok(())
}

pub fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    Ok(if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()?.join(path)
    })
}

/// Terraform runs in another directory, so a relative SQLite path is made
/// absolute before the provider sees it.
pub fn absolute_registry_url(url: &str) -> anyhow::Result<String> {
    Ok(match RegistryLocation::parse(url)? {
        RegistryLocation::Sqlite { path } if path.is_relative() => {
            format!("sqlite://{}", absolute(&path)?.display())
        }
        _ => url.to_string(),
    })
}
