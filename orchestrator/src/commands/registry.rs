//! `saasctl registry init`: create the registry's table or schema.

use crate::cli::RegistryCommand;
use crate::discovery::open_registry;
use crate::exit::Outcome;
use crate::render::Printer;
use crate::settings::Global;

pub async fn run(
    global: &Global,
    printer: &Printer,
    command: RegistryCommand,
) -> anyhow::Result<Outcome> {
    match command {
        RegistryCommand::Init => {
            let registry = open_registry(global).await?;
            registry.init().await?;
            printer.line(format_args!("registry ready: {}", registry.url()));
            Ok(Outcome::Clean)
        }
    }
}
