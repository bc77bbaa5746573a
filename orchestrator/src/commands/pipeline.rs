//! `saasctl pipeline gitlab` (write a child pipeline for the selected
//! tenants) and `saasctl pipeline report` (roll the jobs' results up).

use std::path::{Component, Path};

use anyhow::Context;
use saas_registry::TenantStatus;

use crate::cli::{PipelineCommand, PipelineGitlabArgs, PipelineReportArgs, ReportFormat};
use crate::discovery::{discover, only_new, open_registry};
use crate::exit::{CliError, Outcome};
use crate::fanout;
use crate::pipeline::{self, report, waves, GeneratorSettings, PipelineError};
use crate::render::{html, Printer};
use crate::runs::write_atomic;
use crate::settings::{Global, StackLocation};

pub async fn run(
    global: &Global,
    printer: &Printer,
    command: PipelineCommand,
) -> anyhow::Result<Outcome> {
    match command {
        PipelineCommand::Gitlab(args) => gitlab(global, printer, *args).await,
        PipelineCommand::Report(args) => rollup(printer, args),
    }
}

async fn gitlab(
    global: &Global,
    printer: &Printer,
    args: PipelineGitlabArgs,
) -> anyhow::Result<Outcome> {
    let stack_location = StackLocation::resolve(&args.stack, None)?;
    let selection = args.selection.resolve(TenantStatus::Active)?;
    let registry = open_registry(global).await?;
    let (application, mut tenants) = discover(&registry, &selection).await?;
    if selection.new_only {
        tenants = only_new(&global.endpoints, &application, tenants).await?;
    }
    if args.changed {
        let runs = Path::new(pipeline::RUNS_DIR);
        tenants = fanout::changed_tenants(
            global,
            &stack_location,
            runs,
            &registry,
            &application,
            tenants,
            printer,
        )
        .await?;
    }
    let waves = waves::resolve(args.waves.as_deref(), &tenants)?;
    let shard_dir = shard_dir(&args.out);
    let stack = slash_path(&args.stack);
    let lock_file = args
        .stack
        .join(pipeline::LOCK_FILE)
        .is_file()
        .then(|| format!("{stack}/{}", pipeline::LOCK_FILE));
    let settings = GeneratorSettings {
        application: application.name.clone(),
        stack,
        status: args.selection.status.map(|s| s.to_string()),
        registry: global.registry_flag.clone(),
        image: args.image.clone(),
        apply: args.apply.into(),
        manual_waves: args.manual_waves.iter().cloned().collect(),
        max_jobs_per_pipeline: args.max_jobs_per_pipeline,
        tenants_per_job: usize::from(args.tenants_per_job),
        batch_jobs: args.batch_jobs.map(usize::from),
        lock_file,
        shard_dir: shard_dir.clone().unwrap_or_default(),
        generate_job: args.generate_job.clone(),
    };
    let generated = pipeline::generate(&settings, &waves).map_err(|err| match err {
        PipelineError::Yaml(_) | PipelineError::Quote(_) => anyhow::Error::from(err),
        PipelineError::InvalidTenant(invalid) => invalid.into(),
        other => CliError::Usage(other.to_string()).into(),
    })?;
    if !generated.shards.is_empty() && shard_dir.is_none() {
        return Err(CliError::Usage(format!(
            "-o {}: {} tenants need shard pipelines, whose files must be job artifacts; write the output to a path relative to the project directory",
            args.out.display(),
            generated.tenants
        ))
        .into());
    }
    let shard_files = shard_files_dir(&args.out);
    for file in &generated.shards {
        let name = Path::new(&file.path)
            .file_name()
            .context("shard file without a name")?;
        write(&shard_files.join(name), &file.yaml)?;
    }
    write(&args.out, &generated.main)?;
    report_written(
        printer,
        &args,
        &application.name,
        &waves,
        &generated,
        &settings.shard_dir,
    );
    Ok(Outcome::Clean)
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    write_atomic(path, text.as_bytes()).with_context(|| format!("writing {}", path.display()))
}

fn report_written(
    printer: &Printer,
    args: &PipelineGitlabArgs,
    application: &str,
    waves: &[waves::Wave],
    generated: &pipeline::GeneratedPipeline,
    shard_dir: &str,
) {
    let out = args.out.display();
    if generated.tenants == 0 {
        printer.line(format_args!(
            "no tenants of {application} match the selection; wrote {out} with one no-op job"
        ));
        return;
    }
    let plan: Vec<String> = waves
        .iter()
        .map(|w| format!("{} {}", w.name, w.tenants.len()))
        .collect();
    let jobs = format!(
        "{} jobs, {} tenants per job",
        generated.jobs, args.tenants_per_job
    );
    if generated.shards.is_empty() {
        printer.line(format_args!(
            "wrote {out}: {} tenants of {application} in {jobs}, waves: {}",
            generated.tenants,
            plan.join(", ")
        ));
    } else {
        printer.line(format_args!(
            "wrote router {out} and {} shard pipelines under {shard_dir}/: {} tenants of {application} in {jobs}, waves: {}",
            generated.shards.len(),
            generated.tenants,
            plan.join(", ")
        ));
    }
}

/// Where the shard files go: `<stem>-shards/` beside the output file.
fn shard_files_dir(out: &Path) -> std::path::PathBuf {
    let stem = out.file_stem().unwrap_or_default().to_string_lossy();
    out.with_file_name(format!("{stem}-shards"))
}

/// `<dir>/<stem>-shards` beside the output file, relative to the project
/// directory (artifact paths must be); `None` when the output lies outside it.
fn shard_dir(out: &Path) -> Option<String> {
    out.file_stem()?;
    let dir = shard_files_dir(out);
    let relative = if dir.is_absolute() {
        let base = std::env::var_os("CI_PROJECT_DIR")
            .map(std::path::PathBuf::from)
            .or_else(|| std::env::current_dir().ok())?;
        dir.strip_prefix(base).ok()?.to_path_buf()
    } else {
        dir
    };
    if relative
        .components()
        .any(|c| matches!(c, Component::ParentDir))
    {
        return None;
    }
    Some(slash_path(&relative))
}

/// A path as CI YAML writes it: forward slashes, no leading `./`.
fn slash_path(path: &Path) -> String {
    let parts: Vec<String> = path
        .components()
        .filter(|c| !matches!(c, Component::CurDir))
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/").replace("//", "/")
    }
}

/// `--expect` and the ids in `--expect-file`, in that order.
fn expected_tenants(args: &PipelineReportArgs) -> anyhow::Result<Vec<String>> {
    let mut expected: Vec<String> = args.expect.clone();
    if let Some(file) = &args.expect_file {
        let text = std::fs::read_to_string(file)
            .map_err(|e| CliError::NotFound(format!("--expect-file {}: {e}", file.display())))?;
        expected.extend(text.split_whitespace().map(str::to_string));
    }
    expected.retain(|t| !t.is_empty());
    Ok(expected)
}

fn rollup(printer: &Printer, args: PipelineReportArgs) -> anyhow::Result<Outcome> {
    let expected = expected_tenants(&args)?;
    for id in &expected {
        saas_registry::validate::slug("tenant", id)?;
    }
    let cli_error = |err: report::ReportError| match err {
        report::ReportError::NotAReport { .. } => CliError::Usage(err.to_string()),
        _ => CliError::NotFound(err.to_string()),
    };
    if let ReportFormat::Html = args.format {
        let merged = report::release_report(&args.artifacts, &expected).map_err(cli_error)?;
        printer.out(&html::page(&merged, &html::PageContext::default()))?;
        return Ok(merged.status.outcome(true));
    }
    let summary = report::collect(&args.artifacts, &expected).map_err(cli_error)?;
    match args.format {
        ReportFormat::Json => printer.json(&summary)?,
        ReportFormat::Markdown | ReportFormat::Html => printer.out(&report::markdown(&summary))?,
    }
    Ok(summary.outcome())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_dirs_sit_beside_the_output_and_stay_relative() {
        assert_eq!(
            shard_dir(Path::new("child.yml")).as_deref(),
            Some("child-shards")
        );
        assert_eq!(
            shard_dir(Path::new("./ci/child.yml")).as_deref(),
            Some("ci/child-shards")
        );
        assert_eq!(shard_dir(Path::new("../child.yml")), None);
        assert_eq!(slash_path(Path::new("./stacks/app/")), "stacks/app");
    }
}
