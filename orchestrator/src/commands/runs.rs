use crate::cli::RunsArgs;
use crate::exit::Outcome;

pub async fn run(_args: RunsArgs) -> anyhow::Result<Outcome> {
    anyhow::bail!("saasctl runs is not implemented yet")
}
