//! Init once per run, reuse for every tenant. After the run's install (a
//! real `terraform init` with its first tenant's backend), or else the
//! first tenant's own init, that data dir is the template: a tenant gets
//! a copy of the provider links (and modules) and the same backend state
//! file with only the `-backend-config` values swapped. Terraform hashes
//! the backend block of the configuration (identical for every tenant:
//! `backend "s3" {}`), not the overrides, so it accepts the copied state as
//! initialised. Anything unexpected in the template means no template, and
//! tenants fall back to a real init.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use saas_registry::S3BackendConfig;
use serde_json::Value;

const BACKEND_STATE: &str = "terraform.tfstate";

#[derive(Debug, Clone)]
struct Template {
    data_dir: PathBuf,
    backend_state: Value,
}

/// The run's template, set by the first tenant whose init succeeded.
#[derive(Debug, Default)]
pub struct InitTemplate {
    template: Mutex<Option<Template>>,
}

impl InitTemplate {
    /// Records `data_dir` (just initialised) as the template, if none yet
    /// and its backend state has the expected shape.
    pub fn offer(&self, data_dir: &Path) {
        let mut slot = self.template.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_some() {
            return;
        }
        let Ok(text) = std::fs::read_to_string(data_dir.join(BACKEND_STATE)) else {
            return;
        };
        let Ok(state) = serde_json::from_str::<Value>(&text) else {
            return;
        };
        if state["version"] == 3
            && state["backend"]["config"].is_object()
            && state["backend"]["hash"].is_number()
        {
            *slot = Some(Template {
                data_dir: data_dir.to_path_buf(),
                backend_state: state,
            });
        }
    }

    /// Initialises `data_dir` from the template with `config` as the
    /// backend settings. `Ok(false)`: no usable template; run a real init.
    pub fn apply(&self, data_dir: &Path, config: &S3BackendConfig) -> std::io::Result<bool> {
        let Some(template) = self
            .template
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
        else {
            return Ok(false);
        };
        let mut state = template.backend_state;
        if !swap_settings(&mut state["backend"]["config"], config)? {
            return Ok(false);
        }
        std::fs::create_dir_all(data_dir)?;
        for sub in ["providers", "modules"] {
            let from = template.data_dir.join(sub);
            if from.exists() {
                copy_links(&from, &data_dir.join(sub))?;
            }
        }
        let bytes = serde_json::to_vec_pretty(&state).map_err(std::io::Error::other)?;
        std::fs::write(data_dir.join(BACKEND_STATE), bytes)?;
        Ok(true)
    }
}

/// Writes `config`'s settings over the template's, each with its JSON type.
/// `false` (no shortcut) if the template lacks a setting or has it with
/// another type, and for anything but a string or a bool.
fn swap_settings(template: &mut Value, config: &S3BackendConfig) -> std::io::Result<bool> {
    let Value::Object(settings) = serde_json::to_value(config).map_err(std::io::Error::other)?
    else {
        return Ok(false);
    };
    for (name, value) in settings {
        match (template.get(&name), &value) {
            (Some(Value::Bool(_)), Value::Bool(_)) | (Some(Value::String(_)), Value::String(_)) => {
                template[&name] = value;
            }
            _ => return Ok(false),
        }
    }
    Ok(true)
}

/// Copies a tree, recreating symlinks (provider links point into the run's
/// plugin cache by absolute path) instead of following them.
fn copy_links(from: &Path, to: &Path) -> std::io::Result<()> {
    if to.exists() {
        std::fs::remove_dir_all(to)?;
    }
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(entry.path())?, &target)?;
        } else if kind.is_dir() {
            copy_links(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use saas_registry::{CustomEndpoint, EndpointUrls};

    fn initialised(dir: &Path) {
        std::fs::create_dir_all(dir.join("providers/registry.terraform.io/saasctl/saas/0.1.0"))
            .unwrap();
        std::os::unix::fs::symlink(
            "/cache/registry.terraform.io/saasctl/saas/0.1.0/linux_amd64",
            dir.join("providers/registry.terraform.io/saasctl/saas/0.1.0/linux_amd64"),
        )
        .unwrap();
        let state = serde_json::json!({
            "version": 3,
            "terraform_version": "1.11.4",
            "backend": {"type": "s3", "hash": 1410938009u64, "config": {
                "bucket": "b", "key": "web/t1/terraform.tfstate", "region": "us-east-1",
                "encrypt": true, "dynamodb_table": "locks", "use_lockfile": null, "profile": null,
                "use_path_style": true, "skip_credentials_validation": true,
                "skip_requesting_account_id": true, "skip_metadata_api_check": true,
                "skip_region_validation": true
            }}
        });
        std::fs::write(dir.join(BACKEND_STATE), state.to_string()).unwrap();
    }

    /// A backend config with the template's lock kind (DynamoDB) for `tenant`.
    fn config(tenant: &str) -> S3BackendConfig {
        S3BackendConfig {
            bucket: "b".into(),
            key: format!("web/{tenant}/terraform.tfstate"),
            region: "us-east-1".into(),
            encrypt: true,
            dynamodb_table: Some("locks".into()),
            use_lockfile: None,
            custom_endpoint: None,
        }
    }

    fn backend_config(dir: &Path) -> Value {
        let text = std::fs::read_to_string(dir.join(BACKEND_STATE)).unwrap();
        serde_json::from_str::<Value>(&text).unwrap()["backend"]["config"].clone()
    }

    #[test]
    fn a_template_swaps_only_the_backend_settings() {
        let tmp = tempfile::tempdir().unwrap();
        let (first, second) = (tmp.path().join("t1"), tmp.path().join("t2"));
        initialised(&first);
        let template = InitTemplate::default();
        assert!(
            !template.apply(&second, &config("t2")).unwrap(),
            "no template yet"
        );
        template.offer(&first);
        assert!(template.apply(&second, &config("t2")).unwrap());
        let state: Value =
            serde_json::from_str(&std::fs::read_to_string(second.join(BACKEND_STATE)).unwrap())
                .unwrap();
        assert_eq!(
            state["backend"]["config"]["key"],
            "web/t2/terraform.tfstate"
        );
        assert_eq!(state["backend"]["config"]["dynamodb_table"], "locks");
        assert_eq!(state["backend"]["hash"], 1410938009u64);
        let link = second.join("providers/registry.terraform.io/saasctl/saas/0.1.0/linux_amd64");
        assert_eq!(
            std::fs::read_link(link).unwrap(),
            Path::new("/cache/registry.terraform.io/saasctl/saas/0.1.0/linux_amd64")
        );
    }

    #[test]
    fn bools_stay_json_bools() {
        let tmp = tempfile::tempdir().unwrap();
        initialised(&tmp.path().join("t1"));
        let template = InitTemplate::default();
        template.offer(&tmp.path().join("t1"));
        let custom = S3BackendConfig {
            encrypt: false,
            custom_endpoint: Some(CustomEndpoint::new(EndpointUrls::default())),
            ..config("t2")
        };
        assert!(template.apply(&tmp.path().join("t2"), &custom).unwrap());
        let written = backend_config(&tmp.path().join("t2"));
        assert_eq!(written["encrypt"], Value::Bool(false));
        assert_eq!(written["use_path_style"], Value::Bool(true));
        assert_eq!(written["skip_region_validation"], Value::Bool(true));
    }

    #[test]
    fn unknown_settings_fall_back_to_a_real_init() {
        let tmp = tempfile::tempdir().unwrap();
        initialised(&tmp.path().join("t1"));
        let template = InitTemplate::default();
        template.offer(&tmp.path().join("t1"));
        // The template locks with DynamoDB: its use_lockfile is unset (null).
        let lockfile = S3BackendConfig {
            dynamodb_table: None,
            use_lockfile: Some(true),
            ..config("t2")
        };
        assert!(!template.apply(&tmp.path().join("t2"), &lockfile).unwrap());
        assert!(!tmp.path().join("t2").join(BACKEND_STATE).exists());
    }
}
