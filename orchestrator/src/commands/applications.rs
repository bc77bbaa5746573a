//! `saasctl applications`: list applications.

use saas_registry::{Application, Isolation, LockKind};

use crate::cli::ListApplicationsArgs;
use crate::discovery::open_registry;
use crate::exit::Outcome;
use crate::render::{table::Table, Printer};
use crate::settings::Global;

pub async fn run(
    global: &Global,
    printer: &Printer,
    args: ListApplicationsArgs,
) -> anyhow::Result<Outcome> {
    let labels = args.labels;
    let registry = open_registry(global).await?;
    let apps: Vec<Application> = registry
        .list_applications()
        .await?
        .into_iter()
        .filter(|a| labels.iter().all(|(k, v)| a.labels.get(k) == Some(v)))
        .collect();
    printer.listing(args.output.output.into(), &apps, |apps| {
        let mut table = Table::new(["NAME", "ISOLATION", "STATE", "LOCK", "TIERS"]);
        for a in apps {
            let state = match a.state.isolation {
                Isolation::Prefix => a.state.bucket.clone().unwrap_or_default(),
                Isolation::Bucket => format!(
                    "{}-<tenant>",
                    a.state.bucket_prefix.as_deref().unwrap_or_default()
                ),
            };
            let isolation: &str = a.state.isolation.into();
            let lock = match a.state.lock {
                LockKind::Dynamodb => format!(
                    "dynamodb:{}",
                    a.state.lock_table.as_deref().unwrap_or_default()
                ),
                LockKind::S3 => "s3 lockfile".to_string(),
            };
            let tiers: Vec<&str> = a.tiers.iter().map(String::as_str).collect();
            table.row([a.name.as_str(), isolation, &state, &lock, &tiers.join(",")]);
        }
        table
    })?;
    Ok(Outcome::Clean)
}
