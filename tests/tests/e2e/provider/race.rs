//! Two `terraform apply` processes update the same tenant from the same
//! version: one wins, the other gets the Conflict diagnostic, and the
//! winner's update is what the registry keeps.

use std::process::Stdio;

use saas_e2e::sqlite_url;

use super::{application_config, open, tenant, Workspace};

fn config(name: &str) -> String {
    application_config("web", &["basic"])
        + &format!(
            r#"
resource "saas_tenant" "t" {{
  id           = "racer"
  name         = "{name}"
  email        = "ops@racer.example"
  tier         = "basic"
  applications = [saas_application.web.id]
}}
"#
        )
}

#[test]
fn concurrent_updates_from_one_version_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let first = Workspace::new(&url);
    first.write(&config("Racer"));
    first.init();
    first.apply();

    // A second working directory with the same state: both start at version 1.
    let second = Workspace::new(&url);
    std::fs::copy(first.state_file(), second.state_file()).unwrap();
    second.write(&config("Racer"));
    second.init();

    // Plan both before either applies, so both plans hold version 1.
    let workspaces = [(&first, "Racer A"), (&second, "Racer B")];
    for (ws, name) in workspaces {
        ws.write(&config(name));
        saas_e2e::run_ok(&mut ws.terraform(&["plan", "-input=false", "-out=tfplan"]));
    }
    let children: Vec<_> = workspaces
        .iter()
        .map(|(ws, _)| {
            ws.terraform(&["apply", "-input=false", "tfplan"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs: Vec<_> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();

    let winners: Vec<usize> = (0..2).filter(|&i| outputs[i].status.success()).collect();
    assert_eq!(winners.len(), 1, "exactly one apply must win: {outputs:?}");
    let (winner, loser) = (winners[0], 1 - winners[0]);
    let loser_err = String::from_utf8_lossy(&outputs[loser].stderr);
    assert!(
        loser_err.contains("was modified concurrently"),
        "{loser_err}"
    );

    let stored = tenant(&open(&url), "racer").unwrap();
    assert_eq!(
        stored.name, workspaces[winner].1,
        "the winner's update must be kept"
    );
    assert_eq!(stored.meta.version, 2);

    // The loser's next plan sees the winner's record and proposes its own change again.
    workspaces[loser].0.plan(2);
}
