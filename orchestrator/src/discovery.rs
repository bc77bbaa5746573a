//! Discovery: which tenants a command acts on, asked of the registry (and,
//! for `--new`, of S3).

use anyhow::Context;
use saas_registry::{Application, Registry, Tenant};

use crate::exit::CliError;
use crate::settings::{Global, Selection};

/// Opens the registry the settings name.
pub async fn open_registry(global: &Global) -> anyhow::Result<Registry> {
    let url = &global.registry_url;
    Registry::open(url)
        .await
        .with_context(|| format!("opening registry {url}"))
}

/// Looks up the application and its selected tenants. Every `--tenant` named
/// explicitly must exist and be onboarded, or the whole command fails before
/// anything runs.
pub async fn discover(
    registry: &Registry,
    selection: &Selection,
) -> anyhow::Result<(Application, Vec<Tenant>)> {
    let application = registry
        .get_application(&selection.application)
        .await?
        .ok_or_else(|| {
            CliError::NotFound(format!("unknown application {:?}", selection.application))
        })?;
    let tenants = registry.list_tenants(&selection.filter).await?;
    for id in &selection.filter.ids {
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
pub async fn only_new(
    endpoints: &saas_registry::EndpointUrls,
    app: &Application,
    tenants: Vec<Tenant>,
) -> anyhow::Result<Vec<Tenant>> {
    let config = crate::aws::sdk_config(&app.state.region).await;
    let s3 = crate::aws::s3_client(&config, endpoints);
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
