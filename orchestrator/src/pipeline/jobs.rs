//! The Terraform jobs of a pipeline file: `plan:`/`apply:` per batch of
//! tenants (a batch of one is today's job per tenant), and the hidden
//! templates they extend: `.saas-terraform` carries the provider plugin
//! cache, `.saas-plan` and `.saas-apply` the artifacts. A job itself holds
//! only what differs per batch (stage, `SAAS_BATCH`, resource group,
//! script): GitLab Runner expands job variables in `artifacts:name` and
//! `artifacts:paths`, so one template serves every batch, and a 10,000-tenant
//! pipeline is a third of the YAML it would be with the paths spelt out.

use serde::Serialize;

use crate::settings::ApplyMode;

use super::batches::Batch;
use super::{GeneratorSettings, PipelineError, RUNS_DIR};
use crate::runs::{JUNIT_FILE, REPORT_FILE};
use crate::workspace::{GITLAB_REPORT, LOG_FILE, PLAN_FILE, PLAN_JSON};

/// The hidden job the plan and apply templates `extends`.
pub const TERRAFORM_TEMPLATE: &str = ".saas-terraform";
/// The hidden jobs every plan and every apply job `extends`.
pub const PLAN_TEMPLATE: &str = ".saas-plan";
pub const APPLY_TEMPLATE: &str = ".saas-apply";
/// The job variable that names a batch's runs (its first tenant), as the
/// templates' artifact paths spell it. [`BatchVariables`] serialises it.
const BATCH: &str = "$SAAS_BATCH";
/// Terraform's provider plugin cache, relative to the project directory.
pub const PLUGIN_CACHE_DIR: &str = ".saas/plugin-cache";
/// Lock file name GitLab hashes for the cache key.
pub const LOCK_FILE: &str = ".terraform.lock.hcl";

const EXPIRE_IN: &str = "30 days";
/// An apply `needs` its own plan only: far inside GitLab's limit.
const NEEDS_PER_APPLY: usize = 1;
const _: () = assert!(NEEDS_PER_APPLY <= super::limits::MAX_NEEDS_PER_JOB);

#[derive(Serialize)]
pub struct Template {
    variables: TemplateVariables,
    cache: Cache,
}

#[derive(Serialize)]
struct TemplateVariables {
    #[serde(rename = "TF_PLUGIN_CACHE_DIR")]
    plugin_cache_dir: String,
}

#[derive(Serialize)]
struct Cache {
    key: CacheKey,
    paths: [String; 1],
}

#[derive(Serialize)]
#[serde(untagged)]
enum CacheKey {
    /// Changes whenever the committed lock file does.
    Files { files: [String; 1] },
    /// No lock file: one cache per stack.
    Name(String),
}

/// `.saas-terraform`: `TF_PLUGIN_CACHE_DIR` in the project directory and a
/// GitLab cache of it, keyed on the stack's lock file when it has one.
pub fn template(settings: &GeneratorSettings) -> Template {
    let key = match &settings.lock_file {
        Some(path) => CacheKey::Files {
            files: [path.clone()],
        },
        None => CacheKey::Name(format!(
            "saas-providers-{}",
            super::waves::sanitize(&settings.stack)
        )),
    };
    Template {
        variables: TemplateVariables {
            plugin_cache_dir: format!("$CI_PROJECT_DIR/{PLUGIN_CACHE_DIR}"),
        },
        cache: Cache {
            key,
            paths: [format!("{PLUGIN_CACHE_DIR}/")],
        },
    }
}

/// A plan or apply job of one batch.
#[derive(Serialize)]
pub struct TerraformJob {
    stage: String,
    extends: &'static str,
    variables: BatchVariables,
    #[serde(skip_serializing_if = "Option::is_none")]
    needs: Option<[Need; NEEDS_PER_APPLY]>,
    resource_group: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    when: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    allow_failure: Option<bool>,
    script: [String; 1],
}

#[derive(Serialize)]
struct BatchVariables {
    #[serde(rename = "SAAS_BATCH")]
    batch: String,
}

/// `.saas-plan` / `.saas-apply`: the artifacts of every batch's step.
#[derive(Serialize)]
pub struct StepTemplate {
    extends: &'static str,
    artifacts: Artifacts,
}

#[derive(Serialize)]
struct Need {
    job: String,
    artifacts: bool,
}

#[derive(Serialize)]
struct Artifacts {
    name: String,
    when: &'static str,
    expire_in: &'static str,
    paths: Vec<String>,
    /// The run directory's own files (`.stack`, `.src`, `.init`, ...),
    /// which a `*` of the paths above would otherwise reach.
    exclude: [String; 1],
    reports: Reports,
}

#[derive(Serialize)]
struct Reports {
    /// One `tfplan.report.json` per tenant: the merge request widget.
    #[serde(skip_serializing_if = "Option::is_none")]
    terraform: Option<String>,
    junit: String,
}

pub fn plan_job_name(batch: &Batch<'_>) -> String {
    format!("plan:{}", batch.label())
}

pub fn apply_job_name(batch: &Batch<'_>) -> String {
    format!("apply:{}", batch.label())
}

/// Run ids: one run per batch and step, named by the batch's first tenant
/// (`first`: the id, or [`BATCH`] in the templates), so artifacts of many
/// jobs unpack side by side in the report job.
fn plan_run(first: &str) -> String {
    format!("$CI_PIPELINE_ID-{first}")
}

fn apply_run(first: &str) -> String {
    format!("$CI_PIPELINE_ID-{first}-apply")
}

/// `saasctl plan|apply` for the batch's tenants, run by the local pool.
fn batch_command(
    settings: &GeneratorSettings,
    verb: &str,
    batch: &Batch<'_>,
    run_id: &str,
) -> Result<String, PipelineError> {
    let mut words = vec![
        "saasctl",
        verb,
        "--application",
        &settings.application,
        "--stack",
        &settings.stack,
    ];
    for tenant in batch.tenants {
        words.extend(["--tenant", tenant.as_str()]);
    }
    if let Some(status) = &settings.status {
        words.extend(["--status", status.as_str()]);
    }
    let jobs = settings.batch_jobs.map(|j| j.to_string());
    if let (Some(jobs), true) = (&jobs, batch.tenants.len() > 1) {
        words.extend(["-j", jobs.as_str()]);
    }
    let mut command = shlex::try_join(words)?;
    // Double quotes: the shell expands the pipeline id.
    command.push_str(&format!(" --run-id \"{run_id}\""));
    Ok(command)
}

/// `resource_group`: one per batch. A batch of one is named by its tenant;
/// a larger one by its first and last tenant, which is stable for as long
/// as the selection is (see docs/gitlab.md on two pipelines at once).
fn resource_group(settings: &GeneratorSettings, batch: &Batch<'_>) -> String {
    format!("saas/{}/{}", settings.application, batch.label())
}

/// The run's report and JUnit file, and each tenant's `files`: only these,
/// since the run directory also holds provider caches. A run directory
/// holds the batch's tenants and nothing else without a leading dot, so
/// `*` is every tenant of the batch.
fn artifacts(step: &str, run: &str, files: &[&str], plan: bool) -> Artifacts {
    let dir = format!("{RUNS_DIR}/{run}");
    let mut paths = vec![
        format!("{dir}/{REPORT_FILE}"),
        format!("{dir}/{JUNIT_FILE}"),
    ];
    paths.extend(files.iter().map(|f| format!("{dir}/*/{f}")));
    Artifacts {
        name: format!("{step}-{BATCH}"),
        when: "always",
        expire_in: EXPIRE_IN,
        paths,
        exclude: [format!("{dir}/.*/**")],
        reports: Reports {
            terraform: plan.then(|| format!("{dir}/*/{GITLAB_REPORT}")),
            junit: format!("{dir}/{JUNIT_FILE}"),
        },
    }
}

/// `.saas-plan`: each batch's plans, logs and reports.
pub fn plan_template() -> StepTemplate {
    let files = [PLAN_FILE, PLAN_JSON, GITLAB_REPORT, LOG_FILE];
    StepTemplate {
        extends: TERRAFORM_TEMPLATE,
        artifacts: artifacts("plan", &plan_run(BATCH), &files, true),
    }
}

/// `.saas-apply`: each batch's logs and reports.
pub fn apply_template() -> StepTemplate {
    StepTemplate {
        extends: TERRAFORM_TEMPLATE,
        artifacts: artifacts("apply", &apply_run(BATCH), &[LOG_FILE], false),
    }
}

fn batch_variables(batch: &Batch<'_>) -> BatchVariables {
    BatchVariables {
        batch: batch.first().to_string(),
    }
}

/// `plan:<batch>`: plans into its own run and keeps the plans as
/// artifacts. Exit code 2 (changes present) is success here: the apply job
/// decides what happens to the changes.
pub fn plan(
    settings: &GeneratorSettings,
    stage: &str,
    batch: &Batch<'_>,
) -> Result<TerraformJob, PipelineError> {
    let run = plan_run(batch.first());
    let command = format!(
        "{} || test $? -eq 2",
        batch_command(settings, "plan", batch, &run)?
    );
    Ok(TerraformJob {
        stage: stage.to_string(),
        extends: PLAN_TEMPLATE,
        variables: batch_variables(batch),
        needs: None,
        resource_group: resource_group(settings, batch),
        when: None,
        allow_failure: None,
        script: [command],
    })
}

/// `apply:<batch>`: applies exactly the plans its `needs` job saved.
pub fn apply(
    settings: &GeneratorSettings,
    stage: &str,
    batch: &Batch<'_>,
) -> Result<TerraformJob, PipelineError> {
    let run = apply_run(batch.first());
    let command = format!(
        "{} --from-run \"{}\"",
        batch_command(settings, "apply", batch, &run)?,
        plan_run(batch.first())
    );
    // Blocking when manual: a later wave waits until this apply passed.
    let manual = settings.apply == ApplyMode::Manual;
    Ok(TerraformJob {
        stage: stage.to_string(),
        extends: APPLY_TEMPLATE,
        variables: batch_variables(batch),
        needs: Some([Need {
            job: plan_job_name(batch),
            artifacts: true,
        }]),
        resource_group: resource_group(settings, batch),
        when: manual.then_some("manual"),
        allow_failure: manual.then_some(false),
        script: [command],
    })
}
