//! The run directory on disk:
//!
//! ```text
//! .saas/runs/<run-id>/
//!   report.json  junit.xml  init.log
//!   src/              the repository root mirrored with symlinks (see `mirror`)
//!   stack ->          src/<the stack's path in the repository>: Terraform's config dir
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
use crate::mirror::{self, MirrorError};

pub use crate::runs::LOG_FILE;
pub const VAR_FILE: &str = "tenant.tfvars.json";
pub const DATA_DIR: &str = ".terraform";
pub const PLAN_FILE: &str = "plan.tfplan";
pub const PLAN_JSON: &str = "plan.json";
pub const GITLAB_REPORT: &str = "tfplan.report.json";
pub const CONFIG_DIR: &str = "stack";
pub const SOURCE_MIRROR: &str = "src";
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

    /// Terraform's config dir: the stack within the run's source mirror.
    pub fn config_dir(&self) -> PathBuf {
        self.dir.join(CONFIG_DIR)
    }

    pub fn init_data_dir(&self) -> PathBuf {
        self.dir.join(INIT_DATA_DIR)
    }

    pub fn init_log(&self) -> PathBuf {
        self.dir.join(INIT_LOG)
    }

    /// The run's own plugin cache, used unless the user set
    /// `TF_PLUGIN_CACHE_DIR` (a shared cache is not safe for two runs
    /// installing at once, so saasctl does not make one up).
    pub fn plugin_cache(&self) -> PathBuf {
        self.dir.join(PLUGIN_CACHE)
    }

    /// Mirrors `root` into the run down to the stack at `rel` below it
    /// (see `mirror`), so nothing is ever written to the repository, and
    /// points [`Self::config_dir`] at it.
    pub fn mirror_stack(&self, root: &Path, rel: &Path) -> Result<(), MirrorError> {
        let stack = mirror::mirror(root, rel, &self.dir.join(SOURCE_MIRROR))?;
        let link = self.config_dir();
        let io = |source| MirrorError::Io {
            path: link.display().to_string(),
            source,
        };
        match std::fs::remove_file(&link) {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => return Err(io(err)),
            _ => {}
        }
        let target = stack.strip_prefix(&self.dir).unwrap_or(&stack);
        std::os::unix::fs::symlink(target, &link).map_err(io)
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
        vars.insert(name.clone(), value.clone());
    }
    vars.insert("tenant_id".into(), Value::String(tenant.id.clone()));
    vars.insert("tenant_name".into(), Value::String(tenant.name.clone()));
    vars.insert("tenant_tier".into(), Value::String(tenant.tier.clone()));
    serde_json::to_string_pretty(&Value::Object(vars)).unwrap_or_default()
}

/// Sensitive variables as `TF_VAR_<name>`: the child's environment only.
/// Terraform ignores `TF_VAR_` values for variables a stack does not declare.
/// A string goes as it is; any other value as its JSON text, which Terraform
/// parses as an HCL expression for a variable of a non-string type.
pub fn secret_env(tenant: &Tenant) -> Vec<(String, String)> {
    tenant
        .sensitive_variables
        .iter()
        .map(|(name, value)| {
            let text = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (format!("TF_VAR_{name}"), text)
        })
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
        t.variables.insert("replicas".into(), 3.into());
        t.variables.insert("zip".into(), "01234".into());
        t.variables
            .insert("cidrs".into(), serde_json::json!(["10.1.0.0/16"]));
        t.variables.insert("tenant_id".into(), "spoofed".into());
        t.sensitive_variables
            .insert("api_token".into(), "hunter2".into());
        t.sensitive_variables
            .insert("db".into(), serde_json::json!({"user": "u", "port": 5432}));
        let json: Value = serde_json::from_str(&var_file_json(&t)).unwrap();
        assert_eq!(json["tenant_id"], "acme");
        assert_eq!(json["tenant_name"], "Acme Inc");
        assert_eq!(json["tenant_tier"], "premium");
        // Typed inputs stay typed; a string that looks like a number stays a string.
        assert_eq!(json["replicas"], 3);
        assert_eq!(json["zip"], "01234");
        assert_eq!(json["cidrs"], serde_json::json!(["10.1.0.0/16"]));
        assert!(!var_file_json(&t).contains("hunter2"));
        assert_eq!(
            secret_env(&t),
            [
                ("TF_VAR_api_token".to_string(), "hunter2".to_string()),
                (
                    "TF_VAR_db".to_string(),
                    r#"{"port":5432,"user":"u"}"#.to_string()
                )
            ]
        );
    }

    #[test]
    fn the_config_dir_is_the_stack_in_the_mirror() {
        let repo = tempfile::tempdir().unwrap();
        let repo = repo.path().canonicalize().unwrap();
        std::fs::create_dir_all(repo.join("stacks/web")).unwrap();
        std::fs::write(repo.join("stacks/web/main.tf"), "# main").unwrap();
        let run = tempfile::tempdir().unwrap();
        let ws = RunWorkspace::new(run.path().to_path_buf());
        ws.mirror_stack(&repo, Path::new("stacks/web")).unwrap();
        // Twice: a resumed run mirrors again.
        ws.mirror_stack(&repo, Path::new("stacks/web")).unwrap();
        let main = std::fs::read_to_string(ws.config_dir().join("main.tf")).unwrap();
        assert_eq!(main, "# main");
    }
}
