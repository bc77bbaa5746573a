//! The command line and the environment, resolved into typed settings before
//! any I/O (ripgrep's low-level args → high-level args). The engine below
//! takes these and never sees clap; every environment variable that changes
//! behaviour is read here, once.

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

use saas_registry::{TenantFilter, TenantStatus};

use crate::cli::{ApplyArgs, FanoutArgs, GlobalArgs, OutputFormatArg, SelectionArgs};
use crate::exit::CliError;
use crate::mirror;
use crate::render::OutputFormat;
use crate::rollout::FailureBudget;
use crate::runner::RetrySettings;
use crate::tenant_job::Operation;

/// What every command shares: where the registry is, which terraform, how to print.
#[derive(Debug, Clone)]
pub struct Global {
    /// `--registry`, `SAAS_REGISTRY`, else the default SQLite file.
    pub registry_url: String,
    /// `--registry` as given (generated pipelines pin only an explicit one).
    pub registry_flag: Option<String>,
    /// `--terraform` / `SAAS_TERRAFORM`; else found on PATH when a command needs it.
    pub terraform: Option<PathBuf>,
    /// `NO_COLOR` set to anything non-empty.
    pub no_color: bool,
    /// `TF_PLUGIN_CACHE_DIR`, when the user (or a CI cache) provides one.
    pub plugin_cache: Option<PathBuf>,
}

impl Global {
    pub fn resolve(args: &GlobalArgs) -> Self {
        let non_empty = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        Global {
            // An explicit empty --registry stays empty: opening it is an error, not the default.
            registry_url: match &args.registry {
                Some(explicit) => explicit.clone(),
                None => non_empty(saas_registry::REGISTRY_ENV)
                    .map(|v| v.to_string_lossy().into_owned())
                    .unwrap_or_else(|| saas_registry::DEFAULT_REGISTRY_URL.to_string()),
            },
            registry_flag: args.registry.clone(),
            terraform: args.terraform.clone(),
            no_color: non_empty("NO_COLOR").is_some(),
            plugin_cache: non_empty("TF_PLUGIN_CACHE_DIR").map(PathBuf::from),
        }
    }
}

/// Which tenants a command acts on.
#[derive(Debug, Clone)]
pub struct Selection {
    pub application: String,
    /// The registry query; `ids` are the tenants named with `--tenant`.
    pub filter: TenantFilter,
    /// `--new`: only tenants whose state object does not exist yet.
    pub new_only: bool,
}

impl SelectionArgs {
    /// `default_status` applies without `--status` (active; offboarding for destroy).
    pub fn resolve(&self, default_status: TenantStatus) -> Result<Selection, CliError> {
        let invalid = |e: saas_registry::RegistryError| CliError::Invalid(e.to_string());
        saas_registry::validate::slug("application", &self.application).map_err(invalid)?;
        for id in &self.tenants {
            saas_registry::validate::slug("tenant", id).map_err(invalid)?;
        }
        Ok(Selection {
            application: self.application.clone(),
            filter: TenantFilter {
                application: Some(self.application.clone()),
                tier: self.tier.clone(),
                status: Some(self.status.unwrap_or(default_status)),
                ids: self.tenants.iter().cloned().collect(),
                labels: self.labels.iter().cloned().collect(),
            },
            new_only: self.new,
        })
    }
}

impl From<OutputFormatArg> for OutputFormat {
    fn from(arg: OutputFormatArg) -> Self {
        match arg {
            OutputFormatArg::Table => OutputFormat::Table,
            OutputFormatArg::Json => OutputFormat::Json,
        }
    }
}

/// The stack, as (canonical repository root, the stack's path below it).
#[derive(Debug, Clone)]
pub struct StackLocation {
    pub root: PathBuf,
    pub rel: PathBuf,
}

impl StackLocation {
    /// `root` or the enclosing repository (see `mirror::find_root`). A stack
    /// or root that is not a directory is "not found" (66) for every command.
    pub fn resolve(stack: &Path, root: Option<&Path>) -> Result<Self, CliError> {
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
        let rel =
            mirror::stack_within(&root, &stack).map_err(|e| CliError::Usage(e.to_string()))?;
        Ok(StackLocation { root, rel })
    }

    pub fn dir(&self) -> PathBuf {
        self.root.join(&self.rel)
    }
}

/// How a fan-out run starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunStart {
    /// A new run, with `--run-id` or a generated id.
    New { run_id: Option<String> },
    /// `--resume RUN`: the tenants of RUN that failed or never started.
    Resume { run_id: String },
    /// `apply --from-run PLAN_RUN`: exactly the plans that run saved.
    FromPlans {
        plan_run: String,
        run_id: Option<String>,
    },
}

/// Everything a fan-out (plan, apply, drift, destroy) takes.
#[derive(Debug, Clone)]
pub struct FanoutSettings {
    pub operation: Operation,
    pub start: RunStart,
    pub selection: Selection,
    pub stack: StackLocation,
    pub jobs: NonZeroUsize,
    pub retry: RetrySettings,
    /// `--waves`, split once the tenants are known.
    pub waves: Option<String>,
    pub failure_budget: Option<FailureBudget>,
    pub fail_fast: bool,
    pub plan_json: bool,
    /// `--changed`: skip tenants whose fingerprint matches their applied record.
    pub changed: bool,
    /// Absolute: terraform runs in other directories.
    pub runs_dir: PathBuf,
    pub output: OutputFormat,
}

impl FanoutSettings {
    pub fn resolve(args: &FanoutArgs, operation: Operation) -> Result<Self, CliError> {
        Self::resolve_start(args, operation, None)
    }

    pub fn resolve_apply(args: &ApplyArgs) -> Result<Self, CliError> {
        Self::resolve_start(&args.fanout, Operation::Apply, args.from_run.clone())
    }

    fn resolve_start(
        args: &FanoutArgs,
        operation: Operation,
        from_run: Option<String>,
    ) -> Result<Self, CliError> {
        let start = match (&args.resume, from_run) {
            (Some(run_id), _) => RunStart::Resume {
                run_id: run_id.clone(),
            },
            (None, Some(plan_run)) => RunStart::FromPlans {
                plan_run,
                run_id: args.run_id.clone(),
            },
            (None, None) => RunStart::New {
                run_id: args.run_id.clone(),
            },
        };
        if args.changed && !matches!(operation, Operation::Plan | Operation::Apply) {
            return Err(CliError::Usage(format!(
                "--changed is for plan and apply; {} always runs every selected tenant",
                operation.command()
            )));
        }
        if args.changed && matches!(start, RunStart::FromPlans { .. }) {
            return Err(CliError::Usage(
                "--changed does not go with --from-run: the plan run already chose the tenants"
                    .into(),
            ));
        }
        let default_status = match operation {
            Operation::Destroy => TenantStatus::Offboarding,
            _ => TenantStatus::Active,
        };
        let cores = || std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN);
        Ok(FanoutSettings {
            operation,
            start,
            selection: args.selection.resolve(default_status)?,
            stack: StackLocation::resolve(&args.stack, args.root.as_deref())?,
            jobs: args.jobs.unwrap_or_else(cores),
            retry: RetrySettings {
                attempts: args.attempts,
                base_delay: args.retry_delay,
            },
            waves: args.waves.clone(),
            failure_budget: args.max_failures,
            fail_fast: args.fail_fast,
            plan_json: args.plan_json,
            changed: args.changed,
            runs_dir: std::path::absolute(&args.runs_dir)
                .map_err(|e| CliError::Usage(format!("--runs-dir: {e}")))?,
            output: args.output.output.into(),
        })
    }
}
