//! Running `terraform`: finding the binary, one invocation with its
//! environment and log, exit codes, and retries of transient failures.

use std::path::{Path, PathBuf};

use tokio::io::AsyncWriteExt;

use crate::exit::CliError;
use crate::locks::LockInfo;
use crate::redact::Redactor;
use crate::tf_json::{human_log, UiSummary};

/// How Terraform is run for every tenant of a fan-out.
#[derive(Debug, Clone)]
pub struct TerraformSettings {
    pub binary: PathBuf,
    /// Shared by every tenant of a run: providers are unpacked once.
    pub plugin_cache_dir: PathBuf,
    /// Handed to the `saas` provider as `SAAS_REGISTRY` (absolute).
    pub registry_url: String,
    pub retry: RetrySettings,
}

pub use crate::settings::RetrySettings;

impl TerraformSettings {
    /// Creates the plugin cache and takes its install lock, held until the
    /// file is dropped. Terraform's cache is not safe for concurrent installs
    /// (two processes filling it at once fail with "still not detected ...
    /// this is a bug in Terraform"), so saasctl processes that share one
    /// cache, like parallel CI jobs in one checkout, take turns. The lock
    /// sits beside the cache, where Terraform's directory scan never looks.
    pub async fn lock_plugin_cache(&self) -> std::io::Result<std::fs::File> {
        std::fs::create_dir_all(&self.plugin_cache_dir)?;
        let mut name = self
            .plugin_cache_dir
            .file_name()
            .unwrap_or_default()
            .to_os_string();
        name.push(".saasctl-lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.plugin_cache_dir.with_file_name(name))?;
        tokio::task::spawn_blocking(move || file.lock().map(|()| file))
            .await
            .map_err(std::io::Error::other)?
    }
}

/// `explicit` (`--terraform` / `SAAS_TERRAFORM`), else `terraform` or
/// `tofu` on PATH.
pub fn find_terraform(explicit: Option<&Path>) -> Result<PathBuf, CliError> {
    if let Some(path) = explicit {
        return if path.is_file() {
            Ok(path.to_path_buf())
        } else {
            Err(CliError::TerraformMissing(format!(
                "--terraform / SAAS_TERRAFORM {} is not a file",
                path.display()
            )))
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in ["terraform", "tofu"] {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if is_executable(&candidate) {
                return Ok(candidate);
            }
        }
    }
    Err(CliError::TerraformMissing(
        "no terraform or tofu on PATH (install one, or run scripts/setup and source .tools/env.sh)"
            .into(),
    ))
}

/// `terraform version -json`'s version, for the run's report; `None` if it
/// cannot tell (the report shows "unknown", nothing fails).
pub async fn terraform_version(binary: &Path) -> Option<String> {
    let output = tokio::process::Command::new(binary)
        .args(["version", "-json"])
        .env("CHECKPOINT_DISABLE", "1")
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .ok()?;
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).ok()?;
    json["terraform_version"].as_str().map(str::to_string)
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Where one invocation runs and what it may see.
#[derive(Debug, Clone)]
pub struct Invocation<'a> {
    /// `-chdir`: the run's copy of the stack.
    pub config_dir: &'a Path,
    /// `TF_DATA_DIR`: the tenant's own.
    pub data_dir: &'a Path,
    /// `TF_VAR_*` secrets: only ever in the child's environment.
    pub secret_env: &'a [(String, String)],
    /// Appended to (redacted) after every invocation.
    pub log: &'a Path,
    pub redactor: &'a Redactor,
    /// The tenant whose state this invocation locks: a lock of it left on
    /// this host by a terraform that has exited is released (see `locks`).
    pub tenant: &'a str,
}

/// What an invocation printed (unredacted: it stays in memory).
#[derive(Debug, Default)]
pub struct TfOutput {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    /// Parsed from stdout when the command ran with `-json`.
    pub ui: UiSummary,
}

impl TfOutput {
    /// stderr and the error diagnostics of a `-json` stream, as text to
    /// classify a failure by.
    fn failure_text(&self) -> String {
        let mut text = self.stderr.clone();
        for d in self.ui.diagnostics.iter().filter(|d| d.is_error()) {
            text.push_str(&format!("\nError: {}\n{}\n", d.summary, d.detail));
        }
        text
    }
}

/// A command that ended with an accepted exit code.
#[derive(Debug)]
pub struct Completed {
    pub out: TfOutput,
    pub attempts: u32,
    /// Orphan locks of this tenant released on the way (see `locks`).
    pub released_locks: Vec<LockInfo>,
}

/// Why a Terraform step failed, classified for retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureKind {
    LockHeld(LockInfo),
    Transient(&'static str),
    Permanent,
}

#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error("cannot run {binary}: {source}")]
    Spawn {
        binary: String,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Log {
        path: String,
        source: std::io::Error,
    },
    /// `message` is already redacted.
    #[error("terraform {command} failed (exit {code}, {attempts} attempt(s)): {message}")]
    Failed {
        command: String,
        code: i32,
        attempts: u32,
        message: String,
        lock: Option<Box<LockInfo>>,
        released_locks: Vec<LockInfo>,
    },
}

impl TerraformSettings {
    /// One run of `terraform <args>`.
    pub async fn run(
        &self,
        inv: &Invocation<'_>,
        args: &[String],
    ) -> Result<TfOutput, RunnerError> {
        let mut cmd = tokio::process::Command::new(&self.binary);
        cmd.arg(format!("-chdir={}", inv.config_dir.display()))
            .args(args)
            .env("TF_DATA_DIR", inv.data_dir)
            .env("TF_PLUGIN_CACHE_DIR", &self.plugin_cache_dir)
            .env("TF_IN_AUTOMATION", "1")
            .env("TF_INPUT", "0")
            .env("CHECKPOINT_DISABLE", "1")
            .env("SAAS_REGISTRY", &self.registry_url)
            .envs(inv.secret_env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        let output = cmd.output().await.map_err(|source| RunnerError::Spawn {
            binary: self.binary.display().to_string(),
            source,
        })?;
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let json = args.iter().any(|a| a == "-json");
        let out = TfOutput {
            code: output.status.code().unwrap_or(-1),
            ui: if json {
                UiSummary::parse(&stdout)
            } else {
                UiSummary::default()
            },
            stdout,
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        };
        append_log(inv, args, &out, json).await?;
        Ok(out)
    }

    /// Runs until the exit code is in `accept`, retrying transient failures
    /// (and a held lock) with backoff. A lock whose holder is provably gone
    /// (`LockInfo::holder_gone`) is released and the command run again at
    /// once, whatever the retry budget.
    ///
    /// `retry_transient` is false for a step that may have changed
    /// something when it failed (apply): then only a held lock, or a
    /// failure while loading the state, is retried.
    pub async fn run_retrying(
        &self,
        inv: &Invocation<'_>,
        args: &[String],
        accept: &[i32],
        retry_transient: bool,
    ) -> Result<Completed, RunnerError> {
        let mut attempts = 0u32;
        let mut released_locks = Vec::new();
        loop {
            attempts += 1;
            let out = self.run(inv, args).await?;
            if accept.contains(&out.code) {
                return Ok(Completed {
                    out,
                    attempts,
                    released_locks,
                });
            }
            let failure = out.failure_text();
            let kind = classify(&failure);
            if let FailureKind::LockHeld(lock) = &kind {
                if released_locks.len() < MAX_ORPHAN_RELEASES
                    && lock.holder_gone(inv.tenant).is_ok()
                    && self.force_unlock(inv, &lock.id).await?
                {
                    released_locks.push(lock.clone());
                    continue;
                }
            }
            let retryable = match kind {
                FailureKind::LockHeld(_) => true,
                FailureKind::Transient(_) => retry_transient || failed_before_changes(&failure),
                FailureKind::Permanent => false,
            };
            if retryable && attempts < self.retry.attempts {
                tokio::time::sleep(self.retry.delay(attempts)).await;
                continue;
            }
            return Err(RunnerError::Failed {
                command: args.first().cloned().unwrap_or_default(),
                code: out.code,
                attempts,
                message: inv.redactor.redact(&error_summary(&out)),
                lock: match kind {
                    FailureKind::LockHeld(info) => Some(Box::new(info)),
                    _ => None,
                },
                released_locks,
            });
        }
    }

    /// `terraform force-unlock -force ID` in the tenant's own data dir.
    /// Returns whether Terraform released it (it refuses an ID that is no
    /// longer the holder's, so a lock taken again meanwhile stays).
    async fn force_unlock(&self, inv: &Invocation<'_>, id: &str) -> Result<bool, RunnerError> {
        let args = ["force-unlock", "-no-color", "-force", id].map(String::from);
        Ok(self.run(inv, &args).await?.code == 0)
    }
}

/// Releases per command: a holder that keeps coming back is not an orphan.
const MAX_ORPHAN_RELEASES: usize = 2;

/// The log shows what a person would have seen: for `-json` runs, the
/// messages' text rather than the JSON.
async fn append_log(
    inv: &Invocation<'_>,
    args: &[String],
    out: &TfOutput,
    json: bool,
) -> Result<(), RunnerError> {
    let stdout = if json {
        human_log(&out.stdout)
    } else {
        out.stdout.clone()
    };
    let text = format!(
        "$ terraform {}\n{stdout}{}[exit {}]\n\n",
        args.join(" "),
        out.stderr,
        out.code
    );
    let log_err = |source| RunnerError::Log {
        path: inv.log.display().to_string(),
        source,
    };
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(inv.log)
        .await
        .map_err(log_err)?;
    file.write_all(inv.redactor.redact(&text).as_bytes())
        .await
        .map_err(log_err)
}

/// Strips Terraform's diagnostic box drawing (`│ `, `╷`, `╵`).
fn plain_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(|l| l.trim_start_matches(['│', '╷', '╵']).trim())
}

/// Transient errors worth retrying, by the text Terraform and the AWS SDK print.
const TRANSIENT: [(&str, &str); 9] = [
    ("throttl", "throttling"),
    ("slowdown", "throttling"),
    ("requestlimitexceeded", "throttling"),
    ("connection reset", "connection reset"),
    ("connection refused", "connection refused"),
    ("i/o timeout", "timeout"),
    ("tls handshake timeout", "timeout"),
    ("serviceunavailable", "service unavailable"),
    ("internalerror", "internal error"),
];

pub fn classify(stderr: &str) -> FailureKind {
    if stderr.contains("Error acquiring the state lock") {
        return FailureKind::LockHeld(parse_lock_info(stderr));
    }
    let lower = stderr.to_ascii_lowercase();
    TRANSIENT
        .iter()
        .find(|(needle, _)| lower.contains(needle))
        .map_or(FailureKind::Permanent, |(_, kind)| {
            FailureKind::Transient(kind)
        })
}

/// Whether Terraform failed while reading the state, before it could change
/// anything: then even an apply may be retried after a transient error.
pub fn failed_before_changes(stderr: &str) -> bool {
    stderr.contains("error loading state") || stderr.contains("Failed to load state")
}

/// The `Lock Info:` block Terraform prints when a lock is held.
pub fn parse_lock_info(stderr: &str) -> LockInfo {
    let mut info = LockInfo::default();
    let mut in_block = false;
    for line in plain_lines(stderr) {
        if line.starts_with("Lock Info:") {
            in_block = true;
            continue;
        }
        if !in_block {
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            if line.is_empty() {
                continue;
            }
            break;
        };
        let value = value.trim().to_string();
        match key.trim() {
            "ID" => info.id = value,
            "Path" => info.path = value,
            "Operation" => info.operation = value,
            "Who" => info.who = value,
            "Version" => info.version = value,
            "Created" => info.created = value,
            "Info" => info.info = value,
            _ => break,
        }
    }
    info
}

/// Terraform's first error diagnostic (summary and detail): from the
/// `-json` stream when there is one, else scraped from the human output
/// (`Error: summary` and its first detail paragraph), else the last line.
pub fn error_summary(out: &TfOutput) -> String {
    if let Some(diagnostic) = out.ui.first_error() {
        return diagnostic.one_line();
    }
    let lines: Vec<&str> = plain_lines(&out.stderr)
        .chain(plain_lines(&out.stdout))
        .collect();
    if let Some(pos) = lines.iter().position(|l| l.starts_with("Error: ")) {
        let summary = lines[pos].trim_start_matches("Error: ");
        // Paragraphs after the summary; the source snippet starts with "on FILE line N".
        let detail = lines[pos + 1..]
            .split(|l| l.is_empty())
            .find(|p| p.first().is_some_and(|l| !l.starts_with("on ")))
            .map(|p| p.join(" "));
        return match detail {
            Some(detail) => format!("{summary}: {detail}"),
            None => summary.to_string(),
        };
    }
    lines
        .iter()
        .rev()
        .find(|l| !l.is_empty())
        .map_or_else(|| "no output".to_string(), |l| l.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_second_holder_of_the_plugin_cache_waits_for_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let settings = TerraformSettings {
            binary: "terraform".into(),
            plugin_cache_dir: dir.path().join("cache"),
            registry_url: String::new(),
            retry: RetrySettings::ONCE,
        };
        let first = settings.lock_plugin_cache().await.unwrap();
        assert!(dir.path().join("cache").is_dir());
        let second = tokio::spawn({
            let settings = settings.clone();
            async move { settings.lock_plugin_cache().await.map(|_| ()) }
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!second.is_finished(), "the lock was taken twice at once");
        drop(first);
        tokio::time::timeout(Duration::from_secs(5), second)
            .await
            .expect("released lock was never taken")
            .unwrap()
            .unwrap();
        assert_eq!(
            std::fs::read_dir(dir.path().join("cache")).unwrap().count(),
            0,
            "nothing of saasctl's inside the cache"
        );
    }

    const LOCKED: &str = "\
╷
│ Error: Error acquiring the state lock
│ 
│ Error message: operation error DynamoDB: PutItem, https response error
│ StatusCode: 400, ConditionalCheckFailedException: The conditional request
│ failed
│ Lock Info:
│   ID:        3c1b2a9e-0f1e-7c52-8d0e-5a4b1f2c3d4e
│   Path:      acme-tfstate/web/t1/terraform.tfstate
│   Operation: OperationTypePlan
│   Who:       ci@runner-7
│   Version:   1.11.4
│   Created:   2026-11-21 23:40:01.123 +0000 UTC
│   Info:      pid=4242
│ 
│ Terraform acquires a state lock to protect the state from being written
╵
";

    #[test]
    fn a_held_lock_is_parsed_with_its_holder() {
        let FailureKind::LockHeld(info) = classify(LOCKED) else {
            panic!("not classified as a held lock")
        };
        assert_eq!(info.id, "3c1b2a9e-0f1e-7c52-8d0e-5a4b1f2c3d4e");
        assert_eq!(info.path, "acme-tfstate/web/t1/terraform.tfstate");
        assert_eq!(info.who, "ci@runner-7");
        assert_eq!(info.created, "2026-11-21 23:40:01.123 +0000 UTC");
        assert_eq!(info.info, "pid=4242");
    }

    #[test]
    fn transient_and_permanent_errors() {
        assert_eq!(
            classify("Error: ... read tcp 127.0.0.1: connection reset by peer"),
            FailureKind::Transient("connection reset")
        );
        assert_eq!(
            classify("api error ThrottlingException: Rate exceeded"),
            FailureKind::Transient("throttling")
        );
        assert_eq!(classify("Error: Invalid reference"), FailureKind::Permanent);
    }

    #[test]
    fn only_state_loading_failures_happen_before_changes() {
        let refused = "Error: error loading state: Unable to list objects in S3 bucket \"b\": \
                       dial tcp 127.0.0.1:4566: connect: connection refused";
        assert!(failed_before_changes(refused));
        assert_eq!(
            classify(refused),
            FailureKind::Transient("connection refused")
        );
        let mid_apply = "Error: Failed to persist state to backend: connection refused";
        assert!(!failed_before_changes(mid_apply));
    }

    #[test]
    fn summaries_name_the_first_diagnostic() {
        let out = TfOutput {
            code: 1,
            stdout: String::new(),
            stderr: "╷\n│ Error: Saved plan is stale\n│ \n│ The given plan file can no longer be applied because the state was changed\n╵\n".into(),
            ui: UiSummary::default(),
        };
        assert_eq!(
            error_summary(&out),
            "Saved plan is stale: The given plan file can no longer be applied because the state was changed"
        );
    }

    #[test]
    fn backoff_grows() {
        let base = Duration::from_millis(100);
        let retry = RetrySettings {
            attempts: 4,
            base_delay: base,
        };
        assert!(retry.delay(1) >= base && retry.delay(1) < base * 2);
        assert!(retry.delay(3) >= base * 4);
    }
}
