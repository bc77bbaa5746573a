//! `saasctl destroy`: destroy each selected tenant's stack; by default the
//! tenants being offboarded.

use crate::cli::FanoutArgs;
use crate::exit::Outcome;
use crate::fanout;
use crate::render::Printer;
use crate::settings::{FanoutSettings, Global};
use crate::tenant_job::Operation;

pub async fn run(global: &Global, printer: &Printer, args: FanoutArgs) -> anyhow::Result<Outcome> {
    let settings = FanoutSettings::resolve(&args, Operation::Destroy)?;
    fanout::run(global, &settings, printer).await
}
