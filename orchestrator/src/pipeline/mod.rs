//! GitLab CI child pipelines: a pure function of the application, the
//! selected tenants (already split into waves) and the settings. No
//! terraform, no S3: the generated jobs call saasctl, which does the rest.
//!
//! Small selections give one child pipeline. Above `--max-jobs-per-pipeline`
//! (or GitLab's 5 MB file limit) the child is a router that triggers one
//! shard pipeline per slice of a wave: parent → router → shards is GitLab's
//! two-level nesting maximum, and every file stays within the limits in
//! [`limits`].

mod jobs;
pub mod limits;
pub mod report;
pub mod waves;

use std::collections::BTreeSet;

use serde_yaml::Value;

use crate::render::gitlab::{document, map, string, strings};
use crate::settings::ApplyMode;
use jobs::Job;
pub use waves::Wave;

/// Where `saasctl plan --run-id` keeps runs, relative to the project directory.
pub const RUNS_DIR: &str = ".saas/runs";

/// Everything the generator needs besides the waves.
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
    Yaml(#[from] serde_yaml::Error),
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
        });
    }
    for name in &settings.manual_waves {
        if !waves.iter().any(|w| &w.name == name) {
            let known: Vec<&str> = waves.iter().map(|w| w.name.as_str()).collect();
            return Err(PipelineError::UnknownManualWave {
                name: name.clone(),
                known: known.join(", "),
            });
        }
    }
    let gates = waves.iter().filter(|w| is_manual(settings, w)).count();
    let size = SizeEstimate::measure(settings, &waves[0])?;
    if limits::single_pipeline_jobs(total, gates) <= settings.max_jobs_per_pipeline
        && size.bytes(total) <= limits::MAX_FILE_BYTES
    {
        let main = single(settings, waves)?;
        if limits::check_file(&main, settings.max_jobs_per_pipeline).is_ok() {
            return Ok(GeneratedPipeline {
                main,
                shards: Vec::new(),
                tenants: total,
            });
        }
    }
    let (main, shards) = sharded(settings, waves, gates, &size)?;
    for file in &shards {
        limits::check_file(&file.yaml, settings.max_jobs_per_pipeline)
            .map_err(|why| PipelineError::CannotFit(format!("{}: {why}", file.path)))?;
    }
    limits::check_file(&main, settings.max_jobs_per_pipeline).map_err(PipelineError::CannotFit)?;
    Ok(GeneratedPipeline {
        main,
        shards,
        tenants: total,
    })
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
            "application: {} | stack: {} | tenants: {total} | apply: {apply}",
            settings.application, settings.stack
        ),
        format!("waves, in order: {}", plan.join(", ")),
    ]
}

/// Top-level blocks every file shares: `stages`, `variables`, `default`.
fn preamble(settings: &GeneratorSettings, stages: Vec<String>) -> Vec<(String, Value)> {
    let mut blocks = vec![("stages".to_string(), strings(stages))];
    if let Some(url) = &settings.registry {
        blocks.push((
            "variables".into(),
            map([("SAAS_REGISTRY", string(url.clone()))]),
        ));
    }
    if let Some(image) = &settings.image {
        blocks.push(("default".into(), map([("image", string(image.clone()))])));
    }
    blocks
}

fn render(
    header: Vec<String>,
    mut blocks: Vec<(String, Value)>,
    jobs: Vec<Job>,
) -> Result<String, PipelineError> {
    blocks.extend(jobs);
    Ok(document(&header, blocks)?)
}

fn empty(settings: &GeneratorSettings) -> Result<String, PipelineError> {
    let message = format!(
        "saasctl found no tenants of application {} matching the selection, nothing to do",
        settings.application
    );
    render(
        vec![
            "Generated by `saasctl pipeline gitlab`. Do not edit; regenerate.".into(),
            format!("application: {} | tenants: 0", settings.application),
        ],
        preamble(settings, vec!["noop".into()]),
        vec![jobs::no_op(&message)],
    )
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

/// Plan and apply jobs of `tenants`, all plans before all applies.
fn tenant_jobs(
    settings: &GeneratorSettings,
    tenants: &[String],
    plan_stage: &str,
    apply_stage: &str,
) -> Vec<Job> {
    let plans = tenants.iter().map(|t| jobs::plan(settings, plan_stage, t));
    let applies = tenants
        .iter()
        .map(|t| jobs::apply(settings, apply_stage, t));
    plans.chain(applies).collect()
}

/// One child pipeline: per wave an optional gate stage, a plan stage and an
/// apply stage. Plans carry no `needs`, so each wave's plans wait for every
/// earlier stage to pass; each apply `needs` only its own plan.
fn single(settings: &GeneratorSettings, waves: &[Wave]) -> Result<String, PipelineError> {
    let mut stages = Vec::new();
    let mut all_jobs = Vec::new();
    for wave in waves {
        if is_manual(settings, wave) {
            let stage = format!("{}-start", wave.name);
            all_jobs.push(jobs::gate(&wave.name, &stage));
            stages.push(stage);
        }
        let plan_stage = wave_stage(waves, settings, wave, "plan");
        let apply_stage = wave_stage(waves, settings, wave, "apply");
        all_jobs.extend(tenant_jobs(
            settings,
            &wave.tenants,
            &plan_stage,
            &apply_stage,
        ));
        stages.push(plan_stage);
        stages.push(apply_stage);
    }
    stages.push("report".into());
    let expected: Vec<String> = waves
        .iter()
        .flat_map(|w| w.tenants.iter().cloned())
        .collect();
    all_jobs.extend(jobs::rollup("report", &expected));
    render(
        header(settings, waves, "child pipeline"),
        preamble(settings, stages),
        all_jobs,
    )
}

/// A slice of one wave, run as its own grandchild pipeline.
struct Shard<'a> {
    wave: &'a Wave,
    name: String,
    tenants: &'a [String],
}

fn shard_file(settings: &GeneratorSettings, shard: &Shard<'_>) -> Result<String, PipelineError> {
    let slice = Wave {
        name: shard.wave.name.clone(),
        tenants: shard.tenants.to_vec(),
    };
    let what = format!("shard {} of wave {}", shard.name, shard.wave.name);
    let mut all_jobs = tenant_jobs(settings, shard.tenants, "plan", "apply");
    all_jobs.extend(jobs::rollup("report", shard.tenants));
    render(
        header(settings, std::slice::from_ref(&slice), &what),
        preamble(
            settings,
            vec!["plan".into(), "apply".into(), "report".into()],
        ),
        all_jobs,
    )
}

fn shard_path(settings: &GeneratorSettings, name: &str) -> String {
    format!("{}/{name}.yml", settings.shard_dir.trim_end_matches('/'))
}

/// Router plus shard files. Shards get as many tenants as the job limit
/// allows; if a shard file would pass 5 MB the slices are halved.
fn sharded(
    settings: &GeneratorSettings,
    waves: &[Wave],
    gates: usize,
    size: &SizeEstimate,
) -> Result<(String, Vec<PipelineFile>), PipelineError> {
    let max_jobs = settings.max_jobs_per_pipeline;
    let by_jobs = limits::tenants_per_shard(max_jobs).ok_or_else(|| {
        PipelineError::CannotFit(format!(
            "--max-jobs-per-pipeline {max_jobs} is too small: a shard pipeline holds a plan and an apply job per tenant plus the report and release-page jobs, so at least {} jobs",
            limits::single_pipeline_jobs(1, 0)
        ))
    })?;
    let by_size = size.tenants_within(limits::MAX_FILE_BYTES * 9 / 10);
    if by_size == 0 {
        return Err(PipelineError::CannotFit(
            "one tenant's jobs alone exceed GitLab's 5 MB file limit".into(),
        ));
    }
    let mut per_shard = by_jobs.min(by_size);
    loop {
        let shards: Vec<Shard> = waves
            .iter()
            .flat_map(|wave| {
                let count = wave.tenants.len().div_ceil(per_shard);
                wave.tenants
                    .chunks(per_shard)
                    .enumerate()
                    .map(move |(i, tenants)| Shard {
                        wave,
                        name: shard_name(&wave.name, i + 1, count),
                        tenants,
                    })
            })
            .collect();
        limits::check_router(shards.len(), gates, per_shard, max_jobs)
            .map_err(PipelineError::CannotFit)?;

        let mut files = Vec::with_capacity(shards.len());
        let mut too_big = false;
        for shard in &shards {
            let yaml = shard_file(settings, shard)?;
            if yaml.len() > limits::MAX_FILE_BYTES {
                too_big = true;
                break;
            }
            files.push(PipelineFile {
                path: shard_path(settings, &shard.name),
                yaml,
            });
        }
        if too_big {
            if per_shard == 1 {
                return Err(PipelineError::CannotFit(
                    "one tenant's jobs alone exceed GitLab's 5 MB file limit".into(),
                ));
            }
            per_shard = per_shard.div_ceil(2);
            continue;
        }
        let router = router(settings, waves, &shards)?;
        if router.len() > limits::MAX_FILE_BYTES {
            return Err(PipelineError::CannotFit(format!(
                "the router file for {} shards exceeds GitLab's 5 MB limit",
                shards.len()
            )));
        }
        return Ok((router, files));
    }
}

/// File size as a function of the tenant count, measured on one- and
/// two-tenant shard files, so huge selections are never rendered whole just
/// to find out they are too big.
struct SizeEstimate {
    fixed: usize,
    per_tenant: usize,
}

impl SizeEstimate {
    fn measure(settings: &GeneratorSettings, wave: &Wave) -> Result<Self, PipelineError> {
        // Tenant ids are at most 40 characters: measure the longest.
        let ids = ["x".repeat(40), "y".repeat(40)];
        let one = shard_file(
            settings,
            &Shard {
                wave,
                name: wave.name.clone(),
                tenants: &ids[..1],
            },
        )?
        .len();
        let two = shard_file(
            settings,
            &Shard {
                wave,
                name: wave.name.clone(),
                tenants: &ids,
            },
        )?
        .len();
        let per_tenant = two.saturating_sub(one).max(1);
        Ok(SizeEstimate {
            fixed: one.saturating_sub(per_tenant),
            per_tenant,
        })
    }

    fn bytes(&self, tenants: usize) -> usize {
        // The report job lists every tenant id once more.
        self.fixed + tenants * (self.per_tenant + 41)
    }

    fn tenants_within(&self, bytes: usize) -> usize {
        bytes.saturating_sub(self.fixed) / (self.per_tenant + 41)
    }
}

/// `<wave>-<n>`, zero-padded to the wave's shard count (at least 3 digits).
fn shard_name(wave: &str, index: usize, count: usize) -> String {
    let width = count.to_string().len().max(3);
    format!("{wave}-{index:0width$}")
}

fn router(
    settings: &GeneratorSettings,
    waves: &[Wave],
    shards: &[Shard<'_>],
) -> Result<String, PipelineError> {
    let mut stages = vec![jobs::PUBLISH_JOB.to_string()];
    let mut all_jobs = vec![jobs::publish_shards(settings, jobs::PUBLISH_JOB)];
    for wave in waves {
        if is_manual(settings, wave) {
            let stage = format!("{}-start", wave.name);
            all_jobs.push(jobs::gate(&wave.name, &stage));
            stages.push(stage);
        }
        let stage = format!("wave-{}", wave.name);
        for shard in shards.iter().filter(|s| std::ptr::eq(s.wave, wave)) {
            all_jobs.push(jobs::shard_trigger(
                &shard.name,
                &stage,
                &shard_path(settings, &shard.name),
            ));
        }
        stages.push(stage);
    }
    let what = format!(
        "router over {} shard pipelines (each wave's shards run once the earlier wave passed)",
        shards.len()
    );
    render(
        header(settings, waves, &what),
        preamble(settings, stages),
        all_jobs,
    )
}

#[cfg(test)]
mod tests;
