//! The command line's contract, through the built binary: one exit code per
//! kind of error, the same code for the same error in every command, one
//! line on stderr and never a panic, not even on a closed pipe.

use std::process::{Command, Stdio};

use saas_e2e::{moto_url, run, sqlite_url};
use saas_registry::{Application, Registry, StateConfig};

struct Project {
    dir: tempfile::TempDir,
    url: String,
}

impl Project {
    /// A registry with application `web` and one tenant whose variable is
    /// bigger than a pipe's buffer, so its listing cannot fit in one.
    async fn new() -> Project {
        let dir = tempfile::tempdir().unwrap();
        let url = sqlite_url(dir.path());
        let registry = Registry::open(&url).await.unwrap();
        let state = StateConfig {
            bucket: Some("cli-state".into()),
            lock_table: Some("cli-locks".into()),
            ..Default::default()
        };
        registry
            .create_application(&Application::new("web", state))
            .await
            .unwrap();
        let mut tenant = saas_e2e::tenant("web", "acme", &[], &[]);
        tenant
            .variables
            .insert("blob".into(), "x".repeat(256 * 1024).into());
        registry.create_tenant(&tenant).await.unwrap();
        Project { dir, url }
    }

    fn saasctl(&self, args: &[&str]) -> Command {
        saas_e2e::saasctl(self.dir.path(), &self.url, &moto_url(), args)
    }

    /// Runs `args`, expects `code`, one `error:` line and no panic.
    fn fails(&self, args: &[&str], code: i32) -> String {
        let out = run(&mut self.saasctl(args));
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(code), "saasctl {args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        if code != 64 {
            // clap prints its usage errors itself; ours are one line.
            assert_eq!(stderr.lines().count(), 1, "{stderr}");
            assert!(stderr.starts_with("error: "), "{stderr}");
        }
        stderr
    }
}

#[tokio::test]
async fn a_closed_pipe_ends_quietly_with_exit_0() {
    let project = Project::new().await;
    // `saasctl tenants -o json | head -1`, without a shell.
    let mut saasctl = project
        .saasctl(&["tenants", "-o", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let head = Command::new("head")
        .arg("-1")
        .stdin(Stdio::from(saasctl.stdout.take().unwrap()))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&head.stdout), "[\n");
    let out = saasctl.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
}

#[tokio::test]
async fn each_kind_of_error_has_its_exit_code_in_every_command() {
    let project = Project::new().await;
    let p = &project;
    // 64: usage, checked by clap before anything runs.
    for args in [
        &["plan", "-a", "web", "-s", ".", "-j", "0"][..],
        &["plan", "-a", "web", "-s", ".", "--attempts", "0"],
        &["tenants", "--label", "novalue"],
        &["tenants", "--status", "gone"],
        &["drift", "-a", "web", "-s", ".", "--max-failures", "0%"],
        &["apply", "-a", "web", "-s", ".", "--from-run", "../x"],
        &["drift", "-a", "web", "-s", ".", "--changed"],
    ] {
        p.fails(args, 64);
    }
    // 65: a value that breaks the registry's rules.
    p.fails(&["plan", "-a", "Web", "-s", "."], 65);
    p.fails(&["tenants", "-a", "../web"], 65);
    // 66: not found, the same for the stack in every command that takes one.
    for args in [
        &["plan", "-a", "web", "-s", "no-such-dir"][..],
        &["unlock", "-a", "web", "-t", "acme", "-s", "no-such-dir"],
        &[
            "pipeline",
            "gitlab",
            "-a",
            "web",
            "-s",
            "no-such-dir",
            "-o",
            "c.yml",
        ],
    ] {
        let stderr = p.fails(args, 66);
        assert!(stderr.contains("no-such-dir"), "{stderr}");
    }
    p.fails(&["tenants", "-a", "nope"], 66);
    p.fails(&["runs", "show", "never-ran"], 66);
    // 69: the registry cannot be reached.
    let dynamodb = "dynamodb://cli-registry?region=us-east-1";
    let mut down = saas_e2e::saasctl(p.dir.path(), dynamodb, "http://127.0.0.1:9", &["tenants"]);
    let out = run(&mut down);
    assert_eq!(out.status.code(), Some(69), "{out:?}");
    // 127: no terraform.
    p.fails(
        &[
            "--terraform",
            "/no/terraform",
            "plan",
            "-a",
            "web",
            "-s",
            ".",
        ],
        127,
    );
}
