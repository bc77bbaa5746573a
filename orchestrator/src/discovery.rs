//! Discovery: turn command-line selection into a registry query.

use std::collections::BTreeMap;

use anyhow::Context;
use saas_registry::{Application, Registry, Tenant, TenantFilter, TenantStatus};

use crate::cli::{GlobalArgs, SelectionArgs};
use crate::exit::CliError;

/// Opens the registry named by `--registry`, `SAAS_REGISTRY` or the default.
pub async fn open_registry(global: &GlobalArgs) -> anyhow::Result<Registry> {
    // An explicit --registry is used as given: an empty one is an error, not the default.
    let url = match global.registry.as_deref() {
        Some(explicit) => explicit.to_string(),
        None => saas_registry::resolve_url(None),
    };
    Registry::open(&url)
        .await
        .with_context(|| format!("opening registry {url}"))
}

/// Parses repeated `KEY=VALUE` flags.
pub fn parse_labels(pairs: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    pairs
        .iter()
        .map(|pair| {
            pair.split_once('=')
                .filter(|(k, _)| !k.is_empty())
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| {
                    CliError::Usage(format!("--label {pair:?}: expected KEY=VALUE")).into()
                })
        })
        .collect()
}

pub fn parse_status(status: Option<&str>) -> anyhow::Result<Option<TenantStatus>> {
    status.map(str::parse).transpose().map_err(Into::into)
}

/// The registry filter for a fan-out selection. `default_status` applies
/// when `--status` is not given (active for plan/apply, offboarding for destroy).
pub fn tenant_filter(
    selection: &SelectionArgs,
    default_status: TenantStatus,
) -> anyhow::Result<TenantFilter> {
    for id in &selection.tenants {
        saas_registry::validate::slug("tenant", id)?;
    }
    Ok(TenantFilter {
        application: Some(selection.application.clone()),
        tier: selection.tier.clone(),
        status: Some(parse_status(selection.status.as_deref())?.unwrap_or(default_status)),
        ids: selection.tenants.iter().cloned().collect(),
        labels: parse_labels(&selection.labels)?,
    })
}

/// Looks up the application and its selected tenants. Every `--tenant` named
/// explicitly must exist and be onboarded, or the whole command fails before
/// anything runs.
pub async fn discover(
    registry: &Registry,
    selection: &SelectionArgs,
    default_status: TenantStatus,
) -> anyhow::Result<(Application, Vec<Tenant>)> {
    let filter = tenant_filter(selection, default_status)?;
    saas_registry::validate::slug("application", &selection.application)?;
    let application = registry
        .get_application(&selection.application)
        .await?
        .ok_or_else(|| {
            CliError::NotFound(format!("unknown application {:?}", selection.application))
        })?;
    let tenants = registry.list_tenants(&filter).await?;
    for id in &selection.tenants {
        if !tenants.iter().any(|t| &t.id == id) {
            let why = match registry.get_tenant(id).await? {
                None => "does not exist".to_string(),
                Some(t) if !t.applications.contains(&application.name) => {
                    format!("is not onboarded to {:?}", application.name)
                }
                Some(t) => format!(
                    "does not match the selection (status {}, tier {})",
                    t.status, t.tier
                ),
            };
            return Err(CliError::NotFound(format!("tenant {id:?} {why}")).into());
        }
    }
    Ok((application, tenants))
}

/// `--new`: the tenants whose state object does not exist yet. One SDK
/// config for the whole selection; the HEAD requests run concurrently.
pub async fn only_new(app: &Application, tenants: Vec<Tenant>) -> anyhow::Result<Vec<Tenant>> {
    let config = crate::aws::sdk_config(&app.state.region).await;
    let s3 = crate::aws::s3_client(&config);
    let checks = tenants.iter().map(|tenant| {
        let s3 = s3.clone();
        async move {
            let backend = saas_registry::derive_backend(app, &tenant.id)?;
            match s3
                .head_object()
                .bucket(&backend.bucket)
                .key(&backend.key)
                .send()
                .await
            {
                Ok(_) => Ok(false),
                Err(err)
                    if err
                        .raw_response()
                        .is_some_and(|r| r.status().as_u16() == 404) =>
                {
                    Ok(true)
                }
                Err(err) => Err(anyhow::Error::from(CliError::Unavailable(format!(
                    "checking state s3://{}/{} of tenant {}: {}",
                    backend.bucket,
                    backend.key,
                    tenant.id,
                    aws_sdk_s3::error::DisplayErrorContext(&err)
                )))),
            }
        }
    });
    let is_new = futures::future::try_join_all(checks).await?;
    Ok(tenants
        .into_iter()
        .zip(is_new)
        .filter_map(|(tenant, new)| new.then_some(tenant))
        .collect())
}
