//! `saasctl gitlab trigger`: start one tenant's pipeline through GitLab's
//! trigger API, from outside CI or from another project's job.

use anyhow::Context;

use crate::cli::{GitlabCommand, GitlabTriggerArgs};
use crate::exit::{CliError, Outcome};
use crate::gitlab_api::{self, GitlabApiError, TriggerRequest};
use crate::render::Printer;

/// Token variables, in order of preference: a trigger token set for saasctl,
/// then the job token GitLab gives every CI job.
const TOKEN_VARIABLES: [&str; 2] = ["SAAS_GITLAB_TRIGGER_TOKEN", "CI_JOB_TOKEN"];

pub async fn run(printer: &Printer, command: GitlabCommand) -> anyhow::Result<Outcome> {
    match command {
        GitlabCommand::Trigger(args) => trigger(printer, args).await,
    }
}

async fn trigger(printer: &Printer, args: GitlabTriggerArgs) -> anyhow::Result<Outcome> {
    saas_registry::validate::slug("application", &args.application)?;
    saas_registry::validate::slug("tenant", &args.tenant)?;
    if args.project.trim().is_empty() || args.git_ref.trim().is_empty() {
        return Err(CliError::Usage("--project and --ref must not be empty".into()).into());
    }
    let token = TOKEN_VARIABLES
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
        .ok_or_else(|| {
            CliError::Usage(format!(
                "no GitLab token: set {} (a pipeline trigger token) or run inside a CI job (CI_JOB_TOKEN)",
                TOKEN_VARIABLES[0]
            ))
        })?;
    let request = TriggerRequest {
        gitlab_url: &args.gitlab_url,
        project: &args.project,
        git_ref: &args.git_ref,
        token: &token,
        variables: &[
            ("SAAS_APPLICATION", args.application.as_str()),
            ("SAAS_TENANT", args.tenant.as_str()),
        ],
    };
    let pipeline = gitlab_api::trigger_pipeline(&request)
        .await
        .map_err(classify)
        .with_context(|| {
            format!(
                "triggering a pipeline for tenant {} of {} in project {}",
                args.tenant, args.application, args.project
            )
        })?;
    printer.out(&format!(
        "pipeline {} ({}) for tenant {}: {}\n",
        pipeline.id,
        if pipeline.status.is_empty() {
            "created"
        } else {
            &pipeline.status
        },
        args.tenant,
        pipeline.web_url
    ))?;
    Ok(Outcome::Clean)
}

/// Not found gets its own exit code; 5xx and network trouble are "unavailable".
fn classify(err: GitlabApiError) -> anyhow::Error {
    match err.status() {
        Some(404) => CliError::NotFound(err.to_string()).into(),
        Some(500..) | None if !matches!(err, GitlabApiError::Decode(_)) => {
            CliError::Unavailable(err.to_string()).into()
        }
        _ => err.into(),
    }
}
