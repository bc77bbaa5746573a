//! A whole control plane in one `terraform apply` on an empty registry:
//! tenants name their applications by literal string (with `depends_on`) or
//! by reference, and the plan may not fail on an application this same apply
//! creates. A name no configuration creates still fails, at apply, on the
//! attribute, and changes nothing.

use saas_e2e::{run, sqlite_url, unique_name};

use super::{application, dump, open, tenant, text, Workspace};

/// Two applications and, per application, tenants in both spellings.
fn control_plane(suffix: &str) -> String {
    let mut config = String::new();
    for app in ["ledger", "portal"] {
        config.push_str(&format!(
            r#"
resource "saas_application" "{app}" {{
  name  = "{app}"
  tiers = ["basic", "pro"]
  state {{
    region     = "us-east-1"
    bucket     = "oneshot-{app}-{suffix}"
    lock_table = "oneshot-{app}-{suffix}"
  }}
}}
"#
        ));
    }
    config.push_str(
        r#"
locals {
  by_name = { acme = "ledger", wayne = "portal" }
}

# Literal application names: the order comes from depends_on.
resource "saas_tenant" "literal" {
  for_each     = local.by_name
  id           = each.key
  name         = "Tenant ${each.key}"
  email        = "ops@${each.key}.example"
  tier         = "basic"
  applications = [each.value]
  depends_on   = [saas_application.ledger, saas_application.portal]
}

# References: the order comes from the reference itself.
resource "saas_tenant" "referenced" {
  id           = "initech"
  name         = "Initech"
  email        = "ops@initech.example"
  tier         = "pro"
  applications = [saas_application.ledger.name, saas_application.portal.name]
}
"#,
    );
    config
}

fn one_shot(url: &str, suffix: &str) {
    // An empty registry (`saasctl registry init` for DynamoDB).
    let registry = open(url);
    let ws = Workspace::new(url);
    ws.write(&control_plane(suffix));
    ws.init();
    let planned = ws.plan(2);
    let shown = text(&planned);
    assert!(shown.contains("5 to add"), "{shown}");
    ws.apply();
    for app in ["ledger", "portal"] {
        assert!(application(&registry, app).is_some(), "{app} missing");
    }
    for (id, apps) in [
        ("acme", vec!["ledger"]),
        ("wayne", vec!["portal"]),
        ("initech", vec!["ledger", "portal"]),
    ] {
        let t = tenant(&registry, id).unwrap_or_else(|| panic!("{id} missing"));
        assert_eq!(t.applications.iter().collect::<Vec<_>>(), apps, "{id}");
    }
    // No perpetual diff.
    ws.plan(0);
}

#[test]
fn a_whole_control_plane_applies_at_once_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    one_shot(&sqlite_url(dir.path()), "sq");
}

#[test]
fn a_whole_control_plane_applies_at_once_on_dynamodb() {
    saas_e2e::moto_url();
    let table = unique_name("oneshot");
    one_shot(&format!("dynamodb://{table}?region=us-east-1"), "dy");
}

/// An application nobody creates: the plan warns on `applications`, the
/// apply fails there with the registry's own check, and nothing is written.
#[test]
fn an_application_nobody_creates_fails_at_apply_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let ws = Workspace::new(&url);
    ws.write(&super::application_config("web", &["basic"]));
    ws.init();
    ws.apply();
    let registry = open(&url);
    let before = dump(&registry);
    ws.write(&format!(
        "{}{}",
        super::application_config("web", &["basic"]),
        r#"
resource "saas_tenant" "typo" {
  id           = "acme"
  name         = "Acme"
  email        = "ops@acme.example"
  tier         = "basic"
  applications = ["wbe"]
}
"#
    ));
    let planned = text(&ws.plan(2));
    assert!(
        planned.contains("Warning: Application \"wbe\" is not in the registry yet"),
        "{planned}"
    );
    let applied = run(&mut ws.terraform(&["apply", "-auto-approve", "-input=false"]));
    let shown = text(&applied);
    assert_eq!(applied.status.code(), Some(1), "{shown}");
    assert!(shown.contains("Error: Invalid applications"), "{shown}");
    assert!(shown.contains("unknown application \"wbe\""), "{shown}");
    assert!(
        shown
            .lines()
            .any(|l| l.contains("applications = [\"wbe\"]")),
        "the diagnostic does not point at applications: {shown}"
    );
    assert_eq!(dump(&registry), before, "the registry changed");
}
