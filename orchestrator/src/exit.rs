//! Exit codes. Fan-outs follow `terraform -detailed-exitcode`: 0 no changes,
//! 1 a tenant failed, 2 changes present. Errors before any tenant runs get a
//! distinct code each (sysexits-style), so CI can tell them apart.

use std::process::ExitCode;

use saas_registry::RegistryError;

/// What a successful command reports through its exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing to change (or a listing/command that succeeded).
    Clean = 0,
    /// At least one tenant failed.
    TenantFailed = 1,
    /// Changes are present (plan, drift) or drift found (`--check`).
    Changes = 2,
}

/// Errors that carry their own exit code. Registry errors are classified by
/// variant; anything else is a generic failure (1).
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A command line that cannot work (64).
    #[error("{0}")]
    Usage(String),
    /// A value that breaks the registry's rules (65).
    #[error("{0}")]
    Invalid(String),
    /// A file, directory, run, application or tenant that is not there (66).
    #[error("{0}")]
    NotFound(String),
    #[error("terraform not found: {0}")]
    TerraformMissing(String),
    #[error("{0}")]
    Unavailable(String),
}

pub const USAGE: u8 = 64;
pub const INVALID_INPUT: u8 = 65;
pub const NOT_FOUND: u8 = 66;
pub const UNAVAILABLE: u8 = 69;
pub const CONFLICT: u8 = 75;
pub const TERRAFORM_MISSING: u8 = 127;

pub fn code_for(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<CliError>() {
            return match e {
                CliError::Usage(_) => USAGE,
                CliError::Invalid(_) => INVALID_INPUT,
                CliError::NotFound(_) => NOT_FOUND,
                CliError::TerraformMissing(_) => TERRAFORM_MISSING,
                CliError::Unavailable(_) => UNAVAILABLE,
            };
        }
        if let Some(e) = cause.downcast_ref::<RegistryError>() {
            return match e {
                RegistryError::Invalid { .. } | RegistryError::BadUrl { .. } => INVALID_INPUT,
                RegistryError::NotFound { .. } => NOT_FOUND,
                RegistryError::Conflict { .. }
                | RegistryError::AlreadyExists { .. }
                | RegistryError::InUse { .. } => CONFLICT,
                RegistryError::Unavailable(_) => UNAVAILABLE,
                RegistryError::Backend(_) => 1,
            };
        }
    }
    1
}

/// One line: the error and its causes joined, never a backtrace.
pub fn one_line(err: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in err.chain() {
        let text = cause.to_string().replace('\n', " ");
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    parts.join(": ")
}

/// Whether the error is stdout closed under us (`saasctl … | head -1`).
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

pub fn from_result(result: anyhow::Result<Outcome>) -> ExitCode {
    match result {
        Ok(outcome) => ExitCode::from(outcome as u8),
        // The reader has what it wanted; as ripgrep does, stop quietly.
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "error: {}", one_line(&err));
            ExitCode::from(code_for(&err))
        }
    }
}

/// Clap's own usage errors exit 2, which would read as "changes present".
pub fn clap_error(err: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    let _ = err.print();
    match err.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => ExitCode::SUCCESS,
        _ => ExitCode::from(USAGE),
    }
}
