//! `saasctl plan`: plan the stack per tenant and keep the plans.

use saas_registry::TenantStatus;

use crate::cli::{FanoutArgs, GlobalArgs};
use crate::exit::Outcome;
use crate::fanout;
use crate::tenant_job::Operation;

pub async fn run(global: &GlobalArgs, args: FanoutArgs) -> anyhow::Result<Outcome> {
    fanout::run(global, &args, Operation::Plan, TenantStatus::Active).await
}
