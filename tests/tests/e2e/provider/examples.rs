//! Every example configuration passes `terraform validate` with the built
//! provider.

use std::path::Path;

use saas_e2e::{root, run_ok};

use super::Workspace;

/// Copies the example's .tf files into a workspace; examples that are
/// snippets (docs) get the providers block the workspace adds.
fn validate(example: &Path) {
    let ws = Workspace::new("sqlite://unused.db");
    let mut config = String::new();
    for entry in std::fs::read_dir(example).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "tf") {
            config.push_str(&std::fs::read_to_string(&path).unwrap());
            config.push('\n');
        }
    }
    assert!(
        !config.is_empty(),
        "{} holds no .tf file",
        example.display()
    );
    if config.contains("required_providers") {
        std::fs::write(ws.path().join("main.tf"), config).unwrap();
    } else {
        ws.write(&config);
    }
    ws.init();
    run_ok(&mut ws.terraform(&["validate"]));
}

#[test]
fn examples_pass_terraform_validate() {
    let examples = root().join("examples");
    let mut dirs = vec![examples.join("provider"), examples.join("control-plane")];
    for kind in ["resources", "data-sources"] {
        for entry in std::fs::read_dir(examples.join(kind)).unwrap() {
            dirs.push(entry.unwrap().path());
        }
    }
    // Resource snippets reference each other (tenants use an application).
    let shared =
        std::fs::read_to_string(examples.join("resources/saas_application/resource.tf")).unwrap();
    for dir in dirs {
        let needs_app =
            dir.ends_with("saas_tenant") && !dir.starts_with(examples.join("data-sources"));
        if needs_app {
            let tmp = tempfile::tempdir().unwrap();
            std::fs::copy(dir.join("resource.tf"), tmp.path().join("tenant.tf")).unwrap();
            std::fs::write(tmp.path().join("application.tf"), &shared).unwrap();
            validate(tmp.path());
        } else {
            validate(&dir);
        }
    }
}
