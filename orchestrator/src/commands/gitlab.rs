use crate::cli::GitlabCommand;
use crate::exit::Outcome;

pub async fn run(_command: GitlabCommand) -> anyhow::Result<Outcome> {
    anyhow::bail!("saasctl gitlab is not implemented yet")
}
