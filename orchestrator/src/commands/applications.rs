//! `saasctl applications`: list applications.

use saas_registry::{Application, Isolation, LockKind};

use crate::cli::{GlobalArgs, ListApplicationsArgs};
use crate::discovery::{open_registry, parse_labels};
use crate::exit::Outcome;
use crate::render::{self, table::Table};

pub async fn run(global: &GlobalArgs, args: ListApplicationsArgs) -> anyhow::Result<Outcome> {
    let labels = parse_labels(&args.labels)?;
    let registry = open_registry(global).await?;
    let apps: Vec<Application> = registry
        .list_applications()
        .await?
        .into_iter()
        .filter(|a| labels.iter().all(|(k, v)| a.labels.get(k) == Some(v)))
        .collect();
    render::listing(args.output.output, &apps, |apps| {
        let mut table = Table::new(["NAME", "ISOLATION", "STATE", "LOCK", "TIERS"]);
        for a in apps {
            let (isolation, state) = match a.state.isolation {
                Isolation::Prefix => ("prefix", a.state.bucket.clone().unwrap_or_default()),
                Isolation::Bucket => (
                    "bucket",
                    format!(
                        "{}-<tenant>",
                        a.state.bucket_prefix.as_deref().unwrap_or_default()
                    ),
                ),
            };
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
