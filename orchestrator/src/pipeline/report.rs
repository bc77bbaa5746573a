//! The release roll-up: every run report found in the jobs' artifacts,
//! merged into one line per tenant (its apply, else its plan), rendered as a
//! markdown table for a merge request comment or as JSON.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::exit::Outcome;
use crate::runs::{ChangeCounts, RunReport, RunStatus, TenantReport, TenantResult, REPORT_FILE};
use crate::workspace::{DATA_DIR, INIT_DATA_DIR, PLUGIN_CACHE, SOURCE_MIRROR};

/// One tenant's line of the release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TenantLine {
    pub tenant: String,
    /// The plan step's result, if a plan ran.
    pub plan: Option<TenantResult>,
    /// The apply step's result, if an apply ran.
    pub apply: Option<TenantResult>,
    /// What counts for the release: the apply's result, else the plan's.
    pub result: TenantResult,
    pub counts: ChangeCounts,
    pub error: Option<String>,
    /// Run ids the line was built from.
    pub runs: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReleaseSummary {
    pub applications: Vec<String>,
    /// `clean`, `changes` or `failed`, as a local fan-out reports it.
    pub status: &'static str,
    pub totals: BTreeMap<&'static str, usize>,
    pub tenants: Vec<TenantLine>,
}

impl ReleaseSummary {
    /// Same rules as a local fan-out: 1 if a tenant failed or never ran, 2 if
    /// changes are planned but not applied, else 0.
    pub fn outcome(&self) -> Outcome {
        if self.tenants.iter().any(|t| t.result.needs_rerun()) {
            Outcome::TenantFailed
        } else if self.tenants.iter().any(|t| t.result.has_changes()) {
            Outcome::Changes
        } else {
            Outcome::Clean
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot read artifacts under {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a saasctl run report: {message}")]
    NotAReport { path: PathBuf, message: String },
    #[error(
        "no run reports ({REPORT_FILE}) under {0} and no --expect tenants: nothing to summarise"
    )]
    Empty(PathBuf),
}

/// Directories inside a run that never hold reports (and can be large).
const SKIP_DIRS: [&str; 4] = [DATA_DIR, INIT_DATA_DIR, PLUGIN_CACHE, SOURCE_MIRROR];

/// Every `report.json` under `dir`, in path order.
fn find_reports(dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ReportError::Io { path, source }
    };
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).map_err(io(&current))? {
            let entry = entry.map_err(io(&current))?;
            let kind = entry.file_type().map_err(io(&entry.path()))?;
            let name = entry.file_name();
            if kind.is_dir() && !SKIP_DIRS.iter().any(|s| name == *s) {
                pending.push(entry.path());
            } else if kind.is_file() && name == REPORT_FILE {
                found.push(entry.path());
            }
        }
    }
    found.sort();
    Ok(found)
}

fn is_apply(command: &str) -> bool {
    matches!(command, "apply" | "destroy")
}

/// Every report under `dir` with its run directory, plans first, then
/// applies, each in time order: later entries win.
fn read_reports(dir: &Path) -> Result<Vec<(PathBuf, RunReport)>, ReportError> {
    let mut reports = Vec::new();
    for path in find_reports(dir)? {
        let text = std::fs::read_to_string(&path).map_err(|source| ReportError::Io {
            path: path.clone(),
            source,
        })?;
        let report: RunReport =
            serde_json::from_str(&text).map_err(|e| ReportError::NotAReport {
                path: path.clone(),
                message: e.to_string(),
            })?;
        let run_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        reports.push((run_dir, report));
    }
    reports.sort_by(|(_, a), (_, b)| {
        (is_apply(&a.command), &a.started_at, &a.run_id).cmp(&(
            is_apply(&b.command),
            &b.started_at,
            &b.run_id,
        ))
    });
    Ok(reports)
}

/// Reads and merges every report under `dir`. Tenants in `expected` with no
/// result at all count as not started (their job never ran or died early).
pub fn collect(dir: &Path, expected: &[String]) -> Result<ReleaseSummary, ReportError> {
    summarise(dir, &read_reports(dir)?, expected)
}

/// The release summary of `reports` (as `read_reports` orders them).
fn summarise(
    dir: &Path,
    reports: &[(PathBuf, RunReport)],
    expected: &[String],
) -> Result<ReleaseSummary, ReportError> {
    if reports.is_empty() && expected.is_empty() {
        return Err(ReportError::Empty(dir.to_path_buf()));
    }
    let mut lines: BTreeMap<String, TenantLine> = BTreeMap::new();
    let mut applications: Vec<String> = Vec::new();
    for (_, report) in reports {
        if !applications.contains(&report.application) {
            applications.push(report.application.clone());
        }
        for entry in &report.tenants {
            let line = lines
                .entry(entry.tenant.clone())
                .or_insert_with(|| TenantLine {
                    tenant: entry.tenant.clone(),
                    plan: None,
                    apply: None,
                    result: entry.result,
                    counts: ChangeCounts::default(),
                    error: None,
                    runs: Vec::new(),
                });
            if is_apply(&report.command) {
                line.apply = Some(entry.result);
            } else {
                line.plan = Some(entry.result);
            }
            line.result = entry.result;
            if entry.counts != ChangeCounts::default() || line.counts == ChangeCounts::default() {
                line.counts = entry.counts;
            }
            line.error = entry.error.clone();
            line.runs.push(report.run_id.clone());
        }
    }
    for tenant in expected {
        lines.entry(tenant.clone()).or_insert_with(|| TenantLine {
            tenant: tenant.clone(),
            plan: None,
            apply: None,
            result: TenantResult::NotStarted,
            counts: ChangeCounts::default(),
            error: Some(NO_RESULT.into()),
            runs: Vec::new(),
        });
    }
    applications.sort();
    let tenants: Vec<TenantLine> = lines.into_values().collect();
    let mut totals: BTreeMap<&'static str, usize> = BTreeMap::new();
    for line in &tenants {
        *totals.entry(line.result.as_str()).or_default() += 1;
    }
    let mut summary = ReleaseSummary {
        applications,
        status: "clean",
        totals,
        tenants,
    };
    summary.status = match summary.outcome() {
        Outcome::TenantFailed => "failed",
        Outcome::Changes => "changes",
        Outcome::Clean => "clean",
    };
    Ok(summary)
}

const NO_RESULT: &str = "no result in the artifacts: its job did not run or did not finish";

/// The whole pipeline as one run report, for the release page: per tenant
/// the entry that counts (its apply, else its plan), its log linked by its
/// path under `dir`.
pub fn release_report(dir: &Path, expected: &[String]) -> Result<RunReport, ReportError> {
    let reports = read_reports(dir)?;
    let summary = summarise(dir, &reports, expected)?;
    let mut entries: BTreeMap<String, TenantReport> = BTreeMap::new();
    for (run_dir, report) in &reports {
        for entry in &report.tenants {
            let mut entry = entry.clone();
            entry.log = run_dir.join(&entry.log).display().to_string();
            entries.insert(entry.tenant.clone(), entry);
        }
    }
    for tenant in expected {
        entries.entry(tenant.clone()).or_insert_with(|| {
            let mut missing = TenantReport::pending(tenant, "all");
            missing.result = TenantResult::NotStarted;
            missing.error = Some(NO_RESULT.into());
            missing
        });
    }
    let first = reports
        .iter()
        .map(|(_, r)| r)
        .min_by(|a, b| a.started_at.cmp(&b.started_at));
    let last_finish = reports
        .iter()
        .filter_map(|(_, r)| r.finished_at.clone())
        .max();
    let mut tenants: Vec<TenantReport> = entries.into_values().collect();
    // Waves in the order they ran.
    tenants.sort_by(|a, b| {
        (&a.started_at.is_none(), &a.started_at).cmp(&(&b.started_at.is_none(), &b.started_at))
    });
    let mut wave_order: Vec<String> = Vec::new();
    for t in &tenants {
        if !wave_order.contains(&t.wave) {
            wave_order.push(t.wave.clone());
        }
    }
    tenants.sort_by_key(|t| wave_order.iter().position(|w| *w == t.wave));
    Ok(RunReport {
        run_id: "pipeline".into(),
        command: if reports.iter().any(|(_, r)| is_apply(&r.command)) {
            "apply"
        } else {
            "plan"
        }
        .into(),
        application: summary.applications.join(", "),
        stack: first.map(|r| r.stack.clone()).unwrap_or_default(),
        started_at: first.map(|r| r.started_at.clone()).unwrap_or_default(),
        finished_at: last_finish,
        status: match summary.outcome() {
            Outcome::TenantFailed => RunStatus::Failed,
            Outcome::Changes => RunStatus::Changes,
            Outcome::Clean => RunStatus::Clean,
        },
        jobs: reports.len(),
        from_run: None,
        resumes: 0,
        terraform_version: reports
            .iter()
            .find_map(|(_, r)| r.terraform_version.clone()),
        tenants,
    })
}

/// A markdown table for a merge request comment.
pub fn markdown(summary: &ReleaseSummary) -> String {
    let mut out = String::new();
    let apps = if summary.applications.is_empty() {
        "(no runs)".to_string()
    } else {
        summary.applications.join(", ")
    };
    out.push_str(&format!("### saasctl release: {apps}\n\n"));
    let totals: Vec<String> = summary
        .totals
        .iter()
        .map(|(result, n)| format!("{n} {result}"))
        .collect();
    out.push_str(&format!(
        "**Status: {}** - {} tenants: {}\n\n",
        summary.status,
        summary.tenants.len(),
        totals.join(", ")
    ));
    out.push_str("| Tenant | Plan | Apply | Changes | Error |\n");
    out.push_str("| --- | --- | --- | --- | --- |\n");
    let step = |r: Option<TenantResult>| r.map_or("-", TenantResult::as_str);
    for line in &summary.tenants {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            line.tenant,
            step(line.plan),
            step(line.apply),
            line.counts,
            cell(line.error.as_deref().unwrap_or(""))
        ));
    }
    out
}

/// A table cell: one line, no pipes, at most 200 characters.
fn cell(text: &str) -> String {
    let flat = text.replace(['\n', '\r'], " ").replace('|', "\\|");
    if flat.chars().count() > 200 {
        format!("{}...", flat.chars().take(200).collect::<String>())
    } else {
        flat
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runs::{RunStatus, RunStore, TenantReport};

    fn run(
        id: &str,
        command: &str,
        started: &str,
        results: &[(&str, TenantResult, u64)],
    ) -> RunReport {
        RunReport {
            run_id: id.into(),
            command: command.into(),
            application: "web".into(),
            stack: "stack".into(),
            started_at: started.into(),
            finished_at: Some(started.into()),
            status: RunStatus::Clean,
            jobs: 1,
            from_run: None,
            resumes: 0,
            terraform_version: None,
            tenants: results
                .iter()
                .map(|(t, result, add)| {
                    let mut r = TenantReport::pending(t, "all");
                    r.result = *result;
                    r.counts.add = *add;
                    if *result == TenantResult::Failed {
                        r.error = Some("Error: boom | bad\nsecond line".into());
                    }
                    r
                })
                .collect(),
        }
    }

    /// Artifacts as the report job sees them: one run per tenant and step.
    fn artifacts(reports: &[RunReport]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let store = RunStore::new(dir.path().join(".saas/runs"));
        for report in reports {
            store.save(report).unwrap();
        }
        dir
    }

    #[test]
    fn apply_results_override_plans_and_exit_codes_follow_the_fanout() {
        let dir = artifacts(&[
            run(
                "1-a-apply",
                "apply",
                "2026-01-01T00:01:00Z",
                &[("a", TenantResult::Applied, 2)],
            ),
            run(
                "1-a",
                "plan",
                "2026-01-01T00:00:00Z",
                &[("a", TenantResult::Changes, 2)],
            ),
            run(
                "1-b",
                "plan",
                "2026-01-01T00:00:00Z",
                &[("b", TenantResult::NoChanges, 0)],
            ),
        ]);
        let summary = collect(dir.path(), &[]).unwrap();
        assert_eq!(summary.outcome(), Outcome::Clean);
        let a = &summary.tenants[0];
        assert_eq!(
            (a.plan, a.apply, a.result),
            (
                Some(TenantResult::Changes),
                Some(TenantResult::Applied),
                TenantResult::Applied
            )
        );
        assert_eq!(a.counts.add, 2);

        // b planned changes that no apply took: exit 2.
        let dir = artifacts(&[run(
            "1-b",
            "plan",
            "2026-01-01T00:00:00Z",
            &[("b", TenantResult::Changes, 1)],
        )]);
        assert_eq!(
            collect(dir.path(), &[]).unwrap().outcome(),
            Outcome::Changes
        );
    }

    #[test]
    fn failures_and_missing_tenants_fail_the_release() {
        let dir = artifacts(&[run(
            "1-a",
            "plan",
            "2026-01-01T00:00:00Z",
            &[("a", TenantResult::Failed, 0)],
        )]);
        let summary = collect(dir.path(), &["a".into(), "b".into()]).unwrap();
        assert_eq!(summary.outcome(), Outcome::TenantFailed);
        assert_eq!(summary.status, "failed");
        assert_eq!(summary.tenants[1].result, TenantResult::NotStarted);
        let text = markdown(&summary);
        assert!(
            text.contains("| a | failed | - | +0 ~0 -0 | Error: boom \\| bad second line |"),
            "{text}"
        );
        assert!(
            text.contains("**Status: failed** - 2 tenants: 1 failed, 1 not-started"),
            "{text}"
        );
    }

    #[test]
    fn empty_or_broken_artifacts_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let err = collect(dir.path(), &[]).unwrap_err();
        assert!(err.to_string().contains("no run reports"), "{err}");
        std::fs::write(dir.path().join(REPORT_FILE), "{}").unwrap();
        let err = collect(dir.path(), &[]).unwrap_err();
        assert!(
            err.to_string().contains("is not a saasctl run report"),
            "{err}"
        );
        let err = collect(&dir.path().join("missing"), &[]).unwrap_err();
        assert!(err.to_string().contains("cannot read artifacts"), "{err}");
    }
}
