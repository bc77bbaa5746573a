//! The command line and the environment, resolved into [`crate::settings`]
//! before any I/O. Every environment variable that changes behaviour
//! (`SAAS_REGISTRY`, `NO_COLOR`, `TF_PLUGIN_CACHE_DIR`; `SAAS_TERRAFORM`
//! through clap) is read here, once.

use std::num::NonZeroUsize;
use std::path::PathBuf;

use saas_registry::{TenantFilter, TenantStatus};

use crate::cli::{ApplyArgs, ApplyModeArg, FanoutArgs, GlobalArgs, OutputFormatArg, SelectionArgs};
use crate::exit::CliError;
use crate::settings::{
    ApplyMode, FanoutSettings, Global, Operation, OutputFormat, RetrySettings, RunStart, Selection,
    StackLocation,
};

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
            endpoints: crate::aws::endpoints_from_env(),
        }
    }
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

impl From<ApplyModeArg> for ApplyMode {
    fn from(arg: ApplyModeArg) -> Self {
        match arg {
            ApplyModeArg::Auto => ApplyMode::Auto,
            ApplyModeArg::Manual => ApplyMode::Manual,
        }
    }
}
