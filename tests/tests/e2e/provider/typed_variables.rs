//! Typed tenant inputs: numbers, bools, lists, maps and objects written in
//! the control plane are stored as JSON in both registries, read back with
//! their types by both data sources, and a second plan shows no change.

use saas_e2e::{run_ok, sqlite_url, unique_name};
use serde_json::{json, Value};

use super::{open, tenant, Workspace};

fn config(suffix: &str) -> String {
    format!(
        r#"
variable "shared" {{
  type    = map(string)
  default = {{ region = "eu", replicas = "3" }}
}}

resource "saas_application" "web" {{
  name  = "web"
  tiers = ["basic"]
  state {{
    region     = "us-east-1"
    bucket     = "typed-{suffix}"
    lock_table = "typed-{suffix}"
  }}
}}

resource "saas_tenant" "wayne" {{
  id           = "wayne"
  name         = "Wayne"
  email        = "ops@wayne.example"
  tier         = "basic"
  applications = [saas_application.web.name]
  variables = {{
    replicas      = 2
    allowed_cidrs = ["10.1.0.0/16", "10.2.0.0/16"]
    limits        = {{ cpu = 4, burst = 0.5 }}
    public        = true
    zip           = "007"
  }}
  sensitive_variables = {{ db = {{ user = "app", port = 5432 }} }}
}}

# A map(string) from a variable: its type is kept, no perpetual diff.
resource "saas_tenant" "acme" {{
  id           = "acme"
  name         = "Acme"
  email        = "ops@acme.example"
  tier         = "basic"
  applications = [saas_application.web.name]
  variables    = var.shared
}}

data "saas_tenant" "wayne" {{
  id = saas_tenant.wayne.id
}}

data "saas_tenants" "all" {{
  depends_on = [saas_tenant.wayne, saas_tenant.acme]
}}

output "one" {{
  value = data.saas_tenant.wayne.variables
}}

output "cidrs_of_each" {{
  value = {{ for t in data.saas_tenants.all.tenants : t.id => try(t.variables.allowed_cidrs, []) }}
}}

output "replicas_plus_one" {{
  value = data.saas_tenant.wayne.variables.replicas + 1
}}
"#
    )
}

fn typed(url: &str, suffix: &str) {
    let registry = open(url);
    let ws = Workspace::new(url);
    ws.write(&config(suffix));
    ws.init();
    ws.apply();
    // Stored as typed JSON; a string that looks like a number stays a string.
    let wayne = tenant(&registry, "wayne").unwrap();
    assert_eq!(wayne.variables["replicas"], json!(2));
    assert_eq!(
        wayne.variables["allowed_cidrs"],
        json!(["10.1.0.0/16", "10.2.0.0/16"])
    );
    assert_eq!(wayne.variables["limits"], json!({"cpu": 4, "burst": 0.5}));
    assert_eq!(wayne.variables["public"], json!(true));
    assert_eq!(wayne.variables["zip"], json!("007"));
    assert_eq!(
        wayne.sensitive_variables["db"],
        json!({"user": "app", "port": 5432})
    );
    let acme = tenant(&registry, "acme").unwrap();
    assert_eq!(acme.variables["replicas"], json!("3"));

    let out = run_ok(&mut ws.terraform(&["output", "-json"]));
    let outputs: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(outputs["one"]["value"]["limits"]["cpu"], json!(4));
    assert_eq!(outputs["one"]["value"]["zip"], json!("007"));
    assert_eq!(outputs["replicas_plus_one"]["value"], json!(3));
    assert_eq!(
        outputs["cidrs_of_each"]["value"],
        json!({"acme": [], "wayne": ["10.1.0.0/16", "10.2.0.0/16"]})
    );
    // No perpetual diff from a type conversion.
    ws.plan(0);

    // A change in the registry shows as a change of that value only.
    let mut edited = wayne.clone();
    edited.variables.insert("replicas".into(), json!(5));
    super::block_on(registry.update_tenant(&edited)).unwrap();
    let plan = super::text(&ws.plan(2));
    assert!(
        plan.contains("replicas") && plan.contains("1 to change"),
        "{plan}"
    );
    ws.apply();
    assert_eq!(
        tenant(&registry, "wayne").unwrap().variables["replicas"],
        json!(2)
    );
    ws.plan(0);
}

#[test]
fn typed_variables_round_trip_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    typed(&sqlite_url(dir.path()), "sq");
}

#[test]
fn typed_variables_round_trip_on_dynamodb() {
    saas_e2e::moto_url();
    let table = unique_name("typed");
    typed(&format!("dynamodb://{table}?region=us-east-1"), &table);
}

/// A state written by the string-only release (schema version 1, where
/// `variables` was a `map(string)`) is upgraded by the provider: the next
/// plan of the same string literals is empty.
#[test]
fn a_state_of_the_string_only_release_upgrades_without_a_diff() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    open(&url);
    let ws = Workspace::new(&url);
    ws.write(&format!(
        "{}{}",
        super::application_config("web", &["basic"]),
        r#"
resource "saas_tenant" "acme" {
  id                  = "acme"
  name                = "Acme"
  email               = "ops@acme.example"
  tier                = "basic"
  applications        = [saas_application.web.name]
  variables           = { replicas = "3", region = "eu" }
  sensitive_variables = { token = "s3cret-token" }
}
"#
    ));
    ws.init();
    ws.apply();
    // Rewrite the state as version 1 wrote it.
    let path = ws.state_file();
    let mut state: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let tenant = state["resources"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|r| r["type"] == "saas_tenant")
        .unwrap();
    let instance = &mut tenant["instances"][0];
    assert_eq!(instance["schema_version"], 2);
    instance["schema_version"] = json!(1);
    for field in ["variables", "sensitive_variables"] {
        let plain = instance["attributes"][field]["value"].clone();
        assert!(
            plain.is_object(),
            "{field}: {}",
            instance["attributes"][field]
        );
        instance["attributes"][field] = plain;
    }
    state["serial"] = json!(state["serial"].as_u64().unwrap() + 1);
    std::fs::write(&path, serde_json::to_string_pretty(&state).unwrap()).unwrap();

    ws.plan(0);
    // And the upgraded state is written back in version 2's form.
    ws.apply();
    let state: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let tenant = state["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == "saas_tenant")
        .unwrap();
    assert_eq!(tenant["instances"][0]["schema_version"], 2);
    assert_eq!(
        tenant["instances"][0]["attributes"]["variables"]["value"]["replicas"],
        "3"
    );
}
