//! One subcommand per file.

mod applications;
mod apply;
mod backend;
mod destroy;
mod drift;
mod gitlab;
mod pipeline;
mod plan;
mod registry;
mod runs;
mod tenants;
mod unlock;

use crate::cli::{Cli, Command};
use crate::exit::Outcome;
use crate::render::Printer;
use crate::settings::Global;

pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    let global = Global::resolve(&cli.global);
    let printer = Printer::new(global.no_color);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(dispatch(&global, &printer, cli.command))
}

async fn dispatch(global: &Global, printer: &Printer, command: Command) -> anyhow::Result<Outcome> {
    match command {
        Command::Tenants(args) => tenants::run(global, printer, args).await,
        Command::Applications(args) => applications::run(global, printer, args).await,
        Command::Registry(cmd) => registry::run(global, printer, cmd).await,
        Command::Backend(cmd) => backend::run(global, printer, cmd).await,
        Command::Plan(args) => plan::run(global, printer, args).await,
        Command::Apply(args) => apply::run(global, printer, args).await,
        Command::Drift(args) => drift::run(global, printer, args).await,
        Command::Destroy(args) => destroy::run(global, printer, args).await,
        Command::Runs(args) => runs::run(global, printer, args).await,
        Command::Unlock(args) => unlock::run(global, printer, args).await,
        Command::Pipeline(cmd) => pipeline::run(global, printer, cmd).await,
        Command::Gitlab(cmd) => gitlab::run(printer, cmd).await,
    }
}
