use crate::cli::{GlobalArgs, UnlockArgs};
use crate::exit::Outcome;

pub async fn run(_global: &GlobalArgs, _args: UnlockArgs) -> anyhow::Result<Outcome> {
    anyhow::bail!("saasctl unlock is not implemented yet")
}
