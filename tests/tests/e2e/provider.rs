//! The `saas` Terraform provider under the real terraform, with the built
//! provider from the filesystem mirror and real registries (SQLite files,
//! DynamoDB on moto).

mod bad_input;
mod examples;
mod lifecycle;
mod one_shot;
mod race;
mod typed_variables;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use saas_e2e::{run, run_code, run_ok, terraform};
use saas_registry::{Application, Registry, Tenant, TenantFilter};

/// The `terraform` block every test configuration starts with.
const PROVIDERS: &str = r#"
terraform {
  required_providers {
    saas = { source = "saasctl/saas" }
  }
}
"#;

/// A Terraform working directory whose provider uses one registry (through
/// `SAAS_REGISTRY`).
pub struct Workspace {
    dir: tempfile::TempDir,
    registry: String,
}

impl Workspace {
    pub fn new(registry: &str) -> Self {
        Workspace {
            dir: tempfile::tempdir().unwrap(),
            registry: registry.to_string(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Replaces the configuration with `config` (plus the providers block).
    pub fn write(&self, config: &str) {
        std::fs::write(
            self.path().join("main.tf"),
            format!("{PROVIDERS}\n{config}"),
        )
        .unwrap();
    }

    pub fn terraform(&self, args: &[&str]) -> Command {
        let mut cmd = terraform(self.path());
        cmd.env("SAAS_REGISTRY", &self.registry)
            .env("NO_COLOR", "1")
            .args(args)
            .arg("-no-color");
        cmd
    }

    pub fn init(&self) {
        run_ok(&mut self.terraform(&["init", "-input=false"]));
    }

    pub fn apply(&self) -> Output {
        run_ok(&mut self.terraform(&["apply", "-auto-approve", "-input=false"]))
    }

    /// `plan -detailed-exitcode`, expecting `code` (0 no changes, 2 changes).
    pub fn plan(&self, code: i32) -> Output {
        run_code(
            &mut self.terraform(&["plan", "-detailed-exitcode", "-input=false"]),
            code,
        )
    }

    /// A plan that must fail; returns its stderr.
    pub fn failing_plan(&self) -> String {
        let output = run(&mut self.terraform(&["plan", "-input=false"]));
        assert_eq!(
            output.status.code(),
            Some(1),
            "plan should fail:\n{}",
            text(&output)
        );
        String::from_utf8_lossy(&output.stderr).into_owned()
    }

    pub fn state_file(&self) -> PathBuf {
        self.path().join("terraform.tfstate")
    }
}

/// stdout and stderr together.
pub fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

pub fn open(url: &str) -> Registry {
    block_on(async {
        let registry = Registry::open(url).await.unwrap();
        registry.init().await.unwrap();
        registry
    })
}

pub fn tenant(registry: &Registry, id: &str) -> Option<Tenant> {
    block_on(registry.get_tenant(id)).unwrap()
}

pub fn application(registry: &Registry, name: &str) -> Option<Application> {
    block_on(registry.get_application(name)).unwrap()
}

/// Every record, in a stable order, for before/after comparisons.
pub fn dump(registry: &Registry) -> String {
    block_on(async {
        let apps = registry.list_applications().await.unwrap();
        let tenants = registry
            .list_tenants(&TenantFilter::default())
            .await
            .unwrap();
        serde_json::to_string_pretty(&(apps, tenants)).unwrap()
    })
}

/// An application with prefix isolation and DynamoDB locking.
pub fn application_config(name: &str, tiers: &[&str]) -> String {
    let tiers: Vec<String> = tiers.iter().map(|t| format!("{t:?}")).collect();
    format!(
        r#"
resource "saas_application" "{name}" {{
  name  = "{name}"
  tiers = [{tiers}]
  state {{
    region     = "us-east-1"
    bucket     = "saas-e2e-tfstate"
    lock_table = "saas-e2e-locks"
  }}
}}
"#,
        tiers = tiers.join(", ")
    )
}
