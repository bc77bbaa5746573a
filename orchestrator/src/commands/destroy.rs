//! `saasctl destroy`: destroy each selected tenant's stack; by default the
//! tenants being offboarded.

use saas_registry::TenantStatus;

use crate::cli::{FanoutArgs, GlobalArgs};
use crate::exit::Outcome;
use crate::fanout;
use crate::tenant_job::Operation;

pub async fn run(global: &GlobalArgs, args: FanoutArgs) -> anyhow::Result<Outcome> {
    fanout::run(global, &args, Operation::Destroy, TenantStatus::Offboarding).await
}
