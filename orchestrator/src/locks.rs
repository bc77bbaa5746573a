//! State locks: who holds one (as Terraform reports it), and whether that
//! holder is provably gone, so its lock may be released without asking.
//!
//! The liveness rule is shared by `saasctl unlock` and the fan-out's retry
//! path: a lock is stale only if it was taken on this host and no live
//! process here still works on the tenant (a terraform whose `TF_DATA_DIR`
//! is that tenant's), or the pid it names is dead. A holder on another host
//! is never judged gone: nothing here can see it.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// The holder of a state lock, as Terraform prints it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    pub id: String,
    pub path: String,
    pub operation: String,
    pub who: String,
    pub version: String,
    pub created: String,
    pub info: String,
}

/// Why a lock's holder may still be alive.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HolderAlive {
    #[error("it was taken on host {0:?}, not this one")]
    OtherHost(String),
    #[error("process {0} is still running")]
    PidRunning(String),
    #[error("terraform process {0} on this host still works on this tenant")]
    TenantBusy(String),
}

/// The directory name every tenant's `TF_DATA_DIR` ends with.
pub const TENANT_DATA_DIR: &str = ".terraform";

impl LockInfo {
    /// The host part of `who` (`user@host`).
    pub fn host(&self) -> &str {
        self.who.rsplit_once('@').map_or("", |(_, h)| h)
    }

    /// Errors unless the holder is provably gone from this host.
    pub fn holder_gone(&self, tenant: &str) -> Result<(), HolderAlive> {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        if self.host().is_empty() || self.host() != host.trim() {
            return Err(HolderAlive::OtherHost(self.host().to_string()));
        }
        if let Some(pid) = self
            .info
            .split_whitespace()
            .find_map(|w| w.strip_prefix("pid="))
        {
            return if Path::new("/proc").join(pid).exists() {
                Err(HolderAlive::PidRunning(pid.to_string()))
            } else {
                Ok(())
            };
        }
        match process_working_on(tenant) {
            Some(pid) => Err(HolderAlive::TenantBusy(pid)),
            None => Ok(()),
        }
    }
}

/// A live process whose `TF_DATA_DIR` is a tenant data dir of `tenant`
/// (`.../<tenant>/.terraform`, a saasctl-run terraform), if any.
fn process_working_on(tenant: &str) -> Option<String> {
    let suffix = format!("/{tenant}/{TENANT_DATA_DIR}");
    let entries = std::fs::read_dir("/proc").ok()?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        let works_here = environ.split(|b| *b == 0).any(|var| {
            var.strip_prefix(b"TF_DATA_DIR=")
                .is_some_and(|dir| dir.ends_with(suffix.as_bytes()))
        });
        if works_here {
            return Some(name);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn this_host() -> String {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .unwrap()
            .trim()
            .to_string()
    }

    #[test]
    fn a_holder_on_another_host_is_never_gone() {
        let lock = LockInfo {
            who: "ci@some-other-runner".into(),
            ..LockInfo::default()
        };
        assert_eq!(
            lock.holder_gone("acme"),
            Err(HolderAlive::OtherHost("some-other-runner".into()))
        );
        let nobody = LockInfo::default();
        assert!(nobody.holder_gone("acme").is_err());
    }

    #[test]
    fn a_live_pid_keeps_its_lock() {
        let lock = LockInfo {
            who: format!("me@{}", this_host()),
            info: format!("pid={}", std::process::id()),
            ..LockInfo::default()
        };
        assert!(matches!(
            lock.holder_gone("acme"),
            Err(HolderAlive::PidRunning(_))
        ));
    }

    #[test]
    fn a_live_terraform_on_the_tenant_keeps_its_lock() {
        let tenant = format!("locks-unit-{}", std::process::id());
        let lock = LockInfo {
            who: format!("me@{}", this_host()),
            ..LockInfo::default()
        };
        assert_eq!(lock.holder_gone(&tenant), Ok(()));
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .env(
                "TF_DATA_DIR",
                format!("/tmp/run/{tenant}/{TENANT_DATA_DIR}"),
            )
            .spawn()
            .unwrap();
        // Until the child has exec'd, /proc shows the parent's environment.
        let environ = format!("/proc/{}/environ", child.id());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !std::fs::read(&environ)
            .is_ok_and(|env| env.windows(12).any(|w| w == b"TF_DATA_DIR="))
        {
            assert!(std::time::Instant::now() < deadline, "sleep never started");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let busy = lock.holder_gone(&tenant);
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(busy, Err(HolderAlive::TenantBusy(child.id().to_string())));
    }
}
