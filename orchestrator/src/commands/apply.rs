//! `saasctl apply`: plan and apply per tenant, or apply exactly the plans
//! a `saasctl plan` run saved (`--from-run`).

use std::path::PathBuf;

use saas_registry::TenantStatus;

use crate::cli::{ApplyArgs, GlobalArgs};
use crate::exit::Outcome;
use crate::fanout;
use crate::runs::validate_run_id;
use crate::tenant_job::{Operation, SavedPlans};
use crate::workspace::RunWorkspace;

pub async fn run(global: &GlobalArgs, args: ApplyArgs) -> anyhow::Result<Outcome> {
    let from_run = match args.from_run {
        Some(run_id) => {
            validate_run_id(&run_id)?;
            // The engine points the workspace at the runs directory it uses.
            Some(SavedPlans {
                run_id,
                workspace: RunWorkspace::new(PathBuf::new()),
            })
        }
        None => None,
    };
    fanout::run(
        global,
        &args.fanout,
        Operation::Apply { from_run },
        TenantStatus::Active,
    )
    .await
}
