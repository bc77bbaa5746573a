//! `saasctl registry init`: create the registry's table or schema.

use crate::cli::{GlobalArgs, RegistryCommand};
use crate::discovery::open_registry;
use crate::exit::Outcome;

pub async fn run(global: &GlobalArgs, command: RegistryCommand) -> anyhow::Result<Outcome> {
    match command {
        RegistryCommand::Init => {
            let registry = open_registry(global).await?;
            registry.init().await?;
            eprintln!("registry ready: {}", registry.url());
            Ok(Outcome::Clean)
        }
    }
}
