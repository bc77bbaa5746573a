//! `saasctl unlock`: release a tenant's stale state lock with `terraform
//! force-unlock`, but only once the holder is known to be gone: it ran on
//! this host and no process here still works on that tenant (or the lock
//! names a pid that is dead), or `--force`.

use anyhow::Context;
use saas_registry::{derive_backend, BackendSettings};
use serde::Deserialize;

use crate::cli::UnlockArgs;
use crate::discovery::open_registry;
use crate::exit::{CliError, Outcome};
use crate::fanout::{install_providers, terraform_for_run};
use crate::locks::LockInfo;
use crate::redact::Redactor;
use crate::render::Printer;
use crate::runner::RetrySettings;
use crate::runs::new_run_id;
use crate::settings::{Global, StackLocation};
use crate::tenant_job::invocation;
use crate::workspace::{self, RunWorkspace};

/// The lock record Terraform writes (DynamoDB `Info` attribute or `.tflock` object).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StoredLock {
    #[serde(rename = "ID")]
    id: String,
    #[serde(default)]
    operation: String,
    #[serde(default)]
    info: String,
    #[serde(default)]
    who: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    created: String,
    #[serde(default)]
    path: String,
}

pub async fn run(global: &Global, printer: &Printer, args: UnlockArgs) -> anyhow::Result<Outcome> {
    let binary = crate::runner::find_terraform(global.terraform.as_deref())?;
    let stack = StackLocation::resolve(&args.stack, args.root.as_deref())?;
    saas_registry::validate::slug("tenant", &args.tenant)?;
    saas_registry::validate::slug("application", &args.application)?;
    let registry = open_registry(global).await?;
    let application = registry
        .get_application(&args.application)
        .await?
        .ok_or_else(|| CliError::NotFound(format!("unknown application {:?}", args.application)))?;
    let tenant = registry
        .get_tenant(&args.tenant)
        .await?
        .filter(|t| t.applications.contains(&application.name))
        .ok_or_else(|| {
            CliError::NotFound(format!(
                "tenant {:?} is not onboarded to {:?}",
                args.tenant, application.name
            ))
        })?;
    let backend = derive_backend(&application, &tenant.id)?;

    let Some(lock) = read_lock(global, &application.state.region, &backend).await? else {
        printer.out(&format!(
            "no lock is held on s3://{}/{}\n",
            backend.bucket, backend.key
        ))?;
        return Ok(Outcome::Clean);
    };
    if let Some(wanted) = &args.lock_id {
        if wanted != &lock.id {
            return Err(CliError::Usage(format!(
                "lock {wanted} is not held; the holder is {} ({})",
                lock.id, lock.who
            ))
            .into());
        }
    }
    if !args.force {
        lock.holder_gone(&tenant.id).map_err(|why| {
            CliError::Usage(format!(
                "lock {} held by {} since {} ({}): {why}; re-run with --force if you are sure it is stale",
                lock.id, lock.who, lock.created, lock.operation
            ))
        })?;
    }

    let workspace = RunWorkspace::new(
        std::path::absolute(".saas/runs")?.join(format!("unlock-{}", new_run_id())),
    );
    std::fs::create_dir_all(&workspace.dir)?;
    let terraform = terraform_for_run(binary, global, &workspace, &registry, RetrySettings::ONCE)?;
    workspace.mirror_stack(&stack.root, &stack.rel)?;
    install_providers(&terraform, &workspace, None).await?;
    let ws = workspace.tenant(&tenant.id);
    ws.prepare(&tenant)?;
    let redactor = Redactor::for_values(tenant.sensitive_variables.values());
    let config_dir = workspace.config_dir();
    let inv = invocation(&config_dir, &ws, &[], &redactor, &tenant.id);
    let mut init: Vec<String> = [
        "init",
        "-input=false",
        "-no-color",
        "-reconfigure",
        "-lockfile=readonly",
    ]
    .map(String::from)
    .into();
    let config = workspace::backend_config(&backend, &global.endpoints);
    init.extend(workspace::backend_args(&config));
    terraform
        .run_retrying(&inv, &init, &[0], true)
        .await
        .context("terraform init")?;
    let unlock: Vec<String> = vec![
        "force-unlock".into(),
        "-no-color".into(),
        "-force".into(),
        lock.id.clone(),
    ];
    terraform
        .run_retrying(&inv, &unlock, &[0], false)
        .await
        .context("terraform force-unlock")?;
    printer.out(&format!(
        "released lock {} on s3://{}/{} (held by {} since {}, {})\n",
        lock.id, backend.bucket, backend.key, lock.who, lock.created, lock.operation
    ))?;
    Ok(Outcome::Clean)
}

/// The current lock holder of a tenant's state, if any.
async fn read_lock(
    global: &Global,
    region: &str,
    backend: &BackendSettings,
) -> anyhow::Result<Option<LockInfo>> {
    let config = crate::aws::sdk_config(region).await;
    let text = match &backend.lock_table {
        Some(table) => {
            let item = crate::aws::dynamodb_client(&config)
                .get_item()
                .table_name(table)
                .key(
                    "LockID",
                    aws_sdk_dynamodb::types::AttributeValue::S(backend.lock_id()),
                )
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| {
                    CliError::Unavailable(format!(
                        "reading lock table {table}: {}",
                        aws_sdk_dynamodb::error::DisplayErrorContext(&e)
                    ))
                })?;
            match item
                .item()
                .and_then(|i| i.get("Info"))
                .and_then(|v| v.as_s().ok())
            {
                Some(info) => info.clone(),
                None => return Ok(None),
            }
        }
        None => {
            let key = backend.lockfile_key();
            match crate::aws::s3_client(&config, &global.endpoints)
                .get_object()
                .bucket(&backend.bucket)
                .key(&key)
                .send()
                .await
            {
                Ok(object) => {
                    String::from_utf8_lossy(&object.body.collect().await?.into_bytes()).into_owned()
                }
                Err(err)
                    if err
                        .raw_response()
                        .is_some_and(|r| r.status().as_u16() == 404) =>
                {
                    return Ok(None)
                }
                Err(err) => {
                    return Err(CliError::Unavailable(format!(
                        "reading s3://{}/{key}: {}",
                        backend.bucket,
                        aws_sdk_s3::error::DisplayErrorContext(&err)
                    ))
                    .into())
                }
            }
        }
    };
    let stored: StoredLock =
        serde_json::from_str(&text).context("the lock record is not Terraform lock info")?;
    Ok(Some(LockInfo {
        id: stored.id,
        path: stored.path,
        operation: stored.operation,
        who: stored.who,
        version: stored.version,
        created: stored.created,
        info: stored.info,
    }))
}
