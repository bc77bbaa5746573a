use crate::cli::{ApplyArgs, GlobalArgs};
use crate::exit::Outcome;

pub async fn run(_global: &GlobalArgs, _args: ApplyArgs) -> anyhow::Result<Outcome> {
    anyhow::bail!("saasctl apply is not implemented yet")
}
