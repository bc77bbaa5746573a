//! `saasctl tenants`: list tenants with filters.

use saas_registry::{Tenant, TenantFilter};
use serde::Serialize;

use crate::cli::ListTenantsArgs;
use crate::discovery::open_registry;
use crate::exit::{CliError, Outcome};
use crate::render::{table::Table, Printer};
use crate::settings::Global;

/// A tenant as listed: everything but the sensitive values, whose names only
/// are shown.
#[derive(Serialize)]
struct TenantRow<'a> {
    id: &'a str,
    name: &'a str,
    email: &'a str,
    tier: &'a str,
    status: String,
    applications: Vec<&'a str>,
    variables: &'a std::collections::BTreeMap<String, serde_json::Value>,
    sensitive_variables: Vec<&'a str>,
    labels: &'a std::collections::BTreeMap<String, String>,
    version: u64,
    created_at: &'a str,
    updated_at: &'a str,
}

impl<'a> From<&'a Tenant> for TenantRow<'a> {
    fn from(t: &'a Tenant) -> Self {
        TenantRow {
            id: &t.id,
            name: &t.name,
            email: &t.email,
            tier: &t.tier,
            status: t.status.to_string(),
            applications: t.applications.iter().map(String::as_str).collect(),
            variables: &t.variables,
            sensitive_variables: t.sensitive_variables.keys().map(String::as_str).collect(),
            labels: &t.labels,
            version: t.meta.version,
            created_at: &t.meta.created_at,
            updated_at: &t.meta.updated_at,
        }
    }
}

pub async fn run(
    global: &Global,
    printer: &Printer,
    args: ListTenantsArgs,
) -> anyhow::Result<Outcome> {
    let filter = TenantFilter {
        application: args.application,
        tier: args.tier,
        status: args.status,
        labels: args.labels.into_iter().collect(),
        ..Default::default()
    };
    let registry = open_registry(global).await?;
    // A filter on an application that cannot or does not exist is a typo, not an empty fleet.
    if let Some(application) = &filter.application {
        saas_registry::validate::slug("application", application)?;
        if registry.get_application(application).await?.is_none() {
            return Err(CliError::NotFound(format!("unknown application {application:?}")).into());
        }
    }
    let tenants = registry.list_tenants(&filter).await?;
    let rows: Vec<TenantRow> = tenants.iter().map(TenantRow::from).collect();
    printer.listing(args.output.output.into(), &rows, |rows| {
        let mut table = Table::new(["ID", "NAME", "TIER", "STATUS", "APPLICATIONS"]);
        for r in rows {
            table.row([r.id, r.name, r.tier, &r.status, &r.applications.join(",")]);
        }
        table
    })?;
    Ok(Outcome::Clean)
}
