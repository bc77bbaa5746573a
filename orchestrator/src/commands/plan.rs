use crate::cli::{FanoutArgs, GlobalArgs};
use crate::exit::Outcome;

pub async fn run(_global: &GlobalArgs, _args: FanoutArgs) -> anyhow::Result<Outcome> {
    anyhow::bail!("saasctl plan is not implemented yet")
}
