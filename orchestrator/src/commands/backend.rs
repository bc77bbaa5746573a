use crate::cli::{BackendCommand, GlobalArgs};
use crate::exit::Outcome;

pub async fn run(_global: &GlobalArgs, _command: BackendCommand) -> anyhow::Result<Outcome> {
    anyhow::bail!("saasctl backend is not implemented yet")
}
