//! The jobs of one pipeline file: per-tenant `plan:`/`apply:` jobs, wave
//! gates, the roll-up `report` job, the router's shard triggers.

use serde_yaml::Value;

use crate::render::gitlab::{map, shell_quote, string, strings};
use crate::settings::ApplyMode;

use super::{GeneratorSettings, RUNS_DIR};
use crate::runs::{JUNIT_FILE, REPORT_FILE};
use crate::workspace::{GITLAB_REPORT, LOG_FILE, PLAN_FILE, PLAN_JSON};

/// A job as (name, body).
pub type Job = (String, Value);

pub fn plan_job_name(tenant: &str) -> String {
    format!("plan:{tenant}")
}

pub fn apply_job_name(tenant: &str) -> String {
    format!("apply:{tenant}")
}

/// Run ids: one run per tenant and step, so artifacts of many jobs unpack
/// side by side in the report job without overwriting each other.
fn plan_run(tenant: &str) -> String {
    format!("$CI_PIPELINE_ID-{tenant}")
}

fn apply_run(tenant: &str) -> String {
    format!("$CI_PIPELINE_ID-{tenant}-apply")
}

/// The shared part of `saasctl plan|apply` for one tenant.
fn tenant_command(settings: &GeneratorSettings, verb: &str, tenant: &str, run_id: &str) -> String {
    let mut words = vec![
        "saasctl".to_string(),
        verb.to_string(),
        "--application".into(),
        shell_quote(&settings.application),
        "--stack".into(),
        shell_quote(&settings.stack),
        "--tenant".into(),
        shell_quote(tenant),
    ];
    if let Some(status) = &settings.status {
        words.push("--status".into());
        words.push(shell_quote(status));
    }
    words.push("--run-id".into());
    words.push(format!("\"{run_id}\""));
    words.join(" ")
}

fn resource_group(settings: &GeneratorSettings, tenant: &str) -> Value {
    string(format!("saas/{}/{tenant}", settings.application))
}

/// Artifacts of a run: its report and JUnit file, and the tenant's `files`.
/// Only these: the run directory also holds provider caches.
fn run_artifacts(
    name: String,
    run: &str,
    tenant: &str,
    files: &[&str],
    terraform_report: bool,
) -> Value {
    let dir = format!("{RUNS_DIR}/{run}");
    let mut paths = vec![
        format!("{dir}/{REPORT_FILE}"),
        format!("{dir}/{JUNIT_FILE}"),
    ];
    paths.extend(files.iter().map(|f| format!("{dir}/{tenant}/{f}")));
    let mut reports = vec![("junit", string(format!("{dir}/{JUNIT_FILE}")))];
    if terraform_report {
        reports.insert(
            0,
            (
                "terraform",
                string(format!("{dir}/{tenant}/{GITLAB_REPORT}")),
            ),
        );
    }
    map([
        ("name", string(name)),
        ("when", string("always")),
        ("expire_in", string("30 days")),
        ("paths", strings(paths)),
        ("reports", map(reports)),
    ])
}

/// `plan:<tenant>`: plans into its own run and keeps the plan as an
/// artifact. Exit code 2 (changes present) is success here: the apply job
/// decides what happens to the changes.
pub fn plan(settings: &GeneratorSettings, stage: &str, tenant: &str) -> Job {
    let run = plan_run(tenant);
    let command = format!(
        "{} || test $? -eq 2",
        tenant_command(settings, "plan", tenant, &run)
    );
    let body = map([
        ("stage", string(stage)),
        ("resource_group", resource_group(settings, tenant)),
        ("script", strings([command])),
        (
            "artifacts",
            run_artifacts(
                format!("plan-{tenant}"),
                &run,
                tenant,
                &[PLAN_FILE, PLAN_JSON, GITLAB_REPORT, LOG_FILE],
                true,
            ),
        ),
    ]);
    (plan_job_name(tenant), body)
}

/// `apply:<tenant>`: applies exactly the plan its `needs` job saved.
pub fn apply(settings: &GeneratorSettings, stage: &str, tenant: &str) -> Job {
    let run = apply_run(tenant);
    let command = format!(
        "{} --from-run \"{}\"",
        tenant_command(settings, "apply", tenant, &run),
        plan_run(tenant)
    );
    let mut pairs = vec![
        ("stage", string(stage)),
        (
            "needs",
            Value::Sequence(vec![map([
                ("job", string(plan_job_name(tenant))),
                ("artifacts", Value::Bool(true)),
            ])]),
        ),
        ("resource_group", resource_group(settings, tenant)),
    ];
    if settings.apply == ApplyMode::Manual {
        // Blocking: a later wave waits until this apply was run and passed.
        pairs.push(("when", string("manual")));
        pairs.push(("allow_failure", Value::Bool(false)));
    }
    pairs.push(("script", strings([command])));
    pairs.push((
        "artifacts",
        run_artifacts(format!("apply-{tenant}"), &run, tenant, &[LOG_FILE], false),
    ));
    (apply_job_name(tenant), map(pairs))
}

/// A manual, blocking job that holds a wave until someone starts it.
pub fn gate(wave: &str, stage: &str) -> Job {
    let body = map([
        ("stage", string(stage)),
        ("when", string("manual")),
        ("allow_failure", Value::Bool(false)),
        (
            "script",
            strings([format!(
                "echo {}",
                shell_quote(&format!("wave {wave} approved"))
            )]),
        ),
    ]);
    (format!("start:{wave}"), body)
}

/// The roll-up of every earlier job's artifacts (no `needs`: a job without
/// them downloads the artifacts of all earlier stages, whatever their count):
/// `report` (markdown in the log, JSON for tools; its exit code is the
/// release's) and `release-page`, the HTML page alone in its artifacts, so
/// `expose_as` links the merge request straight to it.
pub fn rollup(stage: &str, expected: &[String]) -> [Job; 2] {
    let report = format!(
        "saasctl pipeline report --artifacts {RUNS_DIR} --expect {}",
        shell_quote(&expected.join(","))
    );
    let artifacts = |extra: Vec<(&str, Value)>, paths: &[&str]| {
        let mut fields = vec![("when", string("always")), ("expire_in", string("30 days"))];
        fields.extend(extra);
        fields.push(("paths", strings(paths.iter().copied())));
        map(fields)
    };
    let summary = map([
        ("stage", string(stage)),
        ("when", string("always")),
        (
            "script",
            strings([
                format!("{report} --format json > saas-report.json || true"),
                format!(
                    "code=0; {report} > saas-report.md || code=$?; cat saas-report.md; exit $code"
                ),
            ]),
        ),
        (
            "artifacts",
            artifacts(vec![], &["saas-report.json", "saas-report.md"]),
        ),
        (
            "allow_failure",
            map([("exit_codes", Value::Sequence(vec![Value::Number(2.into())]))]),
        ),
    ]);
    let page = map([
        ("stage", string(stage)),
        ("when", string("always")),
        (
            "script",
            strings([format!("{report} --format html > saas-report.html || true")]),
        ),
        (
            "artifacts",
            artifacts(
                vec![("expose_as", string("release page"))],
                &["saas-report.html"],
            ),
        ),
    ]);
    [
        ("report".to_string(), summary),
        ("release-page".to_string(), page),
    ]
}

/// The one job of a pipeline for an empty selection.
pub fn no_op(message: &str) -> Job {
    let body = map([
        ("stage", string("noop")),
        (
            "script",
            strings([format!("echo {}", shell_quote(message))]),
        ),
    ]);
    ("no-tenants".to_string(), body)
}

/// Router job that takes the shard files from the parent's generate job and
/// republishes them: `trigger:include:artifact` reads artifacts of a job in
/// the triggering pipeline only.
pub fn publish_shards(settings: &GeneratorSettings, stage: &str) -> Job {
    let body = map([
        ("stage", string(stage)),
        (
            "needs",
            Value::Sequence(vec![map([
                ("pipeline", string("$PARENT_PIPELINE_ID")),
                ("job", string(settings.generate_job.clone())),
            ])]),
        ),
        (
            "script",
            strings([format!("ls -l {}", shell_quote(&settings.shard_dir))]),
        ),
        (
            "artifacts",
            map([
                ("expire_in", string("30 days")),
                ("paths", strings([format!("{}/", settings.shard_dir)])),
            ]),
        ),
    ]);
    (PUBLISH_JOB.to_string(), body)
}

pub const PUBLISH_JOB: &str = "shards";

/// Router job that runs one shard file as a grandchild pipeline and mirrors
/// its status (`strategy: depend`), so the next wave waits for it.
pub fn shard_trigger(name: &str, stage: &str, file: &str) -> Job {
    let body = map([
        ("stage", string(stage)),
        (
            "trigger",
            map([
                (
                    "include",
                    Value::Sequence(vec![map([
                        ("artifact", string(file)),
                        ("job", string(PUBLISH_JOB)),
                    ])]),
                ),
                ("strategy", string("depend")),
            ]),
        ),
    ]);
    (format!("shard:{name}"), body)
}
