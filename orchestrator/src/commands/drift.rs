//! `saasctl drift`: a refresh-only plan per tenant: in sync, drifted, or error.

use saas_registry::TenantStatus;

use crate::cli::{FanoutArgs, GlobalArgs};
use crate::exit::Outcome;
use crate::fanout;
use crate::tenant_job::Operation;

pub async fn run(global: &GlobalArgs, args: FanoutArgs) -> anyhow::Result<Outcome> {
    fanout::run(global, &args, Operation::Drift, TenantStatus::Active).await
}
