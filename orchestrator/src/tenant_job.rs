//! One tenant's Terraform steps for each fan-out operation: init against the
//! tenant's backend, then plan / apply / refresh-only plan / destroy, with
//! the plan artifacts saved in the tenant's directory.

use std::path::PathBuf;
use std::time::Instant;

use saas_registry::{derive_backend, Application, Tenant};
use serde_json::Value;

use crate::init_template::InitTemplate;
use crate::pool::TaskOutcome;
use crate::redact::Redactor;
use crate::runner::{Invocation, RunnerError, TerraformSettings};
use crate::runs::{now_rfc3339, ChangeCounts, LockInfo, TenantResult};
use crate::workspace::{self, RunWorkspace, TenantWorkspace};

/// What a fan-out does per tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    Plan,
    /// Plan and apply, or apply the saved plans of an earlier run.
    Apply {
        from_run: Option<SavedPlans>,
    },
    Drift,
    Destroy,
}

impl Operation {
    pub fn command(&self) -> &'static str {
        match self {
            Operation::Plan => "plan",
            Operation::Apply { .. } => "apply",
            Operation::Drift => "drift",
            Operation::Destroy => "destroy",
        }
    }
}

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
    /// The first real init of the run, reused by the other tenants.
    pub init_template: InitTemplate,
}

/// The outcome of one tenant's job.
#[derive(Debug, Clone)]
pub struct TenantOutcome {
    pub result: TenantResult,
    pub counts: ChangeCounts,
    pub drifted: Vec<String>,
    pub started_at: String,
    pub finished_at: String,
    pub duration_ms: u64,
    pub init_ms: Option<u64>,
    pub attempts: u32,
    pub error: Option<String>,
    pub lock: Option<LockInfo>,
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

impl From<RunnerError> for StepError {
    fn from(err: RunnerError) -> Self {
        let (lock, attempts) = match &err {
            RunnerError::Failed { lock, attempts, .. } => (lock.clone(), *attempts),
            _ => (None, 1),
        };
        StepError {
            message: err.to_string(),
            lock,
            attempts,
        }
    }
}

impl From<std::io::Error> for StepError {
    fn from(err: std::io::Error) -> Self {
        StepError {
            message: err.to_string(),
            lock: None,
            attempts: 0,
        }
    }
}

/// What a successful job found.
#[derive(Default)]
struct Found {
    result: Option<TenantResult>,
    counts: ChangeCounts,
    drifted: Vec<String>,
}

impl Found {
    /// An apply that went through: "applied", or "no-changes" when it had
    /// nothing to do.
    fn applied(counts: ChangeCounts) -> Self {
        let result = if counts == ChangeCounts::default() {
            TenantResult::NoChanges
        } else {
            TenantResult::Applied
        };
        Found {
            result: Some(result),
            counts,
            drifted: Vec::new(),
        }
    }
}

/// Runs one tenant's operation. Never panics or errors: every failure is in
/// the outcome, so one tenant never stops the others.
pub async fn run_tenant(ctx: &JobContext, tenant: &Tenant) -> TenantOutcome {
    let started_at = now_rfc3339();
    let clock = Instant::now();
    let mut attempts = 0u32;
    let mut init_ms = None;
    let redactor = Redactor::new(tenant.sensitive_variables.values());
    let result = run_steps(ctx, tenant, &redactor, &mut attempts, &mut init_ms).await;
    let (result, counts, drifted, error, lock) = match result {
        Ok(found) => (
            found.result.unwrap_or(TenantResult::NoChanges),
            found.counts,
            found.drifted,
            None,
            None,
        ),
        Err(err) => {
            attempts += err.attempts;
            (
                TenantResult::Failed,
                ChangeCounts::default(),
                Vec::new(),
                Some(redactor.redact(&err.message)),
                err.lock,
            )
        }
    };
    TenantOutcome {
        result,
        counts,
        drifted,
        started_at,
        finished_at: now_rfc3339(),
        duration_ms: clock.elapsed().as_millis() as u64,
        init_ms,
        attempts,
        error,
        lock,
    }
}

async fn run_steps(
    ctx: &JobContext,
    tenant: &Tenant,
    redactor: &Redactor,
    attempts: &mut u32,
    init_ms: &mut Option<u64>,
) -> Result<Found, StepError> {
    let ws = ctx.workspace.tenant(&tenant.id);
    ws.prepare(tenant)?;
    let backend = derive_backend(&ctx.application, &tenant.id).map_err(|e| StepError {
        message: e.to_string(),
        lock: None,
        attempts: 0,
    })?;
    let secret_env = workspace::secret_env(tenant);
    let config_dir = ctx.workspace.stack_copy();
    let inv = Invocation {
        config_dir: &config_dir,
        data_dir: &ws.data_dir,
        secret_env: &secret_env,
        log: &ws.log,
        redactor,
    };
    let tf = &ctx.terraform;
    let step = Steps {
        tf,
        inv: &inv,
        ws: &ws,
        redactor,
    };

    let init_clock = Instant::now();
    let pairs = workspace::backend_pairs(&backend);
    if ctx.init_template.apply(&ws.data_dir, &pairs)? {
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
        init.extend(workspace::backend_args(&backend));
        *attempts += tf.run_retrying(&inv, &init, &[0], true).await?.1;
        ctx.init_template.offer(&ws.data_dir);
    }
    *init_ms = Some(init_clock.elapsed().as_millis() as u64);

    match &ctx.operation {
        Operation::Plan => {
            let (code, counts, _) = step.plan(&[], attempts).await?;
            Ok(Found {
                result: Some(if code == 2 {
                    TenantResult::Changes
                } else {
                    TenantResult::NoChanges
                }),
                counts,
                drifted: Vec::new(),
            })
        }
        Operation::Apply { from_run: None } => {
            // One `terraform apply` holds the state lock from plan to apply,
            // so a concurrent run waits for it instead of applying a plan
            // that went stale in between.
            let counts = step.apply_direct(&[], attempts).await?;
            Ok(Found::applied(counts))
        }
        Operation::Apply {
            from_run: Some(saved),
        } => {
            let source = saved.workspace.tenant(&tenant.id);
            if !source.plan.is_file() {
                return Err(StepError {
                    message: format!("run {} has no saved plan for this tenant", saved.run_id),
                    lock: None,
                    attempts: 0,
                });
            }
            for (from, to) in [
                (&source.plan_json, &ws.plan_json),
                (&source.gitlab_report, &ws.gitlab_report),
            ] {
                if from.is_file() {
                    std::fs::copy(from, to)?;
                }
            }
            let counts = read_counts(&source.plan_json);
            step.apply(source.plan.clone(), attempts).await.map_err(|mut err| {
                if err.message.contains("Saved plan is stale") {
                    err.message = format!(
                        "the saved plan of run {} is stale: this tenant's state changed since it was planned; plan again",
                        saved.run_id
                    );
                }
                err
            })?;
            Ok(Found::applied(counts))
        }
        Operation::Drift => {
            let (code, _, plan) = step.plan(&["-refresh-only"], attempts).await?;
            let drifted = drifted_addresses(&plan);
            let result = if code == 2 || !drifted.is_empty() {
                TenantResult::Drifted
            } else {
                TenantResult::InSync
            };
            Ok(Found {
                result: Some(result),
                counts: ChangeCounts::default(),
                drifted,
            })
        }
        Operation::Destroy => {
            let counts = step.apply_direct(&["-destroy"], attempts).await?;
            Ok(Found {
                result: Some(TenantResult::Destroyed),
                counts,
                drifted: Vec::new(),
            })
        }
    }
}

fn append_note(log: &std::path::Path, note: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)?;
    writeln!(file, "# saasctl: {note}\n")
}

/// The steps after init, sharing one invocation.
struct Steps<'a> {
    tf: &'a TerraformSettings,
    inv: &'a Invocation<'a>,
    ws: &'a TenantWorkspace,
    redactor: &'a Redactor,
}

impl Steps<'_> {
    /// `plan -detailed-exitcode -out`, then `show -json` into the redacted
    /// `plan.json` and the GitLab report. Returns the exit code (0 or 2).
    async fn plan(
        &self,
        extra: &[&str],
        attempts: &mut u32,
    ) -> Result<(i32, ChangeCounts, Value), StepError> {
        let mut args = vec![
            "plan".to_string(),
            "-input=false".into(),
            "-no-color".into(),
            "-lock-timeout=0s".into(),
            "-detailed-exitcode".into(),
            format!("-var-file={}", self.ws.var_file.display()),
            format!("-out={}", self.ws.plan.display()),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let (out, n) = self.tf.run_retrying(self.inv, &args, &[0, 2], true).await?;
        *attempts += n;
        let show = vec![
            "show".to_string(),
            "-json".into(),
            "-no-color".into(),
            self.ws.plan.display().to_string(),
        ];
        let (shown, n) = self.tf.run_retrying(self.inv, &show, &[0], true).await?;
        *attempts += n;
        let redacted = self.redactor.redact(&shown.stdout);
        let plan: Value = serde_json::from_str(&redacted).map_err(|e| StepError {
            message: format!("terraform show -json printed no JSON: {e}"),
            lock: None,
            attempts: 0,
        })?;
        std::fs::write(
            &self.ws.plan_json,
            serde_json::to_vec_pretty(&plan).unwrap_or_default(),
        )?;
        let counts = change_counts(&plan);
        std::fs::write(&self.ws.gitlab_report, gitlab_report(&counts))?;
        Ok((out.code, counts, plan))
    }

    /// `terraform apply -auto-approve` (plan and apply under one lock).
    /// Only a held lock is retried: Terraform fails on it before changing
    /// anything. Returns the counts from the completion line.
    async fn apply_direct(
        &self,
        extra: &[&str],
        attempts: &mut u32,
    ) -> Result<ChangeCounts, StepError> {
        let mut args = vec![
            "apply".to_string(),
            "-input=false".into(),
            "-no-color".into(),
            "-auto-approve".into(),
            "-lock-timeout=0s".into(),
            format!("-var-file={}", self.ws.var_file.display()),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let (out, n) = self.tf.run_retrying(self.inv, &args, &[0], false).await?;
        *attempts += n;
        Ok(completion_counts(&out.stdout))
    }

    /// Applies a saved plan. Only a held lock is retried: after any other
    /// failure part of the plan may have been applied, and the saved plan
    /// is then stale anyway.
    async fn apply(&self, plan: PathBuf, attempts: &mut u32) -> Result<(), StepError> {
        let args = vec![
            "apply".to_string(),
            "-input=false".into(),
            "-no-color".into(),
            "-lock-timeout=0s".into(),
            plan.display().to_string(),
        ];
        *attempts += self.tf.run_retrying(self.inv, &args, &[0], false).await?.1;
        Ok(())
    }
}

/// Counts from `show -json`'s `resource_changes`: `["delete","create"]` and
/// `["create","delete"]` (replace) count as one add and one destroy.
pub fn change_counts(plan: &Value) -> ChangeCounts {
    let mut counts = ChangeCounts::default();
    let changes = plan["resource_changes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for change in changes {
        let actions: Vec<&str> = change["change"]["actions"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        for action in actions {
            match action {
                "create" => counts.add += 1,
                "update" => counts.change += 1,
                "delete" => counts.destroy += 1,
                _ => {}
            }
        }
    }
    counts
}

/// Counts from `Apply complete! Resources: 1 added, 0 changed, 2 destroyed.`
/// or `Destroy complete! Resources: 2 destroyed.`
pub fn completion_counts(stdout: &str) -> ChangeCounts {
    let Some(line) = stdout
        .lines()
        .find(|l| l.contains(" complete! Resources: "))
    else {
        return ChangeCounts::default();
    };
    let number_before = |word: &str| -> u64 {
        line.split(['!', ','])
            .find(|part| part.contains(word))
            .and_then(|part| part.split_whitespace().find_map(|w| w.parse().ok()))
            .unwrap_or(0)
    };
    ChangeCounts {
        add: number_before("added"),
        change: number_before("changed"),
        destroy: number_before("destroyed"),
    }
}

fn read_counts(plan_json: &std::path::Path) -> ChangeCounts {
    std::fs::read_to_string(plan_json)
        .ok()
        .and_then(|text| serde_json::from_str::<Value>(&text).ok())
        .map(|plan| change_counts(&plan))
        .unwrap_or_default()
}

/// GitLab's `artifacts:reports:terraform` format.
pub fn gitlab_report(counts: &ChangeCounts) -> String {
    serde_json::json!({"create": counts.add, "update": counts.change, "delete": counts.destroy})
        .to_string()
}

/// Addresses in `resource_drift` whose actions are not a no-op.
pub fn drifted_addresses(plan: &Value) -> Vec<String> {
    plan["resource_drift"]
        .as_array()
        .map(|drift| {
            drift
                .iter()
                .filter(|d| d["change"]["actions"] != serde_json::json!(["no-op"]))
                .filter_map(|d| d["address"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_counts_as_add_and_destroy() {
        let plan = serde_json::json!({"resource_changes": [
            {"change": {"actions": ["create"]}},
            {"change": {"actions": ["update"]}},
            {"change": {"actions": ["delete", "create"]}},
            {"change": {"actions": ["no-op"]}},
            {"change": {"actions": ["read"]}},
        ]});
        let counts = change_counts(&plan);
        assert_eq!(
            counts,
            ChangeCounts {
                add: 2,
                change: 1,
                destroy: 1
            }
        );
        let report: Value = serde_json::from_str(&gitlab_report(&counts)).unwrap();
        assert_eq!(
            report,
            serde_json::json!({"create": 2, "update": 1, "delete": 1})
        );
    }

    #[test]
    fn counts_from_the_completion_line() {
        let out = "terraform_data.a: Creating...\n\nApply complete! Resources: 3 added, 1 changed, 2 destroyed.\n";
        assert_eq!(
            completion_counts(out),
            ChangeCounts {
                add: 3,
                change: 1,
                destroy: 2
            }
        );
        let out = "Destroy complete! Resources: 4 destroyed.\n";
        assert_eq!(
            completion_counts(out),
            ChangeCounts {
                add: 0,
                change: 0,
                destroy: 4
            }
        );
        assert_eq!(completion_counts("No changes."), ChangeCounts::default());
    }

    #[test]
    fn drift_lists_changed_addresses() {
        let plan = serde_json::json!({"resource_drift": [
            {"address": "terraform_data.a", "change": {"actions": ["update"]}},
            {"address": "terraform_data.b", "change": {"actions": ["delete"]}},
            {"address": "terraform_data.c", "change": {"actions": ["no-op"]}},
        ]});
        assert_eq!(
            drifted_addresses(&plan),
            ["terraform_data.a", "terraform_data.b"]
        );
    }
}
