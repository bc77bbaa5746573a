//! GitLab CI child pipelines: a pure function of the application, the
//! selected tenants (already split into waves) and the settings. No
//! terraform, no S3: the generated jobs call saasctl, which does the rest.
//!
//! Small selections give one child pipeline. Above `--max-jobs-per-pipeline`
//! (or GitLab's 5 MB file limit) the child is a router that triggers one
//! shard pipeline per slice of a wave: parent → router → shards is GitLab's
//! two-level nesting maximum. Limits hold by construction: jobs are typed
//! values written straight to text, and the writer counts jobs and bytes as
//! it goes (see [`limits`]); the tests parse every file back to check them.

mod batches;
mod control;
mod jobs;
pub mod limits;
pub mod report;
mod shards;
pub mod waves;

use std::collections::BTreeSet;

use serde::Serialize;

use crate::render::gitlab::{CiBlocks, YamlError};
use crate::settings::ApplyMode;
pub use jobs::LOCK_FILE;
pub use waves::Wave;

/// Where `saasctl plan --run-id` keeps runs, relative to the project directory.
pub const RUNS_DIR: &str = ".saas/runs";

/// Everything the generator needs besides the waves, which hold the
/// already-selected tenants (any filter runs before the generator).
#[derive(Debug, Clone)]
pub struct GeneratorSettings {
    pub application: String,
    /// Stack directory as the jobs see it (relative to the project directory).
    pub stack: String,
    /// `--status` to pass to the jobs when the selection used one.
    pub status: Option<String>,
    /// Registry URL written into the pipeline's variables when given explicitly.
    pub registry: Option<String>,
    /// `default: image:` for every job, when set.
    pub image: Option<String>,
    pub apply: ApplyMode,
    /// Waves that wait for a person (`start:<wave>`, a blocking manual job).
    pub manual_waves: BTreeSet<String>,
    pub max_jobs_per_pipeline: usize,
    /// Tenants per plan/apply job (1: a job per tenant).
    pub tenants_per_job: usize,
    /// `-j` of a batched job's `saasctl plan|apply` [default: its cores].
    pub batch_jobs: Option<usize>,
    /// The stack's committed `.terraform.lock.hcl` (relative to the project
    /// directory): the provider cache's key. `None`: keyed on the stack.
    pub lock_file: Option<String>,
    /// Directory of the shard files, relative to the project directory.
    pub shard_dir: String,
    /// Parent job that generated the files (the router downloads them from it).
    pub generate_job: String,
}

/// One output file: its path relative to the project directory (the main
/// file's is empty: the caller names it) and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineFile {
    pub path: String,
    pub yaml: String,
}

#[derive(Debug, Clone)]
pub struct GeneratedPipeline {
    /// The child pipeline, or the router when sharded.
    pub main: String,
    /// Shard files (empty unless sharded).
    pub shards: Vec<PipelineFile>,
    pub tenants: usize,
    /// Jobs in all files together.
    pub jobs: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("--manual-wave {name:?} is not a wave of this selection (waves: {known})")]
    UnknownManualWave { name: String, known: String },
    #[error(transparent)]
    InvalidTenant(#[from] saas_registry::RegistryError),
    #[error("the selection cannot fit GitLab's limits: {0}")]
    CannotFit(String),
    #[error("rendering YAML: {0}")]
    Yaml(#[from] YamlError),
    #[error("quoting a shell word: {0}")]
    Quote(#[from] shlex::QuoteError),
}

/// Generates the pipeline file(s) for `waves` (in rollout order).
pub fn generate(
    settings: &GeneratorSettings,
    waves: &[Wave],
) -> Result<GeneratedPipeline, PipelineError> {
    // Ids become job names, run directories and artifact paths: check them
    // here too, whatever store they came from.
    for id in waves.iter().flat_map(|w| &w.tenants) {
        saas_registry::validate::slug("tenant", id)?;
    }
    let total: usize = waves.iter().map(|w| w.tenants.len()).sum();
    if total == 0 {
        return Ok(GeneratedPipeline {
            main: empty(settings)?,
            shards: Vec::new(),
            tenants: 0,
            jobs: 1,
        });
    }
    check_manual_waves(settings, waves)?;
    let gates = waves.iter().filter(|w| is_manual(settings, w)).count();
    let batches: usize = waves
        .iter()
        .map(|w| batches::count(w.tenants.len(), settings.tenants_per_job))
        .sum();
    if limits::single_pipeline_jobs(batches, gates) <= settings.max_jobs_per_pipeline {
        if let Some((main, jobs)) = single(settings, waves)? {
            return Ok(GeneratedPipeline {
                main,
                shards: Vec::new(),
                tenants: total,
                jobs,
            });
        }
    }
    let (main, shards, jobs) = shards::sharded(settings, waves, gates)?;
    Ok(GeneratedPipeline {
        main,
        shards,
        tenants: total,
        jobs,
    })
}

fn check_manual_waves(settings: &GeneratorSettings, waves: &[Wave]) -> Result<(), PipelineError> {
    for name in &settings.manual_waves {
        if !waves.iter().any(|w| &w.name == name) {
            let known: Vec<&str> = waves.iter().map(|w| w.name.as_str()).collect();
            return Err(PipelineError::UnknownManualWave {
                name: name.clone(),
                known: known.join(", "),
            });
        }
    }
    Ok(())
}

fn is_manual(settings: &GeneratorSettings, wave: &Wave) -> bool {
    settings.manual_waves.contains(&wave.name)
}

/// The header every file starts with.
fn header(settings: &GeneratorSettings, waves: &[Wave], what: &str) -> Vec<String> {
    let total: usize = waves.iter().map(|w| w.tenants.len()).sum();
    let plan: Vec<String> = waves
        .iter()
        .map(|w| {
            let manual = if is_manual(settings, w) {
                ", manual"
            } else {
                ""
            };
            format!("{} ({}{manual})", w.name, w.tenants.len())
        })
        .collect();
    let apply = match settings.apply {
        ApplyMode::Auto => "auto",
        ApplyMode::Manual => "manual",
    };
    vec![
        format!("Generated by `saasctl pipeline gitlab`: {what}. Do not edit; regenerate."),
        format!(
            "application: {} | stack: {} | tenants: {total} | tenants per job: {} | apply: {apply}",
            settings.application,
            settings.stack,
            settings.tenants_per_job.max(1)
        ),
        format!("waves, in order: {}", plan.join(", ")),
    ]
}

#[derive(Serialize)]
struct Variables<'a> {
    #[serde(rename = "SAAS_REGISTRY")]
    registry: &'a str,
}

#[derive(Serialize)]
struct Defaults<'a> {
    image: &'a str,
}

/// Top-level blocks every file starts with: `stages`, `variables`, `default`.
fn preamble(settings: &GeneratorSettings, stages: &[String]) -> Result<CiBlocks, PipelineError> {
    let mut blocks = CiBlocks::new();
    blocks.keyword("stages", stages)?;
    if let Some(registry) = &settings.registry {
        blocks.keyword("variables", &Variables { registry })?;
    }
    if let Some(image) = &settings.image {
        blocks.keyword("default", &Defaults { image })?;
    }
    Ok(blocks)
}

/// The preamble plus the templates the Terraform jobs extend.
fn terraform_preamble(
    settings: &GeneratorSettings,
    stages: &[String],
) -> Result<CiBlocks, PipelineError> {
    let mut blocks = preamble(settings, stages)?;
    blocks.keyword(jobs::TERRAFORM_TEMPLATE, &jobs::template(settings))?;
    blocks.keyword(jobs::PLAN_TEMPLATE, &jobs::plan_template())?;
    blocks.keyword(jobs::APPLY_TEMPLATE, &jobs::apply_template())?;
    Ok(blocks)
}

fn empty(settings: &GeneratorSettings) -> Result<String, PipelineError> {
    let message = format!(
        "saasctl found no tenants of application {} matching the selection, nothing to do",
        settings.application
    );
    let mut blocks = preamble(settings, &["noop".to_string()])?;
    control::no_op(&mut blocks, &message)?;
    Ok(blocks.into_file(&[
        "Generated by `saasctl pipeline gitlab`. Do not edit; regenerate.".into(),
        format!("application: {} | tenants: 0", settings.application),
    ]))
}

/// Stage names of one wave's tenant jobs in the single-file layout; a lone
/// automatic wave gets plain `plan`/`apply`.
fn wave_stage(waves: &[Wave], settings: &GeneratorSettings, wave: &Wave, step: &str) -> String {
    if waves.len() == 1 && !is_manual(settings, wave) {
        step.to_string()
    } else {
        format!("{}-{step}", wave.name)
    }
}

/// Plan and apply jobs of one batch, written into separate block lists so
/// a file can hold all its plans before all its applies.
#[derive(Default)]
struct TenantBlocks {
    plans: CiBlocks,
    applies: CiBlocks,
}

impl TenantBlocks {
    fn push(
        &mut self,
        settings: &GeneratorSettings,
        stages: (&str, &str),
        batch: &batches::Batch<'_>,
    ) -> Result<(), PipelineError> {
        let plan = jobs::plan(settings, stages.0, batch)?;
        self.plans.job(&jobs::plan_job_name(batch), &plan)?;
        let apply = jobs::apply(settings, stages.1, batch)?;
        self.applies.job(&jobs::apply_job_name(batch), &apply)?;
        Ok(())
    }

    fn bytes(&self) -> usize {
        self.plans.bytes() + self.applies.bytes()
    }

    fn extend(&mut self, other: &TenantBlocks) {
        self.plans.append(&other.plans);
        self.applies.append(&other.applies);
    }

    fn append_to(&self, blocks: &mut CiBlocks) {
        blocks.append(&self.plans);
        blocks.append(&self.applies);
    }
}

/// One child pipeline: per wave an optional gate stage, a plan stage and an
/// apply stage. Plans carry no `needs`, so each wave's plans wait for every
/// earlier stage to pass; each apply `needs` only its own plan. `None` when
/// the file would pass GitLab's 5 MB (writing stops as soon as it does).
fn single(
    settings: &GeneratorSettings,
    waves: &[Wave],
) -> Result<Option<(String, usize)>, PipelineError> {
    let mut stages = Vec::new();
    for wave in waves {
        if is_manual(settings, wave) {
            stages.push(format!("{}-start", wave.name));
        }
        stages.push(wave_stage(waves, settings, wave, "plan"));
        stages.push(wave_stage(waves, settings, wave, "apply"));
    }
    stages.push("report".into());
    let mut blocks = terraform_preamble(settings, &stages)?;
    for wave in waves {
        if is_manual(settings, wave) {
            control::gate(&mut blocks, &wave.name, &format!("{}-start", wave.name))?;
        }
        let plan_stage = wave_stage(waves, settings, wave, "plan");
        let apply_stage = wave_stage(waves, settings, wave, "apply");
        let mut wave_jobs = TenantBlocks::default();
        for batch in batches::split(&wave.tenants, settings.tenants_per_job) {
            wave_jobs.push(settings, (&plan_stage, &apply_stage), &batch)?;
            if blocks.bytes() + wave_jobs.bytes() > limits::MAX_FILE_BYTES {
                return Ok(None);
            }
        }
        wave_jobs.append_to(&mut blocks);
    }
    let expected: Vec<&str> = waves
        .iter()
        .flat_map(|w| w.tenants.iter().map(String::as_str))
        .collect();
    control::rollup(&mut blocks, "report", &expected)?;
    let jobs = blocks.jobs();
    let file = blocks.into_file(&header(settings, waves, "child pipeline"));
    Ok((file.len() <= limits::MAX_FILE_BYTES).then_some((file, jobs)))
}

#[cfg(test)]
mod tests;
