//! One tenant's Terraform steps for each fan-out operation: init against the
//! tenant's backend, then plan / apply / refresh-only plan / destroy, with
//! the plan artifacts saved in the tenant's directory.

use std::collections::BTreeMap;
use std::time::Instant;

use saas_registry::{derive_backend, Application, BackendSettings, Tenant};
use serde_json::Value;

use crate::fingerprint::{AppliedRecord, RecordStore};
use crate::init_template::InitTemplate;
use crate::locks::LockInfo;
use crate::pool::TaskOutcome;
use crate::redact::Redactor;
use crate::runner::{Completed, Invocation, RunnerError, TerraformSettings};
use crate::runs::{now_rfc3339, TenantResult};
use crate::tf_json::{ChangeCounts, UiSummary};
use crate::workspace::{self, RunWorkspace, TenantWorkspace};

pub use crate::settings::Operation;

/// The plan run whose saved plans `apply --from-run` applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedPlans {
    pub run_id: String,
    pub workspace: RunWorkspace,
}

/// Everything the tenant jobs of one run share.
#[derive(Debug)]
pub struct JobContext {
    pub terraform: TerraformSettings,
    pub workspace: RunWorkspace,
    pub application: Application,
    pub operation: Operation,
    /// `apply --from-run`: the plans to apply instead of planning.
    pub saved_plans: Option<SavedPlans>,
    /// Each tenant's fingerprint (see `fingerprint`), where known.
    pub fingerprints: BTreeMap<String, String>,
    /// Where applied records live; set for apply and destroy.
    pub records: Option<RecordStore>,
    pub run_id: String,
    /// Endpoints other than AWS's own (see `settings::Global`).
    pub endpoints: saas_registry::EndpointUrls,
    /// The run's first real init (its install's), reused by every tenant.
    pub init_template: InitTemplate,
    /// Also write each plan as `plan.json` (`terraform show -json`): a
    /// second Terraform process per tenant, so only when asked for.
    pub plan_json: bool,
}

/// The outcome of one tenant's job.
#[derive(Debug, Clone)]
pub struct TenantOutcome {
    pub result: TenantResult,
    pub counts: ChangeCounts,
    pub changed: Vec<String>,
    pub drifted: Vec<String>,
    pub started_at: String,
    pub finished_at: String,
    pub duration_ms: u64,
    pub init_ms: Option<u64>,
    pub attempts: u32,
    pub error: Option<String>,
    pub lock: Option<LockInfo>,
    pub released_locks: Vec<LockInfo>,
    /// Planned with, or applied and recorded.
    pub fingerprint: Option<String>,
}

impl TaskOutcome for TenantOutcome {
    fn failed(&self) -> bool {
        self.result.is_failure()
    }
}

/// A step failure, already redacted.
struct StepError {
    message: String,
    lock: Option<LockInfo>,
    /// Terraform runs of the failed step.
    attempts: u32,
}

impl StepError {
    fn new(message: impl Into<String>) -> Self {
        StepError {
            message: message.into(),
            lock: None,
            attempts: 0,
        }
    }
}

impl From<std::io::Error> for StepError {
    fn from(err: std::io::Error) -> Self {
        StepError::new(err.to_string())
    }
}

/// What a successful job found.
struct Found {
    result: TenantResult,
    counts: ChangeCounts,
    changed: Vec<String>,
    drifted: Vec<String>,
    fingerprint: Option<String>,
}

impl Found {
    /// An apply that went through: "applied", or "no-changes" when it had
    /// nothing to do.
    fn applied(counts: ChangeCounts, changed: Vec<String>) -> Self {
        let result = if counts.is_empty() {
            TenantResult::NoChanges
        } else {
            TenantResult::Applied
        };
        Found {
            result,
            counts,
            changed,
            drifted: Vec::new(),
            fingerprint: None,
        }
    }
}

/// What the Terraform runs of one tenant's job add up to.
#[derive(Default)]
struct Tally {
    attempts: u32,
    init_ms: Option<u64>,
    released_locks: Vec<LockInfo>,
}

impl Tally {
    /// Counts a finished command and hands back its output.
    fn took(&mut self, done: Completed) -> crate::runner::TfOutput {
        self.attempts += done.attempts;
        self.released_locks.extend(done.released_locks);
        done.out
    }

    /// Counts a failed command and turns it into the step's error.
    fn failed(&mut self, err: RunnerError) -> StepError {
        match err {
            RunnerError::Failed {
                attempts,
                ref lock,
                ref released_locks,
                ..
            } => {
                self.released_locks.extend(released_locks.iter().cloned());
                StepError {
                    lock: lock.as_deref().cloned(),
                    attempts,
                    message: err.to_string(),
                }
            }
            other => StepError {
                attempts: 1,
                ..StepError::new(other.to_string())
            },
        }
    }
}

/// Runs one tenant's operation. Never panics or errors: every failure is in
/// the outcome, so one tenant never stops the others.
pub async fn run_tenant(ctx: &JobContext, tenant: &Tenant) -> TenantOutcome {
    let started_at = now_rfc3339();
    let clock = Instant::now();
    let mut tally = Tally::default();
    let redactor = Redactor::for_values(tenant.sensitive_variables.values());
    let result = run_steps(ctx, tenant, &redactor, &mut tally).await;
    let (found, error, lock) = match result {
        Ok(found) => (found, None, None),
        Err(err) => {
            tally.attempts += err.attempts;
            let failed = Found {
                result: TenantResult::Failed,
                counts: ChangeCounts::default(),
                changed: Vec::new(),
                drifted: Vec::new(),
                fingerprint: None,
            };
            (failed, Some(redactor.redact(&err.message)), err.lock)
        }
    };
    TenantOutcome {
        result: found.result,
        counts: found.counts,
        changed: found.changed,
        drifted: found.drifted,
        started_at,
        finished_at: now_rfc3339(),
        duration_ms: clock.elapsed().as_millis() as u64,
        init_ms: tally.init_ms,
        attempts: tally.attempts,
        error,
        lock,
        released_locks: tally.released_locks,
        fingerprint: found.fingerprint,
    }
}

async fn run_steps(
    ctx: &JobContext,
    tenant: &Tenant,
    redactor: &Redactor,
    tally: &mut Tally,
) -> Result<Found, StepError> {
    let ws = ctx.workspace.tenant(&tenant.id);
    ws.prepare(tenant)?;
    let backend =
        derive_backend(&ctx.application, &tenant.id).map_err(|e| StepError::new(e.to_string()))?;
    let secret_env = workspace::secret_env(tenant);
    let config_dir = ctx.workspace.config_dir();
    let inv = invocation(&config_dir, &ws, &secret_env, redactor, &tenant.id);
    let mut step = Steps {
        tf: &ctx.terraform,
        inv: &inv,
        ws: &ws,
        redactor,
        tally,
    };

    let init_clock = Instant::now();
    let backend_config = workspace::backend_config(&backend, &ctx.endpoints);
    if ctx.init_template.apply(&ws.data_dir, &backend_config)? {
        append_note(
            &ws.log,
            "initialised from the run's first init (same providers, this tenant's backend)",
        )?;
    } else {
        let mut init = vec![
            "init".to_string(),
            "-input=false".into(),
            "-no-color".into(),
            "-reconfigure".into(),
            "-lockfile=readonly".into(),
        ];
        init.extend(workspace::backend_args(&backend_config));
        step.run(&init, &[0], true).await?;
        ctx.init_template.offer(&ws.data_dir);
    }
    step.tally.init_ms = Some(init_clock.elapsed().as_millis() as u64);

    if let (Some(records), Operation::Apply | Operation::Destroy) = (&ctx.records, ctx.operation) {
        clear_record(records, &backend, ctx.terraform.retry).await?;
    }
    let mut found = operation_steps(ctx, &mut step, &tenant.id).await?;
    if ctx.operation == Operation::Plan {
        found.fingerprint = ctx.fingerprints.get(&tenant.id).cloned();
    } else if ctx.operation == Operation::Apply {
        found.fingerprint = record_applied(ctx, &backend, &tenant.id, &ws.log).await?;
    }
    Ok(found)
}

/// Before an apply or destroy, retried as a Terraform step is: nothing has
/// changed yet.
async fn clear_record(
    records: &RecordStore,
    backend: &BackendSettings,
    retry: crate::settings::RetrySettings,
) -> Result<(), StepError> {
    let mut attempts = 0;
    loop {
        attempts += 1;
        match records.remove(backend).await {
            Ok(()) => return Ok(()),
            Err(_) if attempts < retry.attempts => tokio::time::sleep(retry.delay(attempts)).await,
            Err(err) => {
                return Err(StepError {
                    attempts,
                    ..StepError::new(format!("{err} (before changing anything)"))
                })
            }
        }
    }
}

/// After a successful apply: the tenant's fingerprint, next to its state.
/// A record that cannot be written leaves none (the next `--changed` plans
/// the tenant), a note in the log, and the apply's success as it was.
async fn record_applied(
    ctx: &JobContext,
    backend: &BackendSettings,
    tenant: &str,
    log: &std::path::Path,
) -> Result<Option<String>, StepError> {
    let (Some(records), Some(fingerprint)) = (&ctx.records, ctx.fingerprints.get(tenant)) else {
        return Ok(None);
    };
    let record = AppliedRecord {
        fingerprint: fingerprint.clone(),
        run_id: ctx.run_id.clone(),
        applied_at: now_rfc3339(),
    };
    match records.write(backend, &record).await {
        Ok(()) => Ok(Some(fingerprint.clone())),
        Err(err) => {
            append_note(
                log,
                &format!("applied, but the fingerprint was not recorded: {err}"),
            )?;
            Ok(None)
        }
    }
}

async fn operation_steps(
    ctx: &JobContext,
    step: &mut Steps<'_>,
    tenant: &str,
) -> Result<Found, StepError> {
    match (ctx.operation, &ctx.saved_plans) {
        (Operation::Plan, _) => {
            let (code, ui) = step.plan(&[], ctx.plan_json).await?;
            Ok(Found {
                result: if code == 2 {
                    TenantResult::Changes
                } else {
                    TenantResult::NoChanges
                },
                counts: ui.counts.unwrap_or_default(),
                changed: ui.changed,
                drifted: Vec::new(),
                fingerprint: None,
            })
        }
        (Operation::Apply, None) => {
            let ui = step.apply(ApplyInput::Config { destroy: false }).await?;
            Ok(Found::applied(ui.counts.unwrap_or_default(), ui.changed))
        }
        (Operation::Apply, Some(saved)) => apply_saved(step, saved, tenant).await,
        (Operation::Drift, _) => {
            let (code, ui) = step.plan(&["-refresh-only"], ctx.plan_json).await?;
            let result = if code == 2 || !ui.drifted.is_empty() {
                TenantResult::Drifted
            } else {
                TenantResult::InSync
            };
            Ok(Found {
                result,
                counts: ChangeCounts::default(),
                changed: Vec::new(),
                drifted: ui.drifted,
                fingerprint: None,
            })
        }
        (Operation::Destroy, _) => {
            let ui = step.apply(ApplyInput::Config { destroy: true }).await?;
            Ok(Found {
                result: TenantResult::Destroyed,
                counts: ui.counts.unwrap_or_default(),
                changed: ui.changed,
                drifted: Vec::new(),
                fingerprint: None,
            })
        }
    }
}

/// Terraform for one tenant: the run's config, the tenant's data dir and log.
pub fn invocation<'a>(
    config_dir: &'a std::path::Path,
    ws: &'a TenantWorkspace,
    secret_env: &'a [(String, String)],
    redactor: &'a Redactor,
    tenant: &'a str,
) -> Invocation<'a> {
    Invocation {
        config_dir,
        data_dir: &ws.data_dir,
        secret_env,
        log: &ws.log,
        redactor,
        tenant,
    }
}

/// `apply --from-run`: exactly the plan the earlier run saved.
async fn apply_saved(
    step: &mut Steps<'_>,
    saved: &SavedPlans,
    tenant: &str,
) -> Result<Found, StepError> {
    let source = saved.workspace.tenant(tenant);
    if !source.plan.is_file() {
        return Err(StepError::new(format!(
            "run {} has no saved plan for this tenant",
            saved.run_id
        )));
    }
    for (from, to) in [
        (&source.plan_json, &step.ws.plan_json),
        (&source.gitlab_report, &step.ws.gitlab_report),
    ] {
        if from.is_file() {
            std::fs::copy(from, to)?;
        }
    }
    let ui = step.apply(ApplyInput::SavedPlan(&source.plan)).await.map_err(|mut err| {
        if err.message.contains("Saved plan is stale") {
            err.message = format!(
                "the saved plan of run {} is stale: this tenant's state changed since it was planned; plan again",
                saved.run_id
            );
        }
        err
    })?;
    Ok(Found::applied(ui.counts.unwrap_or_default(), ui.changed))
}

fn append_note(log: &std::path::Path, note: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)?;
    writeln!(file, "# saasctl: {note}\n")
}

/// The steps after init, sharing one invocation and one tally.
struct Steps<'a> {
    tf: &'a TerraformSettings,
    inv: &'a Invocation<'a>,
    ws: &'a TenantWorkspace,
    redactor: &'a Redactor,
    tally: &'a mut Tally,
}

impl Steps<'_> {
    async fn run(
        &mut self,
        args: &[String],
        accept: &[i32],
        retry_transient: bool,
    ) -> Result<crate::runner::TfOutput, StepError> {
        match self
            .tf
            .run_retrying(self.inv, args, accept, retry_transient)
            .await
        {
            Ok(done) => Ok(self.tally.took(done)),
            Err(err) => Err(self.tally.failed(err)),
        }
    }

    /// `plan -json -detailed-exitcode -out`: counts and addresses from its
    /// machine-readable output, the GitLab report from the counts, and
    /// `plan.json` only when `plan_json`. Returns the exit code (0 or 2).
    async fn plan(
        &mut self,
        extra: &[&str],
        plan_json: bool,
    ) -> Result<(i32, UiSummary), StepError> {
        let mut args = vec![
            "plan".to_string(),
            "-json".into(),
            "-input=false".into(),
            "-lock-timeout=0s".into(),
            "-detailed-exitcode".into(),
            format!("-var-file={}", self.ws.var_file.display()),
            format!("-out={}", self.ws.plan.display()),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let out = self.run(&args, &[0, 2], true).await?;
        let counts = out.ui.counts.unwrap_or_default();
        std::fs::write(&self.ws.gitlab_report, gitlab_report(&counts))?;
        if plan_json {
            self.write_plan_json().await?;
        }
        Ok((out.code, out.ui))
    }

    /// `terraform show -json` of the saved plan into the redacted `plan.json`.
    async fn write_plan_json(&mut self) -> Result<(), StepError> {
        let shown = self.run(&show_plan_args(self.ws), &[0], true).await?;
        save_plan_json(&shown.stdout, self.redactor, self.ws).map_err(StepError::new)
    }

    /// `terraform apply -json`. Only a held lock is retried: after any
    /// other failure part of the changes may have been made.
    async fn apply(&mut self, what: ApplyInput<'_>) -> Result<UiSummary, StepError> {
        let mut args = vec![
            "apply".to_string(),
            "-json".into(),
            "-input=false".into(),
            "-lock-timeout=0s".into(),
        ];
        match what {
            ApplyInput::Config { destroy } => {
                args.push("-auto-approve".into());
                args.push(format!("-var-file={}", self.ws.var_file.display()));
                if destroy {
                    args.push("-destroy".into());
                }
            }
            ApplyInput::SavedPlan(plan) => args.push(plan.display().to_string()),
        }
        Ok(self.run(&args, &[0], false).await?.ui)
    }
}

/// `terraform show -json` of the tenant's saved plan.
pub fn show_plan_args(ws: &TenantWorkspace) -> Vec<String> {
    vec![
        "show".to_string(),
        "-json".into(),
        "-no-color".into(),
        ws.plan.display().to_string(),
    ]
}

/// `show -json`'s output, redacted (it prints variable values in clear),
/// as the tenant's `plan.json`.
pub fn save_plan_json(
    shown: &str,
    redactor: &Redactor,
    ws: &TenantWorkspace,
) -> Result<(), String> {
    let plan: Value = serde_json::from_str(&redactor.redact(shown))
        .map_err(|e| format!("terraform show -json printed no JSON: {e}"))?;
    let text = serde_json::to_vec_pretty(&plan).unwrap_or_default();
    std::fs::write(&ws.plan_json, text).map_err(|e| format!("{}: {e}", ws.plan_json.display()))
}

/// What `terraform apply` applies.
enum ApplyInput<'a> {
    /// Plans and applies under one lock, so a concurrent run waits instead
    /// of applying a plan that went stale in between.
    Config {
        destroy: bool,
    },
    SavedPlan(&'a std::path::Path),
}

/// GitLab's `artifacts:reports:terraform` format.
pub fn gitlab_report(counts: &ChangeCounts) -> String {
    serde_json::json!({"create": counts.add, "update": counts.change, "delete": counts.destroy})
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gitlab_report_is_terraforms_format() {
        let counts = ChangeCounts {
            add: 2,
            change: 1,
            destroy: 1,
        };
        let report: Value = serde_json::from_str(&gitlab_report(&counts)).unwrap();
        assert_eq!(
            report,
            serde_json::json!({"create": 2, "update": 1, "delete": 1})
        );
    }
}
