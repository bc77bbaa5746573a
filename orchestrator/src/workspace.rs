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

use hcl::format::Format;
use hcl::Expression;
use saas_registry::{BackendSettings, EndpointUrls, EndpointUrlsIn, S3BackendConfig, Tenant};
use serde_json::{Map, Value};

use crate::mirror::{self, MirrorError};

pub use crate::runs::LOG_FILE;
pub const VAR_FILE: &str = "tenant.tfvars.json";
pub const DATA_DIR: &str = ".terraform";
pub const PLAN_FILE: &str = "plan.tfplan";
pub const PLAN_JSON: &str = "plan.json";
pub const GITLAB_REPORT: &str = "tfplan.report.json";
/// Run-level names start with a dot, which no tenant id can (ids are
/// slugs), so a tenant called `stack` or `src` gets a directory of its own.
pub const CONFIG_DIR: &str = ".stack";
pub const SOURCE_MIRROR: &str = ".src";
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

/// The backend config of a Terraform that saasctl runs. It inherits
/// `AWS_ENDPOINT_URL_S3` / `_DYNAMODB`, from which the S3 backend reads the
/// URLs of custom `endpoints` itself: those need only their other settings.
pub fn backend_config(backend: &BackendSettings, endpoints: &EndpointUrls) -> S3BackendConfig {
    backend.s3_config(endpoints, EndpointUrlsIn::Environment)
}

/// `-backend-config=NAME=VALUE` arguments for `config`.
pub fn backend_args(config: &S3BackendConfig) -> Vec<String> {
    backend_pairs(config)
        .into_iter()
        .map(|(name, value)| format!("-backend-config={name}={value}"))
        .collect()
}

/// `config`'s settings in its order as (name, value) for `-backend-config`:
/// a string as it is; any other value (a bool, the `endpoints` object) as
/// the HCL expression Terraform parses it as.
fn backend_pairs(config: &S3BackendConfig) -> Vec<(String, String)> {
    let settings = match hcl::to_expression(config) {
        Ok(Expression::Object(settings)) => settings,
        other => unreachable!("a struct serialises to an HCL object, not {other:?}"),
    };
    settings
        .into_iter()
        .map(|(name, value)| {
            let text = match value {
                Expression::String(text) => text,
                value => compact_hcl(&value),
            };
            (name.to_string(), text)
        })
        .collect()
}

/// `value` as HCL on one line (`{ s3 = "http://..." }`), strings escaped.
fn compact_hcl(value: &Expression) -> String {
    let mut formatter = hcl::format::Formatter::builder()
        .compact(true)
        .prefer_ident_keys(true)
        .build_vec();
    value
        .format(&mut formatter)
        .expect("formatting into memory cannot fail");
    String::from_utf8(formatter.into_inner()).expect("HCL output is UTF-8")
}

#[cfg(test)]
mod tests {
    #[test]
    fn no_tenant_id_names_a_directory_or_file_of_the_run() {
        use crate::runs::{JUNIT_FILE, REPORT_FILE, REPORT_HTML};
        for name in [
            super::CONFIG_DIR,
            super::SOURCE_MIRROR,
            super::INIT_DATA_DIR,
            super::INIT_LOG,
            super::PLUGIN_CACHE,
            REPORT_FILE,
            REPORT_HTML,
            JUNIT_FILE,
        ] {
            assert!(
                saas_registry::validate::slug("tenants", name).is_err(),
                "a tenant could be called {name:?}, a name the run itself uses"
            );
        }
    }

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

    fn backend(lock: saas_registry::LockKind) -> BackendSettings {
        let app = crate::test_fixtures::app(saas_registry::Isolation::Bucket, lock);
        saas_registry::derive_backend(&app, "t1").unwrap()
    }

    #[test]
    fn backend_args_on_aws_are_the_derived_settings_in_order() {
        let config = backend_config(
            &backend(saas_registry::LockKind::Dynamodb),
            &EndpointUrls::default(),
        );
        assert_eq!(
            backend_args(&config),
            [
                "-backend-config=bucket=acme-t1",
                "-backend-config=key=web/t1/terraform.tfstate",
                "-backend-config=region=us-east-1",
                "-backend-config=encrypt=true",
                "-backend-config=dynamodb_table=acme-locks-t1",
            ]
        );
    }

    #[test]
    fn a_custom_endpoint_adds_its_settings_but_not_its_urls() {
        let moto = EndpointUrls {
            s3: Some("http://127.0.0.1:5000".into()),
            dynamodb: None,
        };
        let config = backend_config(&backend(saas_registry::LockKind::S3), &moto);
        let args = backend_args(&config);
        assert_eq!(
            args[3..],
            [
                "-backend-config=encrypt=true",
                "-backend-config=use_lockfile=true",
                "-backend-config=use_path_style=true",
                "-backend-config=skip_credentials_validation=true",
                "-backend-config=skip_requesting_account_id=true",
                "-backend-config=skip_metadata_api_check=true",
                "-backend-config=skip_region_validation=true",
            ]
        );
    }

    #[test]
    fn an_object_value_is_one_escaped_hcl_expression() {
        let mut config = backend(saas_registry::LockKind::S3).s3_config(
            &EndpointUrls {
                s3: Some("http://h:1/${x}%{y}\"".into()),
                dynamodb: None,
            },
            EndpointUrlsIn::BackendConfig,
        );
        config.key = "a${b}".into();
        let pairs = backend_pairs(&config);
        let value = |name: &str| pairs.iter().find(|(n, _)| n == name).unwrap().1.clone();
        assert_eq!(value("endpoints"), r#"{ s3 = "http://h:1/$${x}%%{y}\"" }"#);
        // A plain string setting is taken literally, never parsed.
        assert_eq!(value("key"), "a${b}");
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
