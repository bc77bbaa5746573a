//! Scenario 2: registry races through the provider. 20 concurrent `terraform
//! apply` runs create 20 tenants, then 20 more update them while 2 saved
//! plans made from the same version race on one tenant: no write is lost and
//! exactly the stale writer gets the Conflict diagnostic. On SQLite and on
//! DynamoDB (moto).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use saas_e2e::{moto_url, run_ok, sqlite_url, terraform, unique_name};
use saas_registry::{Application, Registry, StateConfig, TenantFilter};

use super::{block_on, text};

const WRITERS: usize = 20;

const PROVIDERS: &str = r#"
terraform {
  required_providers {
    saas = { source = "saasctl/saas" }
  }
}
"#;

fn tenant_config(id: &str, name: &str) -> String {
    format!(
        r#"{PROVIDERS}
resource "saas_tenant" "t" {{
  id           = "{id}"
  name         = "{name}"
  email        = "ops@{id}.example"
  tier         = "basic"
  applications = ["web"]
}}
"#
    )
}

/// Terraform working directories sharing one initialised data dir (the
/// configurations differ only in values, so one provider install serves all).
struct Workspaces {
    root: tempfile::TempDir,
    registry: String,
}

impl Workspaces {
    fn new(registry: &str) -> Workspaces {
        let ws = Workspaces {
            root: tempfile::tempdir().unwrap(),
            registry: registry.to_string(),
        };
        let template = ws.dir("template");
        std::fs::write(template.join("main.tf"), tenant_config("init", "Init")).unwrap();
        run_ok(&mut ws.terraform(&template, &["init", "-input=false"]));
        ws
    }

    fn dir(&self, name: &str) -> PathBuf {
        let dir = self.root.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn terraform(&self, dir: &Path, args: &[&str]) -> Command {
        let mut cmd = terraform(dir);
        let endpoint = moto_url();
        cmd.env("SAAS_REGISTRY", &self.registry)
            .env("TF_DATA_DIR", self.root.path().join("template/.terraform"))
            .env("AWS_ENDPOINT_URL_DYNAMODB", &endpoint)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("NO_COLOR", "1")
            .args(args)
            .arg("-no-color")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// A workspace for `tenant` with the template's lock file.
    fn workspace(&self, name: &str, id: &str, tenant_name: &str) -> PathBuf {
        let dir = self.dir(name);
        std::fs::copy(
            self.root.path().join("template/.terraform.lock.hcl"),
            dir.join(".terraform.lock.hcl"),
        )
        .unwrap();
        std::fs::write(dir.join("main.tf"), tenant_config(id, tenant_name)).unwrap();
        dir
    }
}

fn wait_all(children: Vec<Child>) -> Vec<Output> {
    children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect()
}

fn apply_all(ws: &Workspaces, dirs: &[PathBuf]) -> Vec<Output> {
    let children = dirs
        .iter()
        .map(|dir| {
            ws.terraform(dir, &["apply", "-auto-approve", "-input=false"])
                .spawn()
                .unwrap()
        })
        .collect();
    wait_all(children)
}

fn race(registry_url: &str, backend: &str) {
    let registry = block_on(async {
        let registry = Registry::open(registry_url).await.unwrap();
        registry.init().await.unwrap();
        registry
            .create_application(&Application::new(
                "web",
                StateConfig {
                    bucket: Some("rel-race-tfstate".into()),
                    lock_table: Some("rel-race-locks".into()),
                    ..Default::default()
                },
            ))
            .await
            .unwrap();
        registry
    });
    let ws = Workspaces::new(registry_url);
    let ids: Vec<String> = (1..=WRITERS).map(|i| format!("w{i:02}")).collect();
    let dirs: Vec<PathBuf> = ids
        .iter()
        .map(|id| ws.workspace(id, id, &format!("Tenant {id}")))
        .collect();
    let racer_a = ws.workspace("racer-a", "racer", "Racer");

    // 20 creates (+ the racer's) at once.
    let mut create_dirs = dirs.clone();
    create_dirs.push(racer_a.clone());
    for (dir, out) in create_dirs.iter().zip(apply_all(&ws, &create_dirs)) {
        assert!(out.status.success(), "{}: {}", dir.display(), text(&out));
    }
    // The second racer starts from the same state (version 1).
    let racer_b = ws.workspace("racer-b", "racer", "Racer");
    std::fs::copy(
        racer_a.join("terraform.tfstate"),
        racer_b.join("terraform.tfstate"),
    )
    .unwrap();
    let racers = [(&racer_a, "Racer A"), (&racer_b, "Racer B")];
    for (dir, name) in racers {
        std::fs::write(dir.join("main.tf"), tenant_config("racer", name)).unwrap();
        let out = ws
            .terraform(dir, &["plan", "-input=false", "-out=tfplan"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
    }

    // 20 updates of different tenants and the two stale-able racers, all at once.
    for (dir, id) in dirs.iter().zip(&ids) {
        std::fs::write(
            dir.join("main.tf"),
            tenant_config(id, &format!("Updated {id}")),
        )
        .unwrap();
    }
    let mut children: Vec<Child> = dirs
        .iter()
        .map(|dir| {
            ws.terraform(dir, &["apply", "-auto-approve", "-input=false"])
                .spawn()
                .unwrap()
        })
        .collect();
    for (dir, _) in racers {
        children.push(
            ws.terraform(dir, &["apply", "-input=false", "tfplan"])
                .spawn()
                .unwrap(),
        );
    }
    let outputs = wait_all(children);
    let (updates, racer_outputs) = outputs.split_at(WRITERS);
    for (id, out) in ids.iter().zip(updates) {
        assert!(out.status.success(), "update of {id}: {}", text(out));
    }
    let winners: Vec<usize> = (0..2)
        .filter(|&i| racer_outputs[i].status.success())
        .collect();
    assert_eq!(winners.len(), 1, "exactly one racer must win");
    let (winner, loser) = (winners[0], 1 - winners[0]);
    let loser_err = String::from_utf8_lossy(&racer_outputs[loser].stderr);
    assert!(
        loser_err.contains("was modified concurrently"),
        "the stale writer must get the Conflict diagnostic: {loser_err}"
    );

    // 0 lost updates: every tenant holds its last write, exactly once.
    let stored = block_on(registry.list_tenants(&TenantFilter::default())).unwrap();
    assert_eq!(stored.len(), WRITERS + 1, "tenants lost or duplicated");
    for t in &stored {
        let expected = if t.id == "racer" {
            racers[winner].1.to_string()
        } else {
            format!("Updated {}", t.id)
        };
        assert_eq!(t.name, expected, "{}: lost update", t.id);
        assert_eq!(t.meta.version, 2, "{}", t.id);
    }
    println!(
        "reliability: registry race on {backend}: {WRITERS} concurrent creates, then {WRITERS} concurrent \
         updates of other tenants + 2 saved plans racing on one tenant => 0 lost updates \
         ({} records at version 2), exactly 1 Conflict diagnostic, for the stale writer",
        WRITERS + 1
    );
}

#[test]
fn twenty_writers_and_two_racers_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    race(&sqlite_url(dir.path()), "SQLite");
}

#[test]
fn twenty_writers_and_two_racers_on_dynamodb() {
    let table = unique_name("rel-race");
    race(
        &format!("dynamodb://{table}?region=us-east-1"),
        "DynamoDB (moto)",
    );
}
