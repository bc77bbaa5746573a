//! The whole command line, in one place (clap derive). Values clap can
//! check are checked here (value parsers), so a bad one exits 64 before
//! anything runs; `settings` turns the result into what the engine takes.

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use saas_registry::TenantStatus;

use crate::rollout::FailureBudget;

#[derive(Debug, Parser)]
#[command(
    name = "saasctl",
    version,
    about = "Run one Terraform stack per tenant: plan, apply, drift and destroy across a tenant registry",
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Registry URL: sqlite://PATH or dynamodb://TABLE?region=R.
    /// Defaults to $SAAS_REGISTRY, then sqlite://.saas/registry.db.
    #[arg(long, global = true, value_name = "URL")]
    pub registry: Option<String>,
    /// The terraform (or tofu) binary [default: terraform, then tofu, on PATH].
    #[arg(long, global = true, env = "SAAS_TERRAFORM", value_name = "PATH")]
    pub terraform: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List tenants in the registry.
    Tenants(ListTenantsArgs),
    /// List applications in the registry.
    Applications(ListApplicationsArgs),
    /// Manage the registry itself.
    #[command(subcommand)]
    Registry(RegistryCommand),
    /// Per-tenant S3 state backends: show, bootstrap, check, least-privilege policy.
    #[command(subcommand)]
    Backend(BackendCommand),
    /// Plan the stack once per selected tenant.
    Plan(FanoutArgs),
    /// Apply the stack per tenant (plans first, or applies the saved plans of --from-run).
    Apply(ApplyArgs),
    /// Report per tenant whether real infrastructure drifted from its state.
    Drift(FanoutArgs),
    /// Destroy the stack of each selected tenant (defaults to --status offboarding).
    Destroy(FanoutArgs),
    /// List past runs, or show one.
    Runs(RunsArgs),
    /// Release a stale state lock of one tenant (wraps terraform force-unlock).
    Unlock(UnlockArgs),
    /// Generate and summarise CI pipelines.
    #[command(subcommand)]
    Pipeline(PipelineCommand),
    /// Talk to the GitLab API.
    #[command(subcommand)]
    Gitlab(GitlabCommand),
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum OutputFormatArg {
    #[default]
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = OutputFormatArg::Table)]
    pub output: OutputFormatArg,
}

/// Which tenants a command acts on. Shared by every fan-out and generator.
#[derive(Debug, Args, Clone, Default)]
pub struct SelectionArgs {
    /// Application whose stack runs.
    #[arg(long, short = 'a')]
    pub application: String,
    /// Only these tenants (repeatable).
    #[arg(long = "tenant", short = 't', value_name = "ID")]
    pub tenants: Vec<String>,
    /// Only tenants of this tier.
    #[arg(long)]
    pub tier: Option<String>,
    /// Only tenants with this label (repeatable, all must match).
    #[arg(long = "label", short = 'l', value_name = "KEY=VALUE", value_parser = parse_label)]
    pub labels: Vec<(String, String)>,
    /// Tenant status to select [default: active; offboarding for destroy].
    #[arg(long, value_parser = parse_status)]
    pub status: Option<TenantStatus>,
    /// Only tenants whose state object does not exist yet (onboarding).
    #[arg(long)]
    pub new: bool,
}

#[derive(Debug, Args)]
pub struct ListTenantsArgs {
    /// Only tenants onboarded to this application.
    #[arg(long, short = 'a')]
    pub application: Option<String>,
    #[arg(long)]
    pub tier: Option<String>,
    #[arg(long, value_parser = parse_status)]
    pub status: Option<TenantStatus>,
    /// KEY=VALUE (repeatable, all must match).
    #[arg(long = "label", short = 'l', value_name = "KEY=VALUE", value_parser = parse_label)]
    pub labels: Vec<(String, String)>,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct ListApplicationsArgs {
    /// KEY=VALUE (repeatable, all must match).
    #[arg(long = "label", short = 'l', value_name = "KEY=VALUE", value_parser = parse_label)]
    pub labels: Vec<(String, String)>,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Subcommand)]
pub enum RegistryCommand {
    /// Create the registry's table or schema (idempotent).
    Init,
}

#[derive(Debug, Subcommand)]
pub enum BackendCommand {
    /// Print a tenant's backend settings.
    Config(BackendConfigArgs),
    /// Create or harden the buckets and lock tables the selected tenants need.
    Bootstrap(BootstrapArgs),
    /// Print a least-privilege IAM policy for one tenant's state.
    Policy(BackendPolicyArgs),
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum BackendConfigFormat {
    /// `-backend-config=key=value` arguments, one per line.
    #[default]
    Args,
    /// An HCL file for `-backend-config=FILE`.
    Hcl,
    Json,
}

#[derive(Debug, Args)]
pub struct BackendConfigArgs {
    #[arg(long, short = 'a')]
    pub application: String,
    #[arg(long, short = 't')]
    pub tenant: String,
    #[arg(long, short = 'f', value_enum, default_value_t = BackendConfigFormat::Args)]
    pub format: BackendConfigFormat,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Encryption {
    /// SSE-KMS with an S3 bucket key.
    #[default]
    Kms,
    /// SSE-S3 (AES256).
    Aes256,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum TlsPolicy {
    /// Required, except when the S3 endpoint is plain http:// (where it would deny every request).
    #[default]
    Auto,
    /// Always required.
    Always,
}

#[derive(Debug, Args)]
pub struct BootstrapArgs {
    #[command(flatten)]
    pub selection: SelectionArgs,
    /// Default encryption the buckets must have (set on creation, checked and fixed after).
    #[arg(long, value_enum, default_value_t = Encryption::Kms)]
    pub encryption: Encryption,
    /// When buckets must have the policy statement denying non-TLS access.
    #[arg(long, value_enum, default_value_t = TlsPolicy::Auto)]
    pub tls_policy: TlsPolicy,
    /// Only report drifted hardening; change nothing; non-zero exit on drift.
    #[arg(long)]
    pub check: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct BackendPolicyArgs {
    #[arg(long, short = 'a')]
    pub application: String,
    #[arg(long, short = 't')]
    pub tenant: String,
    /// AWS account id of the lock table, for its ARN [default: any account, `*`].
    #[arg(long, value_name = "ID")]
    pub account_id: Option<String>,
}

/// Everything a fan-out (plan, apply, drift, destroy) needs.
#[derive(Debug, Args)]
pub struct FanoutArgs {
    #[command(flatten)]
    pub selection: SelectionArgs,
    /// The Terraform stack directory (never written to).
    #[arg(long, short = 's', value_name = "DIR")]
    pub stack: PathBuf,
    /// The repository root the stack's local module paths resolve within
    /// [default: the nearest enclosing directory with `.git`, else the stack].
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Also save each plan as `plan.json` (`terraform show -json`: one more
    /// Terraform process per tenant).
    #[arg(long)]
    pub plan_json: bool,
    /// Skip tenants whose stack, modules, lock file, Terraform version and
    /// inputs are all as they were at their last successful apply (plan and
    /// apply; see docs/fanout.md for what this cannot see).
    #[arg(long)]
    pub changed: bool,
    /// Tenants run at once [default: number of cores].
    #[arg(long, short = 'j')]
    pub jobs: Option<NonZeroUsize>,
    /// Rollout waves, in order, separated by ';': `canary=t1,t2;25%;rest`, or `label:wave`.
    #[arg(long)]
    pub waves: Option<String>,
    /// Failure budget: stop starting tenants once N (or P% of the selection) failed.
    #[arg(long, value_name = "N|P%")]
    pub max_failures: Option<FailureBudget>,
    /// Stop starting tenants after the first failure.
    #[arg(long)]
    pub fail_fast: bool,
    /// Re-run only the tenants of run ID that failed or never started.
    #[arg(long, value_name = "RUN", value_parser = parse_run_id)]
    pub resume: Option<String>,
    /// Id of this run (its directory under --runs-dir) [default: UTC time and pid].
    #[arg(long, value_name = "ID", conflicts_with = "resume", value_parser = parse_run_id)]
    pub run_id: Option<String>,
    /// Attempts per Terraform step for transient failures (lock held, throttling, connection reset).
    #[arg(long, default_value_t = 4, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100))]
    pub attempts: u32,
    /// First wait before retrying a transient failure, in seconds (0-600); doubles per attempt.
    #[arg(long, default_value = "2", value_name = "SECONDS", value_parser = parse_retry_delay)]
    pub retry_delay: Duration,
    /// Where runs are kept.
    #[arg(long, default_value = ".saas/runs", value_name = "DIR")]
    pub runs_dir: PathBuf,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub fanout: FanoutArgs,
    /// Apply exactly the plans saved by `saasctl plan` in run ID.
    #[arg(long, value_name = "RUN", value_parser = parse_run_id)]
    pub from_run: Option<String>,
}

#[derive(Debug, Args)]
pub struct RunsArgs {
    #[command(subcommand)]
    pub command: Option<RunsCommand>,
    #[arg(long, default_value = ".saas/runs", value_name = "DIR", global = true)]
    pub runs_dir: PathBuf,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// Show one run's report.
    Show {
        /// Run id.
        id: String,
        /// Print the path of the run's release page (report.html) instead;
        /// written from report.json first if the run has none yet.
        #[arg(long, conflicts_with = "plan_json")]
        html: bool,
        /// Print TENANT's saved plan as JSON (`terraform show -json`,
        /// redacted), written to its `plan.json` first if the run has none.
        #[arg(long, value_name = "TENANT")]
        plan_json: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct UnlockArgs {
    #[arg(long, short = 'a')]
    pub application: String,
    #[arg(long, short = 't')]
    pub tenant: String,
    /// The stack directory the lock was taken for.
    #[arg(long, short = 's', value_name = "DIR")]
    pub stack: PathBuf,
    /// The repository root, as for `saasctl plan --root`.
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Lock id to release (as printed by the failed run); defaults to the current holder.
    #[arg(long)]
    pub lock_id: Option<String>,
    /// Release even if the holder's process looks alive.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum ApplyModeArg {
    /// Apply jobs run as soon as their plan succeeds.
    Auto,
    /// Apply jobs wait for a person (`when: manual`).
    #[default]
    Manual,
}

#[derive(Debug, Subcommand)]
pub enum PipelineCommand {
    /// Write a GitLab CI child pipeline with plan/apply jobs per tenant.
    Gitlab(Box<PipelineGitlabArgs>),
    /// Roll per-tenant job results up into one release summary.
    Report(PipelineReportArgs),
}

#[derive(Debug, Args)]
pub struct PipelineGitlabArgs {
    #[command(flatten)]
    pub selection: SelectionArgs,
    /// The Terraform stack directory, relative to the repository root in CI.
    #[arg(long, short = 's', value_name = "DIR")]
    pub stack: PathBuf,
    /// Rollout waves, as for `saasctl apply --waves`.
    #[arg(long)]
    pub waves: Option<String>,
    /// A wave that waits for a person to start it (repeatable; wave names as in the header).
    #[arg(long = "manual-wave", value_name = "WAVE")]
    pub manual_waves: Vec<String>,
    #[arg(long, value_enum, default_value_t = ApplyModeArg::Manual)]
    pub apply: ApplyModeArg,
    /// Most jobs in one pipeline before sharding [GitLab.com Free: 500].
    #[arg(long, default_value_t = crate::pipeline::limits::DEFAULT_MAX_JOBS_PER_PIPELINE)]
    pub max_jobs_per_pipeline: usize,
    /// Tenants per plan/apply job: each job runs them with the local pool (1: a job per tenant).
    #[arg(
        long,
        env = "SAAS_TENANTS_PER_JOB",
        default_value_t = 1,
        value_name = "N",
        value_parser = clap::value_parser!(u16).range(1..)
    )]
    pub tenants_per_job: u16,
    /// Only jobs for tenants whose stack, modules, lock file, Terraform
    /// version or inputs changed since their last apply (`plan --changed`;
    /// runs one provider install here, so the generating job needs terraform).
    #[arg(long)]
    pub changed: bool,
    /// Tenants a batched job runs at once (its `saasctl plan -j`) [default: the runner's cores].
    #[arg(long, value_name = "J", value_parser = clap::value_parser!(u16).range(1..))]
    pub batch_jobs: Option<u16>,
    /// Image for every generated job (`default: image:`); child pipelines do not inherit the parent's.
    #[arg(long)]
    pub image: Option<String>,
    /// The parent job running this command; sharded routers fetch the shard files from it.
    #[arg(
        long,
        env = "CI_JOB_NAME",
        default_value = "generate",
        value_name = "JOB"
    )]
    pub generate_job: String,
    /// Output file (the router file when sharding; shards are written beside it).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub out: PathBuf,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    #[default]
    Markdown,
    Json,
    /// The release page: one self-contained HTML file (log links relative
    /// to the working directory).
    Html,
}

#[derive(Debug, Args)]
pub struct PipelineReportArgs {
    /// Directory holding the jobs' artifacts.
    #[arg(long, value_name = "DIR")]
    pub artifacts: PathBuf,
    #[arg(long, short = 'f', value_enum, default_value_t = ReportFormat::Markdown)]
    pub format: ReportFormat,
    /// Tenants the pipeline ran (comma-separated); any without a result counts as not started.
    #[arg(long, value_name = "IDS", value_delimiter = ',')]
    pub expect: Vec<String>,
    /// A file of expected tenant ids, one a line (for lists too long for one argument).
    #[arg(long, value_name = "FILE")]
    pub expect_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum GitlabCommand {
    /// Trigger a pipeline for one tenant through GitLab's trigger API.
    Trigger(GitlabTriggerArgs),
}

#[derive(Debug, Args)]
pub struct GitlabTriggerArgs {
    /// Project id or URL-encoded path.
    #[arg(long)]
    pub project: String,
    #[arg(long = "ref")]
    pub git_ref: String,
    #[arg(long, short = 'a')]
    pub application: String,
    #[arg(long, short = 't')]
    pub tenant: String,
    /// GitLab base URL.
    #[arg(long, env = "CI_SERVER_URL", default_value = "https://gitlab.com")]
    pub gitlab_url: String,
}

fn parse_label(pair: &str) -> Result<(String, String), String> {
    pair.split_once('=')
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| "expected KEY=VALUE".to_string())
}

fn parse_status(text: &str) -> Result<TenantStatus, String> {
    text.parse()
        .map_err(|e: saas_registry::RegistryError| e.to_string())
}

fn parse_run_id(id: &str) -> Result<String, String> {
    crate::runs::validate_run_id(id)
        .map(|()| id.to_string())
        .map_err(|e| e.to_string())
}

fn parse_retry_delay(text: &str) -> Result<Duration, String> {
    match text.parse::<f64>() {
        Ok(secs) if (0.0..=600.0).contains(&secs) => Ok(Duration::from_secs_f64(secs)),
        _ => Err("expected seconds within 0..=600".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("saasctl").chain(args.iter().copied()))
    }

    #[test]
    fn values_clap_can_check_fail_at_parse_time() {
        for bad in [
            &["plan", "-a", "web", "-s", ".", "-j", "0"][..],
            &["plan", "-a", "web", "-s", ".", "--attempts", "0"],
            &["plan", "-a", "web", "-s", ".", "--retry-delay", "601"],
            &["plan", "-a", "web", "-s", ".", "--label", "=x"],
            &["plan", "-a", "web", "-s", ".", "--status", "gone"],
            &["plan", "-a", "web", "-s", ".", "--max-failures", "0"],
            &["plan", "-a", "web", "-s", ".", "--run-id", "../x"],
            &["apply", "-a", "web", "-s", ".", "--from-run", "a/b"],
            &["tenants", "--label", "novalue"],
        ] {
            let err = parse(bad).err().unwrap_or_else(|| panic!("{bad:?} parsed"));
            assert_eq!(
                err.kind(),
                clap::error::ErrorKind::ValueValidation,
                "{bad:?}"
            );
        }
        let ok = parse(&[
            "plan",
            "-a",
            "web",
            "-s",
            ".",
            "-l",
            "wave=1",
            "--status",
            "suspended",
        ]);
        let Command::Plan(args) = ok.unwrap().command else {
            panic!("not a plan")
        };
        assert_eq!(
            args.selection.labels,
            [("wave".to_string(), "1".to_string())]
        );
        assert_eq!(args.selection.status, Some(TenantStatus::Suspended));
    }
}
