//! Bad input fails at plan time with a diagnostic on the attribute, and the
//! registry stays byte-for-byte unchanged.

use saas_e2e::sqlite_url;

use super::{application_config, dump, open, Workspace};

fn tenant_config(id: &str, email: &str, tier: &str, applications: &str) -> String {
    format!(
        r#"
resource "saas_tenant" "bad" {{
  id           = "{id}"
  name         = "Bad"
  email        = "{email}"
  tier         = "{tier}"
  applications = [{applications}]
}}
"#
    )
}

#[test]
fn bad_tenants_fail_the_plan_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let db_file = dir.path().join("registry.db");
    let ws = Workspace::new(&url);
    let app = application_config("web", &["basic"]);
    ws.write(&app);
    ws.init();
    ws.apply();
    let registry = open(&url);
    let records = dump(&registry);
    let bytes = std::fs::read(&db_file).unwrap();

    let web = "saas_application.web.id";
    let long_id = "a".repeat(64);
    let cases = [
        (
            "Invalid id",
            "id",
            tenant_config("../evil", "ops@x.example", "basic", web),
        ),
        (
            "Invalid id",
            "id",
            tenant_config("Acme", "ops@x.example", "basic", web),
        ),
        (
            "Invalid id",
            "id",
            tenant_config(&long_id, "ops@x.example", "basic", web),
        ),
        (
            "Invalid tier",
            "tier",
            tenant_config("acme", "ops@x.example", "premium", web),
        ),
        (
            "Invalid variables",
            "variables",
            tenant_config("acme", "ops@x.example", "basic", web).replace(
                "applications =",
                "variables    = [\"not\", \"a map\"]\n  applications =",
            ),
        ),
        (
            "Invalid email",
            "email",
            tenant_config("acme", "not-an-email", "basic", web),
        ),
    ];
    for (summary, attribute, tenant) in cases {
        ws.write(&format!("{app}{tenant}"));
        let stderr = ws.failing_plan();
        assert!(
            stderr.contains(&format!("Error: {summary}")),
            "{attribute}: {stderr}"
        );
        // Terraform shows the offending attribute's line of the configuration.
        assert!(
            stderr.lines().any(|l| l
                .trim_start()
                .trim_start_matches(|c: char| c.is_ascii_digit() || c == ':')
                .trim_start()
                .starts_with(&format!("{attribute} "))),
            "the diagnostic does not point at {attribute}: {stderr}"
        );
        assert_eq!(
            dump(&registry),
            records,
            "{attribute}: registry records changed"
        );
        assert_eq!(
            std::fs::read(&db_file).unwrap(),
            bytes,
            "{attribute}: registry file changed"
        );
    }
}

#[test]
fn bad_application_state_points_into_the_block() {
    let dir = tempfile::tempdir().unwrap();
    let ws = Workspace::new(&sqlite_url(dir.path()));
    ws.write(
        r#"
resource "saas_application" "web" {
  name = "web"
  state {
    region    = "us-east-1"
    isolation = "bucket"
    bucket    = "shared-bucket"
  }
}
"#,
    );
    ws.init();
    let stderr = ws.failing_plan();
    assert!(
        stderr.contains("Error: Invalid state.bucket_prefix"),
        "{stderr}"
    );
}

#[test]
fn malformed_registry_url_names_the_registry_attribute() {
    let dir = tempfile::tempdir().unwrap();
    let ws = Workspace::new(&sqlite_url(dir.path()));
    ws.write(
        r#"
provider "saas" {
  registry = "postgres://db/registry"
}
data "saas_tenants" "all" {}
"#,
    );
    ws.init();
    let stderr = ws.failing_plan();
    assert!(stderr.contains("Error: Invalid registry URL"), "{stderr}");
    assert!(
        stderr.contains("registry = \"postgres://db/registry\""),
        "{stderr}"
    );
}
