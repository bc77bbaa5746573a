//! Runs on disk: run ids, `report.json` (written when a run starts and after
//! every finished tenant, so a killed run can be resumed), and the listing of
//! past runs.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::exit::{CliError, Outcome};
pub use crate::locks::LockInfo;
pub use crate::tf_json::ChangeCounts;

pub const REPORT_FILE: &str = "report.json";
/// Each tenant's Terraform log, in its directory of the run.
pub const LOG_FILE: &str = "terraform.log";
pub const JUNIT_FILE: &str = "junit.xml";
/// The release page (`render::html`), beside the report.
pub const REPORT_HTML: &str = "report.html";

/// A new run id: UTC time to the millisecond plus the pid, so ids sort by
/// time and two saasctl processes started in the same millisecond differ.
pub fn new_run_id() -> String {
    let now = OffsetDateTime::now_utc();
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}.{:03}Z-{}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        now.millisecond(),
        std::process::id()
    )
}

/// Run ids become directory names: letters, digits, `.`, `_`, `-` only,
/// not starting with a dot, at most 100 characters.
pub fn validate_run_id(id: &str) -> Result<(), CliError> {
    let ok = !id.is_empty()
        && id.len() <= 100
        && !id.starts_with('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(CliError::Usage(format!(
            "run id {id:?}: use 1-100 letters, digits, '.', '_' or '-', not starting with '.'"
        )))
    }
}

pub fn now_rfc3339() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".into())
}

/// What a fan-out did to a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum TenantResult {
    /// Not finished yet (the run is going on, or it was killed).
    Pending,
    NoChanges,
    Changes,
    Applied,
    Destroyed,
    InSync,
    Drifted,
    Failed,
    /// Never started: the failure budget was spent or an earlier wave failed.
    NotStarted,
    /// `--changed`: nothing that decides its plan changed since its last apply.
    Unchanged,
}

impl TenantResult {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Failed, the one meaning used by progress, JUnit, `runs` and the
    /// page: it ran and failed, or it never finished (killed run). A tenant
    /// that never started (budget spent, earlier wave failed) is skipped.
    pub fn is_failure(self) -> bool {
        matches!(self, TenantResult::Failed | TenantResult::Pending)
    }

    /// Whether `--resume` runs this tenant again.
    pub fn needs_rerun(self) -> bool {
        matches!(
            self,
            TenantResult::Pending | TenantResult::Failed | TenantResult::NotStarted
        )
    }

    pub fn has_changes(self) -> bool {
        matches!(self, TenantResult::Changes | TenantResult::Drifted)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantReport {
    pub tenant: String,
    /// The tenant's display name (registry input: shown escaped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub wave: String,
    pub result: TenantResult,
    #[serde(default)]
    pub counts: ChangeCounts,
    /// Resource addresses with planned or applied changes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changed: Vec<String>,
    /// Resource addresses changed outside Terraform (drift).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drifted: Vec<String>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub duration_ms: Option<u64>,
    /// Time spent in `terraform init` (the rest is plan/apply/show).
    #[serde(default)]
    pub init_ms: Option<u64>,
    #[serde(default)]
    pub attempts: u32,
    /// The tenant's directory, relative to the run directory.
    pub dir: String,
    /// The log, relative to the run directory.
    pub log: String,
    pub error: Option<String>,
    /// Set when the tenant failed because its state lock stayed held.
    pub lock: Option<LockInfo>,
    /// Orphan locks of this tenant that the run released (holder gone).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub released_locks: Vec<LockInfo>,
    /// What decided this plan (see `fingerprint`): recorded by the apply
    /// that succeeds, so `--changed` can skip the tenant next time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// For `unchanged`: the run whose apply left the tenant as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_applied_run: Option<String>,
}

impl TenantReport {
    /// Why the tenant failed (with the lock holder), or what drifted.
    pub fn detail(&self) -> String {
        if let Some(lock) = &self.lock {
            return format!(
                "state locked: ID {} held by {} since {} ({})",
                lock.id, lock.who, lock.created, lock.operation
            );
        }
        if let Some(error) = &self.error {
            return error.clone();
        }
        if !self.drifted.is_empty() {
            return format!("drifted: {}", self.drifted.join(", "));
        }
        if let Some(run) = &self.last_applied_run {
            return format!("unchanged since run {run}");
        }
        String::new()
    }

    pub fn pending(tenant: &str, wave: &str) -> Self {
        TenantReport {
            tenant: tenant.to_string(),
            name: None,
            wave: wave.to_string(),
            result: TenantResult::Pending,
            counts: ChangeCounts::default(),
            changed: Vec::new(),
            drifted: Vec::new(),
            started_at: None,
            finished_at: None,
            duration_ms: None,
            init_ms: None,
            attempts: 0,
            dir: tenant.to_string(),
            log: format!("{tenant}/{LOG_FILE}"),
            error: None,
            lock: None,
            released_locks: Vec::new(),
            fingerprint: None,
            last_applied_run: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum RunStatus {
    Running,
    Clean,
    Changes,
    Failed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// The exit code rule, in one place: a run that failed or never
    /// finished is 1; changes are 2 only where they are the news (plan,
    /// drift), since an apply that applied them succeeded.
    pub fn outcome(self, changes_are_news: bool) -> Outcome {
        match self {
            RunStatus::Failed | RunStatus::Running => Outcome::TenantFailed,
            RunStatus::Changes if changes_are_news => Outcome::Changes,
            _ => Outcome::Clean,
        }
    }
}

/// The whole run, as `report.json` holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunReport {
    pub run_id: String,
    pub command: String,
    pub application: String,
    pub stack: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub status: RunStatus,
    pub jobs: usize,
    /// The plan run whose saved plans `apply --from-run` applied.
    #[serde(default)]
    pub from_run: Option<String>,
    /// How many times `--resume` picked this run up again.
    #[serde(default)]
    pub resumes: u32,
    /// `terraform version` of the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terraform_version: Option<String>,
    pub tenants: Vec<TenantReport>,
}

impl RunReport {
    /// The overall status from the tenants' results.
    pub fn summarise(&self) -> RunStatus {
        if self.tenants.iter().any(|t| t.result.needs_rerun()) {
            RunStatus::Failed
        } else if self.tenants.iter().any(|t| t.result.has_changes()) {
            RunStatus::Changes
        } else {
            RunStatus::Clean
        }
    }

    pub fn count(&self, result: TenantResult) -> usize {
        self.tenants.iter().filter(|t| t.result == result).count()
    }

    /// Tenants that failed, in the one sense of [`TenantResult::is_failure`].
    pub fn failed(&self) -> usize {
        self.tenants
            .iter()
            .filter(|t| t.result.is_failure())
            .count()
    }

    pub fn tenant_mut(&mut self, tenant: &str) -> Option<&mut TenantReport> {
        self.tenants.iter_mut().find(|t| t.tenant == tenant)
    }
}

/// Where runs live, and reading/writing their reports.
#[derive(Debug, Clone)]
pub struct RunStore {
    root: PathBuf,
}

impl RunStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        RunStore { root: root.into() }
    }

    pub fn run_dir(&self, run_id: &str) -> PathBuf {
        self.root.join(run_id)
    }

    pub fn load(&self, run_id: &str) -> anyhow::Result<RunReport> {
        validate_run_id(run_id)?;
        let path = self.run_dir(run_id).join(REPORT_FILE);
        let text = std::fs::read_to_string(&path).map_err(|err| {
            CliError::NotFound(format!(
                "run {run_id:?}: cannot read {}: {err}",
                path.display()
            ))
        })?;
        serde_json::from_str(&text).map_err(|err| {
            anyhow::anyhow!("run {run_id:?}: {} is not a report: {err}", path.display())
        })
    }

    /// Writes the report atomically (temp file + rename), so a kill never
    /// leaves half a report behind.
    pub fn save(&self, report: &RunReport) -> anyhow::Result<()> {
        let dir = self.run_dir(&report.run_id);
        std::fs::create_dir_all(&dir)?;
        write_atomic(&dir.join(REPORT_FILE), &serde_json::to_vec_pretty(report)?)
    }

    /// Every readable report under the root, oldest first.
    pub fn list(&self) -> anyhow::Result<Vec<RunReport>> {
        let entries = match std::fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(err) => return Err(err.into()),
        };
        let mut reports = Vec::new();
        for entry in entries {
            let path = entry?.path().join(REPORT_FILE);
            if let Ok(text) = std::fs::read_to_string(&path) {
                if let Ok(report) = serde_json::from_str::<RunReport>(&text) {
                    reports.push(report);
                }
            }
        }
        reports.sort_by(|a, b| (&a.started_at, &a.run_id).cmp(&(&b.started_at, &b.run_id)));
        Ok(reports)
    }
}

pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_are_valid_and_distinct_in_time() {
        let id = new_run_id();
        validate_run_id(&id).unwrap();
        assert!(id.ends_with(&format!("-{}", std::process::id())), "{id}");
    }

    #[test]
    fn run_ids_cannot_escape_the_runs_dir() {
        for bad in ["", "..", "../x", "a/b", ".hidden", "a b", "x\0"] {
            assert!(validate_run_id(bad).is_err(), "{bad:?}");
        }
        validate_run_id("ci-1234_plan.2").unwrap();
    }

    #[test]
    fn reports_round_trip_and_list_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = RunStore::new(dir.path());
        for (id, started) in [("b", "2026-01-02T00:00:00Z"), ("a", "2026-01-01T00:00:00Z")] {
            let mut report = RunReport {
                run_id: id.into(),
                command: "plan".into(),
                application: "web".into(),
                stack: "stack".into(),
                started_at: started.into(),
                finished_at: None,
                status: RunStatus::Running,
                jobs: 2,
                from_run: None,
                resumes: 0,
                terraform_version: None,
                tenants: vec![TenantReport::pending("t1", "all")],
            };
            report.tenants[0].result = TenantResult::Changes;
            report.status = report.summarise();
            store.save(&report).unwrap();
            assert_eq!(store.load(id).unwrap(), report);
        }
        let ids: Vec<String> = store
            .list()
            .unwrap()
            .into_iter()
            .map(|r| r.run_id)
            .collect();
        assert_eq!(ids, ["a", "b"]);
        assert_eq!(store.load("b").unwrap().status, RunStatus::Changes);
    }
}
