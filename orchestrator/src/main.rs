//! `saasctl`: fan out Terraform per tenant.

use std::process::ExitCode;

use clap::Parser;

mod aws;
mod cli;
mod commands;
mod discovery;
mod exit;
mod render;

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return exit::clap_error(err),
    };
    exit::from_result(commands::run(cli))
}
