use crate::cli::{GlobalArgs, PipelineCommand};
use crate::exit::Outcome;

pub async fn run(_global: &GlobalArgs, _command: PipelineCommand) -> anyhow::Result<Outcome> {
    anyhow::bail!("saasctl pipeline is not implemented yet")
}
