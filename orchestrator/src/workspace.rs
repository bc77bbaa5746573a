//! The run directory on disk:
//!
//! ```text
//! .saas/runs/<run-id>/
//!   report.json  junit.xml  init.log
//!   stack/            copy of the stack (terraform writes .terraform.lock.hcl here, never in the original)
//!   .init/            data dir of the one provider/module install per run
//!   .plugin-cache/    TF_PLUGIN_CACHE_DIR shared by every tenant
//!   <tenant>/
//!     .terraform/     TF_DATA_DIR
//!     tenant.tfvars.json  terraform.log  plan.tfplan  plan.json  tfplan.report.json
//! ```

use std::path::{Path, PathBuf};

use saas_registry::{BackendSettings, Tenant};
use serde_json::{Map, Value};

use crate::aws;

pub const LOG_FILE: &str = "terraform.log";
pub const VAR_FILE: &str = "tenant.tfvars.json";
pub const DATA_DIR: &str = ".terraform";
pub const PLAN_FILE: &str = "plan.tfplan";
pub const PLAN_JSON: &str = "plan.json";
pub const GITLAB_REPORT: &str = "tfplan.report.json";
pub const STACK_COPY: &str = "stack";
pub const INIT_DATA_DIR: &str = ".init";
pub const INIT_LOG: &str = "init.log";
pub const PLUGIN_CACHE: &str = ".plugin-cache";

/// The directories of one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunWorkspace {
    pub dir: PathBuf,
}

/// The files of one tenant within a run.
#[derive(Debug, Clone)]
pub struct TenantWorkspace {
    pub dir: PathBuf,
    pub data_dir: PathBuf,
    pub var_file: PathBuf,
    pub log: PathBuf,
    pub plan: PathBuf,
    pub plan_json: PathBuf,
    pub gitlab_report: PathBuf,
}

impl RunWorkspace {
    /// `dir` must be absolute: Terraform runs with `-chdir`.
    pub fn new(dir: PathBuf) -> Self {
        RunWorkspace { dir }
    }

    pub fn stack_copy(&self) -> PathBuf {
        self.dir.join(STACK_COPY)
    }

    pub fn init_data_dir(&self) -> PathBuf {
        self.dir.join(INIT_DATA_DIR)
    }

    pub fn init_log(&self) -> PathBuf {
        self.dir.join(INIT_LOG)
    }

    /// `TF_PLUGIN_CACHE_DIR` if the user set one, else one per run (the
    /// cache is not safe for two runs installing at once).
    pub fn plugin_cache(&self) -> PathBuf {
        std::env::var_os("TF_PLUGIN_CACHE_DIR")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| self.dir.join(PLUGIN_CACHE))
    }

    /// Copies the stack's configuration into the run, leaving out Terraform's
    /// own working files, so nothing is ever written to `stack`. Module
    /// sources must be inside the stack directory or remote.
    pub fn copy_stack(&self, stack: &Path) -> std::io::Result<()> {
        let target = self.stack_copy();
        if target.exists() {
            std::fs::remove_dir_all(&target)?;
        }
        copy_tree(stack, &target)?;
        std::fs::create_dir_all(self.plugin_cache())
    }

    pub fn tenant(&self, tenant_id: &str) -> TenantWorkspace {
        let dir = self.dir.join(tenant_id);
        TenantWorkspace {
            data_dir: dir.join(DATA_DIR),
            var_file: dir.join(VAR_FILE),
            log: dir.join(LOG_FILE),
            plan: dir.join(PLAN_FILE),
            plan_json: dir.join(PLAN_JSON),
            gitlab_report: dir.join(GITLAB_REPORT),
            dir,
        }
    }
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        let name_str = name.to_string_lossy();
        if name_str == ".terraform"
            || name_str == ".git"
            || name_str.starts_with("terraform.tfstate")
        {
            continue;
        }
        let kind = entry.file_type()?;
        let path = entry.path();
        if kind.is_dir() || (kind.is_symlink() && path.is_dir()) {
            copy_tree(&path, &to.join(&name))?;
        } else {
            std::fs::copy(&path, to.join(&name))?;
        }
    }
    Ok(())
}

impl TenantWorkspace {
    /// A fresh directory for a (re-)run: earlier logs and artifacts go, the
    /// data dir stays (re-init is cheap but not free).
    pub fn prepare(&self, tenant: &Tenant) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        std::fs::create_dir_all(&self.data_dir)?;
        for file in [&self.log, &self.plan, &self.plan_json, &self.gitlab_report] {
            match std::fs::remove_file(file) {
                Err(err) if err.kind() != std::io::ErrorKind::NotFound => return Err(err),
                _ => {}
            }
        }
        std::fs::write(&self.var_file, var_file_json(tenant))
    }
}

/// The generated var file: the tenant's `variables`, then `tenant_id`,
/// `tenant_name`, `tenant_tier` (which win over variables of those names).
/// Sensitive variables never go here: see [`secret_env`].
pub fn var_file_json(tenant: &Tenant) -> String {
    let mut vars = Map::new();
    for (name, value) in &tenant.variables {
        vars.insert(name.clone(), Value::String(value.clone()));
    }
    vars.insert("tenant_id".into(), Value::String(tenant.id.clone()));
    vars.insert("tenant_name".into(), Value::String(tenant.name.clone()));
    vars.insert("tenant_tier".into(), Value::String(tenant.tier.clone()));
    serde_json::to_string_pretty(&Value::Object(vars)).unwrap_or_default()
}

/// Sensitive variables as `TF_VAR_<name>`: the child's environment only.
/// Terraform ignores `TF_VAR_` values for variables a stack does not declare.
pub fn secret_env(tenant: &Tenant) -> Vec<(String, String)> {
    tenant
        .sensitive_variables
        .iter()
        .map(|(name, value)| (format!("TF_VAR_{name}"), value.clone()))
        .collect()
}

/// `-backend-config` arguments for a tenant's derived backend. With a custom
/// S3 endpoint (moto, MinIO) the S3 backend also needs path-style
/// addressing and no AWS account/region checks; it reads the endpoints
/// themselves from `AWS_ENDPOINT_URL_S3` / `_DYNAMODB`.
pub fn backend_args(backend: &BackendSettings) -> Vec<String> {
    backend_pairs(backend)
        .into_iter()
        .map(|(k, v)| format!("-backend-config={k}={v}"))
        .collect()
}

/// The `-backend-config` settings as key/value pairs.
pub fn backend_pairs(backend: &BackendSettings) -> Vec<(&'static str, String)> {
    let mut pairs: Vec<(&'static str, String)> = backend.backend_config();
    if aws::custom_endpoint("s3").is_some() || aws::custom_endpoint("dynamodb").is_some() {
        for key in [
            "use_path_style",
            "skip_credentials_validation",
            "skip_requesting_account_id",
            "skip_metadata_api_check",
            "skip_region_validation",
        ] {
            pairs.push((key, "true".into()));
        }
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn var_file_has_the_tenant_inputs_and_no_secrets() {
        let mut t = Tenant::new("acme", "Acme Inc", "ops@acme.test", "premium");
        t.variables.insert("replicas".into(), "3".into());
        t.variables.insert("tenant_id".into(), "spoofed".into());
        t.sensitive_variables
            .insert("api_token".into(), "hunter2".into());
        let json: Value = serde_json::from_str(&var_file_json(&t)).unwrap();
        assert_eq!(json["tenant_id"], "acme");
        assert_eq!(json["tenant_name"], "Acme Inc");
        assert_eq!(json["tenant_tier"], "premium");
        assert_eq!(json["replicas"], "3");
        assert!(!var_file_json(&t).contains("hunter2"));
        assert_eq!(
            secret_env(&t),
            [("TF_VAR_api_token".to_string(), "hunter2".to_string())]
        );
    }

    #[test]
    fn the_stack_copy_leaves_out_terraform_working_files() {
        let stack = tempfile::tempdir().unwrap();
        std::fs::write(stack.path().join("main.tf"), "# main").unwrap();
        std::fs::create_dir_all(stack.path().join("modules/x")).unwrap();
        std::fs::write(stack.path().join("modules/x/x.tf"), "# x").unwrap();
        std::fs::create_dir_all(stack.path().join(".terraform/providers")).unwrap();
        std::fs::write(stack.path().join("terraform.tfstate"), "{}").unwrap();
        let run = tempfile::tempdir().unwrap();
        let ws = RunWorkspace::new(run.path().to_path_buf());
        ws.copy_stack(stack.path()).unwrap();
        let copy = ws.stack_copy();
        assert!(copy.join("main.tf").is_file());
        assert!(copy.join("modules/x/x.tf").is_file());
        assert!(!copy.join(".terraform").exists());
        assert!(!copy.join("terraform.tfstate").exists());
    }
}
