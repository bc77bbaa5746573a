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

pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(dispatch(cli))
}

async fn dispatch(cli: Cli) -> anyhow::Result<Outcome> {
    let global = &cli.global;
    match cli.command {
        Command::Tenants(args) => tenants::run(global, args).await,
        Command::Applications(args) => applications::run(global, args).await,
        Command::Registry(cmd) => registry::run(global, cmd).await,
        Command::Backend(cmd) => backend::run(global, cmd).await,
        Command::Plan(args) => plan::run(global, args).await,
        Command::Apply(args) => apply::run(global, args).await,
        Command::Drift(args) => drift::run(global, args).await,
        Command::Destroy(args) => destroy::run(global, args).await,
        Command::Runs(args) => runs::run(args).await,
        Command::Unlock(args) => unlock::run(global, args).await,
        Command::Pipeline(cmd) => pipeline::run(global, cmd).await,
        Command::Gitlab(cmd) => gitlab::run(cmd).await,
    }
}
