//! Fingerprints for `--changed`: one SHA-256 per tenant over everything that
//! decides its plan, and the record of the last applied one, kept next to
//! the tenant's own state (same bucket, `<state key>.saasctl.json`), so CI
//! jobs with no local history see it and isolation holds.
//!
//! What goes in: the content of the stack and of every module it uses, as
//! Terraform's own init resolved them (`modules/modules.json`: local paths
//! and downloaded remote modules with their versions), the lock file, the
//! Terraform version, and the tenant's inputs (its var file, sensitive
//! values, backend). What it cannot see: changes made outside Terraform and
//! data sources that read the outside world; `drift` never skips.
//!
//! Sensitive values enter the digest, never the record in clear: the record
//! holds only the final digest, beside a state file that the same readers
//! can already read.

use std::path::{Path, PathBuf};

use saas_registry::{BackendSettings, Tenant};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The part of every tenant's fingerprint that the run shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackFingerprint(String);

#[derive(Debug, Deserialize)]
struct ModulesManifest {
    #[serde(rename = "Modules", default)]
    modules: Vec<ModuleEntry>,
}

#[derive(Debug, Deserialize)]
struct ModuleEntry {
    #[serde(rename = "Key", default)]
    key: String,
    #[serde(rename = "Source", default)]
    source: String,
    #[serde(rename = "Version", default)]
    version: String,
    #[serde(rename = "Dir")]
    dir: String,
}

/// Hashes the stack at `config_dir` and the modules Terraform installed for
/// it into `init_data_dir` (the run's one `terraform init`).
pub fn stack_fingerprint(
    config_dir: &Path,
    init_data_dir: &Path,
    terraform_version: &str,
) -> std::io::Result<StackFingerprint> {
    let mut hasher = Sha256::new();
    field(&mut hasher, "terraform", terraform_version.as_bytes());
    let manifest = init_data_dir.join("modules").join("modules.json");
    let mut modules = match std::fs::read(&manifest) {
        Ok(bytes) => {
            serde_json::from_slice::<ModulesManifest>(&bytes)
                .map_err(|e| std::io::Error::other(format!("{}: {e}", manifest.display())))?
                .modules
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(err) => return Err(err),
    };
    if !modules.iter().any(|m| m.key.is_empty()) {
        modules.push(ModuleEntry {
            key: String::new(),
            source: String::new(),
            version: String::new(),
            dir: ".".into(),
        });
    }
    modules.sort_by(|a, b| a.key.cmp(&b.key));
    for module in &modules {
        field(&mut hasher, "module", module.key.as_bytes());
        field(&mut hasher, "source", module.source.as_bytes());
        field(&mut hasher, "version", module.version.as_bytes());
        hash_tree(&mut hasher, &config_dir.join(&module.dir))?;
    }
    Ok(StackFingerprint(hex(hasher)))
}

/// One tenant's fingerprint: the stack's, then its inputs.
pub fn tenant_fingerprint(
    stack: &StackFingerprint,
    var_file: &str,
    tenant: &Tenant,
    backend: &BackendSettings,
) -> String {
    let mut hasher = Sha256::new();
    field(&mut hasher, "stack", stack.0.as_bytes());
    field(&mut hasher, "inputs", var_file.as_bytes());
    let secrets = serde_json::to_vec(&tenant.sensitive_variables).unwrap_or_default();
    field(&mut hasher, "sensitive", &secrets);
    let backend = serde_json::to_vec(backend).unwrap_or_default();
    field(&mut hasher, "backend", &backend);
    hex(hasher)
}

/// Length-prefixed, so no two different inputs hash the same bytes.
fn field(hasher: &mut Sha256, name: &str, value: &[u8]) {
    hasher.update((name.len() as u64).to_le_bytes());
    hasher.update(name.as_bytes());
    hasher.update((value.len() as u64).to_le_bytes());
    hasher.update(value);
}

fn hex(hasher: Sha256) -> String {
    format!("{:x}", hasher.finalize())
}

/// Every file below `dir` (following the mirror's symlinks), by relative
/// path in sorted order; Terraform's data dirs and VCS dirs are not content.
fn hash_tree(hasher: &mut Sha256, dir: &Path) -> std::io::Result<()> {
    let mut files = Vec::new();
    collect_files(dir, dir, &mut files)?;
    files.sort();
    for rel in files {
        field(hasher, "file", rel.to_string_lossy().as_bytes());
        field(hasher, "content", &std::fs::read(dir.join(&rel))?);
    }
    Ok(())
}

fn collect_files(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().unwrap_or_default();
        if name == ".terraform" || name == ".git" {
            continue;
        }
        let meta = std::fs::metadata(&path)?;
        if meta.is_dir() {
            collect_files(root, &path, out)?;
        } else if meta.is_file() {
            out.push(path.strip_prefix(root).unwrap_or(&path).to_path_buf());
        }
    }
    Ok(())
}

/// What saasctl records after a successful apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedRecord {
    pub fingerprint: String,
    pub run_id: String,
    pub applied_at: String,
}

/// The record's object key: beside the state, in the tenant's own prefix.
pub fn record_key(backend: &BackendSettings) -> String {
    format!("{}.saasctl.json", backend.key)
}

#[derive(Debug, thiserror::Error)]
#[error("{action} s3://{bucket}/{key}: {message}")]
pub struct RecordError {
    action: &'static str,
    bucket: String,
    key: String,
    message: String,
}

/// Reads, writes and removes tenants' applied records in S3.
#[derive(Debug, Clone)]
pub struct RecordStore {
    s3: aws_sdk_s3::Client,
}

impl RecordStore {
    pub fn new(s3: aws_sdk_s3::Client) -> Self {
        RecordStore { s3 }
    }

    /// The record, or `None` when there is none or it cannot be read as
    /// one (such a tenant is planned, never skipped).
    pub async fn read(
        &self,
        backend: &BackendSettings,
    ) -> Result<Option<AppliedRecord>, RecordError> {
        let key = record_key(backend);
        let got = self
            .s3
            .get_object()
            .bucket(&backend.bucket)
            .key(&key)
            .send()
            .await;
        let body = match got {
            Ok(out) => out
                .body
                .collect()
                .await
                .map_err(|e| self.error("reading", backend, e))?,
            Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_key()) => {
                return Ok(None)
            }
            Err(err) => {
                return Err(self.error(
                    "reading",
                    backend,
                    aws_sdk_s3::error::DisplayErrorContext(err),
                ))
            }
        };
        Ok(serde_json::from_slice(&body.into_bytes()).ok())
    }

    pub async fn write(
        &self,
        backend: &BackendSettings,
        record: &AppliedRecord,
    ) -> Result<(), RecordError> {
        let body = serde_json::to_vec_pretty(record).unwrap_or_default();
        self.s3
            .put_object()
            .bucket(&backend.bucket)
            .key(record_key(backend))
            .content_type("application/json")
            .body(body.into())
            .send()
            .await
            .map_err(|e| {
                self.error(
                    "writing",
                    backend,
                    aws_sdk_s3::error::DisplayErrorContext(e),
                )
            })?;
        Ok(())
    }

    /// Before an apply or destroy: a run that fails half-way must not leave
    /// a record saying the tenant is as some earlier inputs left it.
    pub async fn remove(&self, backend: &BackendSettings) -> Result<(), RecordError> {
        self.s3
            .delete_object()
            .bucket(&backend.bucket)
            .key(record_key(backend))
            .send()
            .await
            .map_err(|e| {
                self.error(
                    "removing",
                    backend,
                    aws_sdk_s3::error::DisplayErrorContext(e),
                )
            })?;
        Ok(())
    }

    fn error(
        &self,
        action: &'static str,
        backend: &BackendSettings,
        err: impl std::fmt::Display,
    ) -> RecordError {
        RecordError {
            action,
            bucket: backend.bucket.clone(),
            key: record_key(backend),
            message: err.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        dir
    }

    fn of(dir: &Path, version: &str) -> StackFingerprint {
        stack_fingerprint(dir, &dir.join(".init"), version).unwrap()
    }

    #[test]
    fn the_stack_fingerprint_follows_content_modules_and_version() {
        let repo = stack(&[
            ("stack/main.tf", "module \"m\" { source = \"../mod\" }"),
            ("stack/.terraform.lock.hcl", "# lock"),
            ("stack/.terraform/ignored", "data"),
            ("mod/main.tf", "# v1"),
            (
                "stack/.init/modules/modules.json",
                r#"{"Modules":[{"Key":"","Source":"","Dir":"."},{"Key":"m","Source":"../mod","Dir":"../mod"}]}"#,
            ),
        ]);
        let dir = repo.path().join("stack");
        let base = of(&dir, "1.11.4");
        assert_eq!(of(&dir, "1.11.4"), base, "stable");
        assert_ne!(of(&dir, "1.11.5"), base, "terraform version");
        std::fs::write(dir.join(".terraform/ignored"), "other").unwrap();
        assert_eq!(of(&dir, "1.11.4"), base, "data dirs are not content");
        std::fs::write(repo.path().join("mod/main.tf"), "# v2").unwrap();
        let module_edit = of(&dir, "1.11.4");
        assert_ne!(module_edit, base, "a module file");
        std::fs::write(dir.join(".terraform.lock.hcl"), "# lock 2").unwrap();
        assert_ne!(of(&dir, "1.11.4"), module_edit, "the lock file");
    }

    #[test]
    fn tenant_fingerprints_follow_each_input() {
        let repo = stack(&[("main.tf", "# stack")]);
        let stack = of(repo.path(), "1.11.4");
        let backend = BackendSettings {
            bucket: "b".into(),
            key: "web/acme/terraform.tfstate".into(),
            region: "us-east-1".into(),
            lock_table: Some("locks".into()),
            use_lockfile: false,
        };
        let tenant = Tenant::new("acme", "Acme", "ops@acme.test", "basic");
        let base = tenant_fingerprint(&stack, "{}", &tenant, &backend);
        assert_eq!(base.len(), 64);
        assert_ne!(
            tenant_fingerprint(&stack, "{\"x\":1}", &tenant, &backend),
            base
        );
        let mut secret = tenant.clone();
        secret
            .sensitive_variables
            .insert("token".into(), "hunter2".into());
        let with_secret = tenant_fingerprint(&stack, "{}", &secret, &backend);
        assert_ne!(with_secret, base);
        assert!(!with_secret.contains("hunter2"));
        let moved = BackendSettings {
            key: "web/acme2/terraform.tfstate".into(),
            ..backend.clone()
        };
        assert_ne!(tenant_fingerprint(&stack, "{}", &tenant, &moved), base);
        assert_eq!(
            record_key(&backend),
            "web/acme/terraform.tfstate.saasctl.json"
        );
    }
}
