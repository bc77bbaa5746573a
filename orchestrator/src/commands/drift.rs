//! `saasctl drift`: a refresh-only plan per tenant: in sync, drifted, or error.

use crate::cli::FanoutArgs;
use crate::exit::Outcome;
use crate::fanout;
use crate::render::Printer;
use crate::settings::{FanoutSettings, Global};
use crate::tenant_job::Operation;

pub async fn run(global: &Global, printer: &Printer, args: FanoutArgs) -> anyhow::Result<Outcome> {
    let settings = FanoutSettings::resolve(&args, Operation::Drift)?;
    fanout::run(global, &settings, printer).await
}
