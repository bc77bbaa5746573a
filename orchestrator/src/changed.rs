//! `--changed` for a run: each tenant's fingerprint after the run's one
//! init, the applied records in S3, and the tenants they show unchanged
//! (see `fingerprint` for what a fingerprint covers).

use std::collections::BTreeMap;

use anyhow::Context;
use saas_registry::{Application, Tenant};

use crate::fingerprint::{self, AppliedRecord, RecordStore};
use crate::pool::Wave;
use crate::render::Printer;
use crate::runs::{RunReport, RunStore, TenantResult};
use crate::settings::Global;
use crate::workspace::{self, RunWorkspace};

pub async fn record_store(global: &Global, application: &Application) -> RecordStore {
    let sdk = crate::aws::sdk_config(&application.state.region).await;
    RecordStore::new(crate::aws::s3_client(&sdk, &global.endpoints))
}

/// Each tenant's fingerprint over the run's stack (after its one init).
pub fn tenant_fingerprints(
    workspace: &RunWorkspace,
    application: &Application,
    tenants: &BTreeMap<String, Tenant>,
    terraform_version: &str,
) -> anyhow::Result<BTreeMap<String, String>> {
    let stack = fingerprint::stack_fingerprint(
        &workspace.config_dir(),
        &workspace.init_data_dir(),
        terraform_version,
    )
    .context("fingerprinting the stack")?;
    let mut out = BTreeMap::new();
    for (id, tenant) in tenants {
        let backend = saas_registry::derive_backend(application, id)?;
        let var_file = workspace::var_file_json(tenant);
        out.insert(
            id.clone(),
            fingerprint::tenant_fingerprint(&stack, &var_file, tenant, &backend),
        );
    }
    Ok(out)
}

/// The fingerprints a plan run saw, for the apply of its saved plans.
pub fn saved_fingerprints(store: &RunStore, plan_run: &str) -> BTreeMap<String, String> {
    store.load(plan_run).map_or_else(
        |_| BTreeMap::new(),
        |plan| {
            plan.tenants
                .into_iter()
                .filter_map(|t| Some((t.tenant, t.fingerprint?)))
                .collect()
        },
    )
}

/// Every tenant's applied record, read 32 at a time. It needs no
/// fingerprint, so it runs while the run's one init does. No record, or
/// one that cannot be read (a warning), and the tenant is absent: planned.
pub async fn read_records(
    records: &RecordStore,
    application: &Application,
    tenants: &BTreeMap<String, Tenant>,
    printer: &Printer,
) -> BTreeMap<String, AppliedRecord> {
    use futures::StreamExt;
    let reads = tenants.keys().map(|id| async move {
        let backend = saas_registry::derive_backend(application, id).ok()?;
        match records.read(&backend).await {
            Ok(record) => record.map(|r| (id.clone(), r)),
            Err(err) => {
                printer.warning(format_args!("{err}; planning tenant {id}"));
                None
            }
        }
    });
    futures::stream::iter(reads)
        .buffer_unordered(32)
        .filter_map(|found| async move { found })
        .collect()
        .await
}

/// `--changed`: the tenants whose applied record holds today's
/// fingerprint, with the run that applied it.
pub fn unchanged_tenants(
    recorded: BTreeMap<String, AppliedRecord>,
    fingerprints: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    recorded
        .into_iter()
        .filter(|(id, r)| fingerprints.get(id) == Some(&r.fingerprint))
        .map(|(id, r)| (id, r.run_id))
        .collect()
}

/// Marks `unchanged` tenants in the report and takes them out of the waves.
pub fn skip_unchanged(
    unchanged: &BTreeMap<String, String>,
    report: &mut RunReport,
    waves: &mut [Wave<String>],
) {
    for (id, run) in unchanged {
        if let Some(entry) = report.tenant_mut(id) {
            entry.result = TenantResult::Unchanged;
            entry.last_applied_run = Some(run.clone());
        }
    }
    for wave in waves {
        wave.items.retain(|id| !unchanged.contains_key(id));
    }
}
