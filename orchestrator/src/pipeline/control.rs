//! The jobs around the Terraform ones: wave gates, the roll-up `report`
//! and `release-page` jobs, the no-op job of an empty selection, and the
//! router's publish and shard-trigger jobs.

use serde::Serialize;

use super::{GeneratorSettings, PipelineError, RUNS_DIR};
use crate::render::gitlab::CiBlocks;

/// Where the roll-up jobs write the tenants they expect, one id a line.
pub const EXPECTED_FILE: &str = ".saas/expected-tenants";
pub const PUBLISH_JOB: &str = "shards";
const EXPIRE_IN: &str = "30 days";
/// A shard trigger includes its one file.
const INCLUDES_PER_TRIGGER: usize = 1;
const _: () = assert!(INCLUDES_PER_TRIGGER <= super::limits::MAX_INCLUDES_PER_TRIGGER);

#[derive(Serialize)]
struct ScriptJob<'a> {
    stage: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    when: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    allow_failure: Option<bool>,
    script: Vec<String>,
}

/// `start:<wave>`: a manual, blocking job that holds a wave until someone
/// starts it.
pub fn gate(blocks: &mut CiBlocks, wave: &str, stage: &str) -> Result<(), PipelineError> {
    let echo = shlex::try_join(["echo", &format!("wave {wave} approved")])?;
    let job = ScriptJob {
        stage,
        when: Some("manual"),
        allow_failure: Some(false),
        script: vec![echo],
    };
    Ok(blocks.job(&format!("start:{wave}"), &job)?)
}

/// The one job of a pipeline for an empty selection.
pub fn no_op(blocks: &mut CiBlocks, message: &str) -> Result<(), PipelineError> {
    let job = ScriptJob {
        stage: "noop",
        when: None,
        allow_failure: None,
        script: vec![shlex::try_join(["echo", message])?],
    };
    Ok(blocks.job("no-tenants", &job)?)
}

#[derive(Serialize)]
struct RollupJob<'a> {
    stage: &'a str,
    when: &'static str,
    script: Vec<String>,
    artifacts: RollupArtifacts,
    #[serde(skip_serializing_if = "Option::is_none")]
    allow_failure: Option<ExitCodes>,
}

#[derive(Serialize)]
struct RollupArtifacts {
    when: &'static str,
    expire_in: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    expose_as: Option<&'static str>,
    paths: Vec<&'static str>,
}

#[derive(Serialize)]
struct ExitCodes {
    exit_codes: [u8; 1],
}

/// The roll-up of every earlier job's artifacts (no `needs`: a job without
/// them downloads the artifacts of all earlier stages, whatever their count):
/// `report` (markdown in the log, JSON for tools; its exit code is the
/// release's) and `release-page`, the HTML page alone in its artifacts, so
/// `expose_as` links the merge request straight to it. The expected tenants
/// go through a file written by the shell's `printf` builtin: thousands of
/// ids in one argument would pass the kernel's limit on one.
pub fn rollup(blocks: &mut CiBlocks, stage: &str, expected: &[&str]) -> Result<(), PipelineError> {
    let mut write_expected = vec!["printf", "%s\\n"];
    write_expected.extend_from_slice(expected);
    let write_expected = format!(
        "mkdir -p .saas && {} > {EXPECTED_FILE}",
        shlex::try_join(write_expected)?
    );
    let report =
        format!("saasctl pipeline report --artifacts {RUNS_DIR} --expect-file {EXPECTED_FILE}");
    let summary = RollupJob {
        stage,
        when: "always",
        script: vec![
            write_expected.clone(),
            format!("{report} --format json > saas-report.json || true"),
            format!("code=0; {report} > saas-report.md || code=$?; cat saas-report.md; exit $code"),
        ],
        artifacts: RollupArtifacts {
            when: "always",
            expire_in: EXPIRE_IN,
            expose_as: None,
            paths: vec!["saas-report.json", "saas-report.md"],
        },
        allow_failure: Some(ExitCodes { exit_codes: [2] }),
    };
    let page = RollupJob {
        stage,
        when: "always",
        script: vec![
            write_expected,
            format!("{report} --format html > saas-report.html || true"),
        ],
        artifacts: RollupArtifacts {
            when: "always",
            expire_in: EXPIRE_IN,
            expose_as: Some("release page"),
            paths: vec!["saas-report.html"],
        },
        allow_failure: None,
    };
    blocks.job("report", &summary)?;
    Ok(blocks.job("release-page", &page)?)
}

#[derive(Serialize)]
struct PublishJob<'a> {
    stage: &'a str,
    needs: [ParentNeed; 1],
    script: [String; 1],
    artifacts: PublishArtifacts,
}

#[derive(Serialize)]
struct ParentNeed {
    pipeline: &'static str,
    job: String,
}

#[derive(Serialize)]
struct PublishArtifacts {
    expire_in: &'static str,
    paths: [String; 1],
}

/// Router job that takes the shard files from the parent's generate job and
/// republishes them: `trigger:include:artifact` reads artifacts of a job in
/// the triggering pipeline only.
pub fn publish_shards(
    blocks: &mut CiBlocks,
    settings: &GeneratorSettings,
    stage: &str,
) -> Result<(), PipelineError> {
    let job = PublishJob {
        stage,
        needs: [ParentNeed {
            pipeline: "$PARENT_PIPELINE_ID",
            job: settings.generate_job.clone(),
        }],
        script: [shlex::try_join(["ls", "-l", &settings.shard_dir])?],
        artifacts: PublishArtifacts {
            expire_in: EXPIRE_IN,
            paths: [format!("{}/", settings.shard_dir)],
        },
    };
    Ok(blocks.job(PUBLISH_JOB, &job)?)
}

#[derive(Serialize)]
struct TriggerJob<'a> {
    stage: &'a str,
    trigger: Trigger<'a>,
}

#[derive(Serialize)]
struct Trigger<'a> {
    include: [Include<'a>; INCLUDES_PER_TRIGGER],
    strategy: &'static str,
}

#[derive(Serialize)]
struct Include<'a> {
    artifact: &'a str,
    job: &'static str,
}

/// Router job that runs one shard file as a grandchild pipeline and mirrors
/// its status (`strategy: depend`), so the next wave waits for it.
pub fn shard_trigger(
    blocks: &mut CiBlocks,
    name: &str,
    stage: &str,
    file: &str,
) -> Result<(), PipelineError> {
    let job = TriggerJob {
        stage,
        trigger: Trigger {
            include: [Include {
                artifact: file,
                job: PUBLISH_JOB,
            }],
            strategy: "depend",
        },
    };
    Ok(blocks.job(&format!("shard:{name}"), &job)?)
}
