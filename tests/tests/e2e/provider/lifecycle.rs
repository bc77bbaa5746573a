//! Create, no-op plan, in-place update, replace, import, out-of-band delete
//! and destroy, against SQLite and against DynamoDB on moto.

use saas_e2e::{run_ok, sqlite_url, unique_name};
use saas_registry::TenantFilter;

use super::{application, application_config, block_on, open, tenant, text, Workspace};

const SECRET: &str = "hunter2-e2e-secret";

fn tenant_config(id: &str, name: &str, replicas: &str) -> String {
    format!(
        r#"
resource "saas_tenant" "t" {{
  id           = "{id}"
  name         = "{name}"
  email        = "ops@{id}.example"
  tier         = "standard"
  applications = [saas_application.web.id]
  variables    = {{ replicas = "{replicas}" }}
  sensitive_variables = {{ db_password = "{SECRET}" }}
}}
"#
    )
}

fn config(id: &str, name: &str, replicas: &str) -> String {
    application_config("web", &["basic", "standard"]) + &tenant_config(id, name, replicas)
}

fn assert_no_secret(output: &std::process::Output) {
    assert!(
        !text(output).contains(SECRET),
        "a sensitive value was printed:\n{}",
        text(output)
    );
}

fn lifecycle(url: &str) {
    let registry = open(url);
    let ws = Workspace::new(url);

    // Create.
    ws.write(&config("alpha", "Alpha", "1"));
    ws.init();
    assert_no_secret(&ws.plan(2));
    assert_no_secret(&ws.apply());
    let created = tenant(&registry, "alpha").expect("tenant created");
    assert_eq!(created.meta.version, 1);
    assert_eq!(created.sensitive_variables["db_password"], SECRET);
    assert_eq!(created.applications.iter().collect::<Vec<_>>(), ["web"]);
    let app = application(&registry, "web").expect("application created");
    assert_eq!(app.state.key, "{application}/{tenant}/terraform.tfstate");

    // Computed values are stable.
    ws.plan(0);

    // In-place update of mutable attributes.
    ws.write(&config("alpha", "Alpha Two", "3"));
    let plan = ws.plan(2);
    assert!(
        text(&plan).contains("1 to change, 0 to destroy"),
        "{}",
        text(&plan)
    );
    assert_no_secret(&ws.apply());
    let updated = tenant(&registry, "alpha").unwrap();
    assert_eq!(updated.name, "Alpha Two");
    assert_eq!(updated.variables["replicas"], "3");
    assert_eq!(updated.meta.version, 2);
    assert_eq!(updated.meta.created_at, created.meta.created_at);
    ws.plan(0);

    // In-place update of the application; its tenant is untouched.
    let three_tiers = application_config("web", &["basic", "standard", "premium"]);
    ws.write(&(three_tiers + &tenant_config("alpha", "Alpha Two", "3")));
    let plan = ws.plan(2);
    assert!(
        text(&plan).contains("0 to add, 1 to change, 0 to destroy"),
        "{}",
        text(&plan)
    );
    ws.apply();
    let app = application(&registry, "web").unwrap();
    assert_eq!(app.tiers.len(), 3);
    assert_eq!(app.meta.version, 2);
    assert_eq!(tenant(&registry, "alpha").unwrap().meta.version, 2);
    ws.plan(0);

    // Changing the id replaces the tenant.
    ws.write(&config("beta", "Alpha Two", "3"));
    let plan = ws.plan(2);
    assert!(text(&plan).contains("must be replaced"), "{}", text(&plan));
    ws.apply();
    assert!(tenant(&registry, "alpha").is_none());
    assert_eq!(tenant(&registry, "beta").unwrap().meta.version, 1);
    ws.plan(0);

    // Import both records into a fresh state: the plan is then empty.
    for address in ["saas_tenant.t", "saas_application.web"] {
        run_ok(&mut ws.terraform(&["state", "rm", address]));
    }
    run_ok(&mut ws.terraform(&["import", "-input=false", "saas_application.web", "web"]));
    assert_no_secret(&run_ok(&mut ws.terraform(&[
        "import",
        "-input=false",
        "saas_tenant.t",
        "beta",
    ])));
    ws.plan(0);

    // Deleted out of band: the next plan re-creates it.
    block_on(registry.delete_tenant("beta", None)).unwrap();
    let plan = ws.plan(2);
    assert!(
        text(&plan).contains("saas_tenant.t will be created"),
        "{}",
        text(&plan)
    );
    ws.apply();
    assert!(tenant(&registry, "beta").is_some());
    ws.plan(0);

    // Destroy leaves the registry empty.
    run_ok(&mut ws.terraform(&["destroy", "-auto-approve", "-input=false"]));
    let (apps, tenants) = block_on(async {
        (
            registry.list_applications().await.unwrap(),
            registry
                .list_tenants(&TenantFilter::default())
                .await
                .unwrap(),
        )
    });
    assert!(
        apps.is_empty() && tenants.is_empty(),
        "{apps:?} {tenants:?}"
    );
}

#[test]
fn provider_lifecycle_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    lifecycle(&sqlite_url(dir.path()));
}

#[test]
fn provider_lifecycle_on_dynamodb() {
    saas_e2e::moto_url();
    lifecycle(&format!(
        "dynamodb://{}?region=us-east-1",
        unique_name("registry")
    ));
}

#[test]
fn data_sources_read_what_the_resources_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let ws = Workspace::new(&sqlite_url(dir.path()));
    ws.write(&format!(
        r#"{}
{}
data "saas_tenant" "t" {{
  id         = saas_tenant.t.id
}}
data "saas_tenants" "standard" {{
  application = saas_application.web.id
  tier        = "standard"
  depends_on  = [saas_tenant.t]
}}
data "saas_application" "web" {{
  name = saas_application.web.id
}}
output "backend" {{ value = data.saas_tenant.t.state["web"] }}
output "ids" {{ value = data.saas_tenants.standard.ids }}
output "tiers" {{ value = data.saas_application.web.tiers }}
output "replicas" {{ value = data.saas_tenants.standard.tenants[0].variables["replicas"] }}
"#,
        application_config("web", &["basic", "standard"]),
        tenant_config("gamma", "Gamma", "2"),
    ));
    ws.init();
    assert_no_secret(&ws.apply());
    let output = run_ok(&mut ws.terraform(&["output", "-json"]));
    let outputs: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let backend = &outputs["backend"]["value"];
    assert_eq!(backend["bucket"], "saas-e2e-tfstate");
    assert_eq!(backend["key"], "web/gamma/terraform.tfstate");
    assert_eq!(backend["lock_table"], "saas-e2e-locks");
    assert_eq!(backend["use_lockfile"], false);
    assert_eq!(outputs["ids"]["value"], serde_json::json!(["gamma"]));
    assert_eq!(
        outputs["tiers"]["value"],
        serde_json::json!(["basic", "standard"])
    );
    assert_eq!(outputs["replicas"]["value"], "2");
    // Data sources never carry secrets, not even into the state file.
    let state = std::fs::read_to_string(ws.state_file()).unwrap();
    let data_sources: Vec<&str> = state.split("\"mode\": \"data\"").skip(1).collect();
    assert_eq!(data_sources.len(), 3);
    assert!(data_sources.iter().all(|d| !d
        .split("\"mode\": \"managed\"")
        .next()
        .unwrap()
        .contains(SECRET)));
}

#[test]
fn registry_defaults_to_sqlite_in_the_working_directory() {
    // No `registry` attribute and no SAAS_REGISTRY: the embedded default.
    let ws = Workspace::new("");
    ws.write(&application_config("web", &["basic"]));
    let run = |args: &[&str]| {
        let mut cmd = ws.terraform(args);
        cmd.env_remove("SAAS_REGISTRY");
        run_ok(&mut cmd)
    };
    run(&["init", "-input=false"]);
    run(&["apply", "-auto-approve", "-input=false"]);
    let db = ws.path().join(".saas/registry.db");
    assert!(
        db.is_file(),
        "the default registry should be {}",
        db.display()
    );
    let registry = open(&format!("sqlite://{}", db.display()));
    assert!(application(&registry, "web").is_some());
}
