//! `saasctl`: fan out Terraform per tenant.

use std::process::ExitCode;

use clap::Parser;

mod aws;
mod bootstrap;
mod changed;
mod cli;
mod commands;
mod discovery;
mod exit;
mod fanout;
mod fingerprint;
mod gitlab_api;
mod init_template;
#[cfg(test)]
mod layers;
mod locks;
mod mirror;
mod pipeline;
mod policy;
mod pool;
mod progress;
mod redact;
mod render;
mod resolve;
mod rollout;
mod runner;
mod runs;
mod settings;
mod tenant_job;
#[cfg(test)]
mod test_fixtures;
mod tf_json;
mod workspace;

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return exit::clap_error(err),
    };
    exit::from_result(commands::run(cli))
}
