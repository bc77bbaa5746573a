//! Typed settings: what the engine takes, resolved from the command line and
//! the environment before any I/O (`resolve`; ripgrep's low-level args →
//! high-level args). Nothing here knows clap, so the engine never sees it.

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::time::Duration;

use saas_registry::TenantFilter;

use crate::exit::CliError;
use crate::mirror;

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
    /// `AWS_ENDPOINT_URL_S3` / `_DYNAMODB` (or `AWS_ENDPOINT_URL`): endpoints
    /// other than AWS's own, for path-style S3 and the backend's settings.
    pub endpoints: saas_registry::EndpointUrls,
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

/// What a fan-out does per tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr)]
#[strum(serialize_all = "lowercase")]
pub enum Operation {
    Plan,
    /// Plan and apply, or apply the saved plans of an earlier run.
    Apply,
    Drift,
    Destroy,
}

impl Operation {
    pub fn command(self) -> &'static str {
        self.into()
    }

    /// Whether changes are what the run reports (exit 2), not what it did.
    pub fn reports_changes(self) -> bool {
        matches!(self, Operation::Plan | Operation::Drift)
    }
}

/// Transient failures are retried `attempts - 1` times, waiting
/// `base_delay * 2^n` (plus up to 50% jitter) in between.
#[derive(Debug, Clone, Copy)]
pub struct RetrySettings {
    pub attempts: u32,
    pub base_delay: Duration,
}

impl RetrySettings {
    /// One attempt, no retries (one-off commands such as `unlock`).
    pub const ONCE: RetrySettings = RetrySettings {
        attempts: 1,
        base_delay: Duration::ZERO,
    };

    /// The wait before attempt `attempt + 1`: doubling from `base_delay`,
    /// plus up to 50% jitter.
    pub fn delay(&self, attempt: u32) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(6));
        // Jitter from the clock's nanoseconds: enough to spread tenants apart.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        exp + exp.mul_f64(f64::from(nanos % 500) / 1000.0)
    }
}

/// `--max-failures N` or `P%` (of the selected tenants, rounded up; at least 1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FailureBudget {
    Count(usize),
    Percent(f64),
}

impl FailureBudget {
    /// How many failed tenants stop new starts, for `selected` tenants.
    pub fn limit(self, selected: usize) -> usize {
        match self {
            FailureBudget::Count(n) => n,
            FailureBudget::Percent(pct) => ((selected as f64 * pct / 100.0).ceil() as usize).max(1),
        }
    }
}

impl std::str::FromStr for FailureBudget {
    type Err = String;
    fn from_str(spec: &str) -> Result<Self, String> {
        let bad = || "expected N or P% (e.g. 3 or 10%), more than 0".to_string();
        match spec.trim().strip_suffix('%') {
            Some(pct) => match pct.trim().parse::<f64>() {
                Ok(pct) if pct > 0.0 && pct <= 100.0 => Ok(FailureBudget::Percent(pct)),
                _ => Err(bad()),
            },
            None => match spec.trim().parse::<usize>() {
                Ok(n) if n > 0 => Ok(FailureBudget::Count(n)),
                _ => Err(bad()),
            },
        }
    }
}

/// How a result is printed: a table for people, JSON for machines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OutputFormat {
    #[default]
    Table,
    Json,
}

/// When a generated pipeline's apply jobs run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ApplyMode {
    /// As soon as their plan succeeds.
    Auto,
    /// When a person starts them (`when: manual`).
    #[default]
    Manual,
}
