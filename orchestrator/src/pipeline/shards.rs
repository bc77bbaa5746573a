//! The sharded layout: a router that triggers one shard pipeline per slice
//! of a wave. Shards are packed batch by batch while the job count and the
//! bytes written so far leave room, so no file is rendered twice.

use super::batches::{self, Batch};
use super::{
    control, header, is_manual, limits, terraform_preamble, GeneratorSettings, PipelineError,
    PipelineFile, TenantBlocks, Wave,
};

/// Room kept for a shard's header comment beyond the names it repeats.
const HEADER_ROOM: usize = 512;
/// Room per tenant id in the roll-up jobs, which list it twice: the id, a
/// space, and quotes should a future id need them.
const ROLLUP_ROOM_PER_ID: usize = 4;

/// A slice of one wave, run as its own grandchild pipeline.
struct Shard<'a> {
    wave: &'a Wave,
    /// Index of its first tenant in the wave.
    start: usize,
    tenants: &'a [String],
    batches: usize,
    jobs: TenantBlocks,
}

impl<'a> Shard<'a> {
    fn new(wave: &'a Wave, start: usize) -> Self {
        Shard {
            wave,
            start,
            tenants: &wave.tenants[start..start],
            batches: 0,
            jobs: TenantBlocks::default(),
        }
    }

    /// The shard after this one in the wave.
    fn next(&self) -> Self {
        Shard::new(self.wave, self.start + self.tenants.len())
    }

    fn add(&mut self, batch: &Batch<'_>, jobs: &TenantBlocks) {
        let end = self.start + self.tenants.len() + batch.tenants.len();
        self.tenants = &self.wave.tenants[self.start..end];
        self.batches += 1;
        self.jobs.extend(jobs);
    }

    /// Bytes of the shard's id lists in its roll-up jobs, with `extra`.
    fn rollup_room(&self, extra: &[String]) -> usize {
        self.tenants
            .iter()
            .chain(extra)
            .map(|t| 2 * (t.len() + ROLLUP_ROOM_PER_ID))
            .sum()
    }
}

/// Router plus shard files, and the jobs in all of them.
pub(super) fn sharded(
    settings: &GeneratorSettings,
    waves: &[Wave],
    gates: usize,
) -> Result<(String, Vec<PipelineFile>, usize), PipelineError> {
    let max_jobs = settings.max_jobs_per_pipeline;
    let per_shard = limits::batches_per_shard(max_jobs).ok_or_else(|| {
        PipelineError::CannotFit(format!(
            "--max-jobs-per-pipeline {max_jobs} is too small: a shard pipeline holds a plan and an apply job per batch of tenants plus the report and release-page jobs, so at least {} jobs",
            limits::single_pipeline_jobs(1, 0)
        ))
    })?;
    let fixed = fixed_bytes(settings)?;
    let mut shards = Vec::new();
    for wave in waves {
        pack_wave(settings, wave, per_shard, fixed, &mut shards)?;
    }
    limits::check_router(shards.len(), gates, max_jobs).map_err(PipelineError::CannotFit)?;
    let names = shard_names(&shards);
    let mut files = Vec::with_capacity(shards.len());
    let mut jobs = 0;
    for (shard, name) in shards.iter().zip(&names) {
        let (yaml, count) = shard_file(settings, shard, name)?;
        jobs += count;
        files.push(PipelineFile {
            path: shard_path(settings, name),
            yaml,
        });
    }
    let (router, router_jobs) = router(settings, waves, &shards, &names)?;
    if router.len() > limits::MAX_FILE_BYTES {
        return Err(PipelineError::CannotFit(format!(
            "the router file for {} shards exceeds GitLab's 5 MB limit",
            shards.len()
        )));
    }
    Ok((router, files, jobs + router_jobs))
}

/// Bytes every shard file has whatever its tenants: preamble, template,
/// the roll-up jobs without ids, and room for the header.
fn fixed_bytes(settings: &GeneratorSettings) -> Result<usize, PipelineError> {
    let mut blocks = terraform_preamble(settings, &shard_stages())?;
    control::rollup(&mut blocks, "report", &[])?;
    Ok(blocks.bytes() + HEADER_ROOM + settings.application.len() + settings.stack.len())
}

/// Cuts `wave` into shards of at most `per_shard` batches whose files stay
/// within GitLab's 5 MB.
fn pack_wave<'a>(
    settings: &GeneratorSettings,
    wave: &'a Wave,
    per_shard: usize,
    fixed: usize,
    shards: &mut Vec<Shard<'a>>,
) -> Result<(), PipelineError> {
    let budget = limits::MAX_FILE_BYTES.saturating_sub(fixed + 3 * wave.name.len());
    let mut open = Shard::new(wave, 0);
    for batch in batches::split(&wave.tenants, settings.tenants_per_job) {
        let mut jobs = TenantBlocks::default();
        jobs.push(settings, ("plan", "apply"), &batch)?;
        let fits = |shard: &Shard<'_>| {
            shard.batches < per_shard
                && shard.jobs.bytes() + jobs.bytes() + shard.rollup_room(batch.tenants) <= budget
        };
        if !fits(&open) {
            if open.batches == 0 {
                return Err(PipelineError::CannotFit(format!(
                    "the jobs of tenants {} alone exceed GitLab's 5 MB file limit",
                    batch.label()
                )));
            }
            let next = open.next();
            shards.push(std::mem::replace(&mut open, next));
        }
        open.add(&batch, &jobs);
    }
    if open.batches > 0 {
        shards.push(open);
    }
    Ok(())
}

fn shard_stages() -> Vec<String> {
    vec!["plan".into(), "apply".into(), "report".into()]
}

/// `<wave>-<nnn>`, numbered within each wave.
fn shard_names(shards: &[Shard<'_>]) -> Vec<String> {
    let mut names = Vec::with_capacity(shards.len());
    let mut index = 0;
    for (i, shard) in shards.iter().enumerate() {
        let same_wave = i > 0 && std::ptr::eq(shards[i - 1].wave, shard.wave);
        index = if same_wave { index + 1 } else { 1 };
        names.push(format!("{}-{index:03}", shard.wave.name));
    }
    names
}

fn shard_path(settings: &GeneratorSettings, name: &str) -> String {
    format!("{}/{name}.yml", settings.shard_dir.trim_end_matches('/'))
}

fn shard_file(
    settings: &GeneratorSettings,
    shard: &Shard<'_>,
    name: &str,
) -> Result<(String, usize), PipelineError> {
    let mut blocks = terraform_preamble(settings, &shard_stages())?;
    shard.jobs.append_to(&mut blocks);
    let expected: Vec<&str> = shard.tenants.iter().map(String::as_str).collect();
    control::rollup(&mut blocks, "report", &expected)?;
    let slice = Wave {
        name: shard.wave.name.clone(),
        tenants: shard.tenants.to_vec(),
    };
    let what = format!("shard {name} of wave {}", shard.wave.name);
    let jobs = blocks.jobs();
    let yaml = blocks.into_file(&header(settings, std::slice::from_ref(&slice), &what));
    if yaml.len() > limits::MAX_FILE_BYTES {
        return Err(PipelineError::CannotFit(format!(
            "shard {name} came out at {} bytes, over GitLab's 5 MB",
            yaml.len()
        )));
    }
    Ok((yaml, jobs))
}

fn router(
    settings: &GeneratorSettings,
    waves: &[Wave],
    shards: &[Shard<'_>],
    names: &[String],
) -> Result<(String, usize), PipelineError> {
    let mut stages = vec![control::PUBLISH_JOB.to_string()];
    for wave in waves {
        if is_manual(settings, wave) {
            stages.push(format!("{}-start", wave.name));
        }
        stages.push(format!("wave-{}", wave.name));
    }
    let mut blocks = super::preamble(settings, &stages)?;
    control::publish_shards(&mut blocks, settings, control::PUBLISH_JOB)?;
    for wave in waves {
        if is_manual(settings, wave) {
            control::gate(&mut blocks, &wave.name, &format!("{}-start", wave.name))?;
        }
        let stage = format!("wave-{}", wave.name);
        for (_, name) in shards
            .iter()
            .zip(names)
            .filter(|(s, _)| std::ptr::eq(s.wave, wave))
        {
            control::shard_trigger(&mut blocks, name, &stage, &shard_path(settings, name))?;
        }
    }
    let what = format!(
        "router over {} shard pipelines (each wave's shards run once the earlier wave passed)",
        shards.len()
    );
    let jobs = blocks.jobs();
    Ok((blocks.into_file(&header(settings, waves, &what)), jobs))
}
