//! `saasctl apply`: plan and apply per tenant, or apply exactly the plans
//! a `saasctl plan` run saved (`--from-run`).

use crate::cli::ApplyArgs;
use crate::exit::Outcome;
use crate::fanout;
use crate::render::Printer;
use crate::settings::{FanoutSettings, Global};

pub async fn run(global: &Global, printer: &Printer, args: ApplyArgs) -> anyhow::Result<Outcome> {
    let settings = FanoutSettings::resolve_apply(&args)?;
    fanout::run(global, &settings, printer).await
}
