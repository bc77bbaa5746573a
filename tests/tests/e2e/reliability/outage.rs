//! Scenario 4: the S3/DynamoDB endpoint goes away in the middle of a run.
//!
//! A private moto (not the suite's shared one) runs with moto's request
//! recorder on, so its data survives a `kill -9`: after the restart on the
//! same port, replaying the recording rebuilds every bucket, object version
//! and lock item it held (moto keeps data in memory only; the recorder is
//! its one way to persist). The run that loses the endpoint retries the
//! connection errors within its budget, then fails the affected tenants
//! with their own message; after the restart `--resume` completes (through
//! `saasctl unlock` if the outage left a lock behind), and no state object
//! or version is truncated.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use saas_registry::derive_backend;
use serde_json::Value;

use super::{
    assert_serials, block_on, replicas_in, stack, state_versions, tenants, text, web_apply, Fleet,
};

const TENANTS: usize = 4;

/// A moto server of this test's own, recording every request to a file.
struct Moto {
    child: Child,
    port: u16,
    recording: PathBuf,
}

impl Moto {
    fn start(port: u16, recording: &Path) -> Moto {
        // The project's moto launcher (one request at a time, each response in one
        // send()), as scripts/servers starts it: a plain moto_server fakes lock conflicts.
        let root = saas_e2e::root();
        let child = Command::new(root.join(".tools/venv/bin/python"))
            .arg(root.join("scripts/moto_server_serial.py"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("MOTO_ENABLE_RECORDING", "True")
            .env("MOTO_RECORDER_FILEPATH", recording)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let moto = Moto {
            child,
            port,
            recording: recording.to_path_buf(),
        };
        moto.wait_until_up();
        moto
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn wait_until_up(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "moto did not come up");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `kill -9`: no shutdown, in-flight requests are cut.
    fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Starts again on the same port and replays the recording.
    fn restart(&mut self) {
        *self = Moto::start(self.port, &self.recording);
        // POST /moto-api/recorder/replay-recording, in plain HTTP/1.1.
        use std::io::{Read, Write};
        let mut conn = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(
            conn,
            "POST /moto-api/recorder/replay-recording HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\
             Content-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        )
        .unwrap();
        let mut response = String::new();
        conn.read_to_string(&mut response).unwrap();
        assert!(
            response.starts_with("HTTP/1.1 200") || response.starts_with("HTTP/1.0 200"),
            "replaying the recording failed: {response}"
        );
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn read_report(fleet: &Fleet, run: &str) -> Option<Value> {
    let path = fleet.runs_dir().join(run).join("report.json");
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

fn count(report: &Value, result: &str) -> usize {
    tenants(report)
        .values()
        .filter(|t| t["result"] == result)
        .count()
}

#[test]
fn endpoint_outage_mid_run_fails_per_tenant_and_resumes() {
    let recording = tempfile::tempdir().unwrap();
    let mut moto = Moto::start(free_port(), &recording.path().join("moto-recording"));
    let fleet = Fleet::on(&moto.url());
    let app = fleet.add_app("web");
    let ids: Vec<String> = (1..=TENANTS).map(|i| format!("o{i}")).collect();
    fleet.add_tenants("web", &ids, 2);
    fleet.bootstrap("web");
    let s = stack();

    let args = web_apply(&s, "2", "0.5", &["--run-id", "outage"]);
    let run = fleet
        .saasctl(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(600);
    while read_report(&fleet, "outage").map_or(0, |r| count(&r, "applied")) < 2 {
        assert!(Instant::now() < deadline, "the run never got going");
        std::thread::sleep(Duration::from_millis(50));
    }
    moto.kill();
    let out = run.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let during = fleet.report("outage");
    let applied_before = count(&during, "applied");
    let mut failed = 0;
    for (id, t) in tenants(&during) {
        if t["result"] != "failed" {
            assert!(t["result"] == "applied", "{id}: {t}");
            continue;
        }
        failed += 1;
        let error = t["error"].as_str().unwrap().to_lowercase();
        // Each failed tenant says what happened to it, and it was retried.
        assert!(
            error.contains("connection refused") || error.contains("dial tcp"),
            "{id}: {error}"
        );
        assert!(
            t["attempts"].as_u64().unwrap() >= 2,
            "{id} was not retried: {t}"
        );
    }
    assert!(failed > 0, "the outage failed no tenant: {during}");

    moto.restart();
    let args = web_apply(&s, "2", "0.5", &["--resume", "outage"]);
    let out = fleet.saasctl(&args).output().unwrap();
    let mut unlocked = Vec::new();
    if out.status.code() == Some(1) {
        // A lock taken just before the outage outlived it: the report names it.
        for (id, t) in tenants(&fleet.report("outage")) {
            if t["result"] == "failed" {
                assert!(
                    t["lock"]["id"].is_string(),
                    "{id} failed after the restart: {t}"
                );
                fleet.expect(&["unlock", "-a", "web", "-t", &id, "-s", &s], 0);
                unlocked.push(id);
            }
        }
        fleet.expect(&args, 0);
    } else {
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    }
    let after = fleet.report("outage");
    let mut versions = 0;
    for (i, id) in ids.iter().enumerate() {
        let result = tenants(&after)[id.as_str()]["result"].clone();
        assert!(
            result == "applied" || result == "no-changes",
            "{id}: {result}"
        );
        let b = derive_backend(&app, id).unwrap();
        // Every version parses as state: none was truncated by the cut.
        let states = block_on(state_versions(&moto.url(), &b.bucket, &b.key));
        versions += assert_serials(&states, id);
        assert_eq!(replicas_in(&states[0].1), 1 + i % 2, "{id}");
    }
    println!(
        "reliability: moto killed (-9) after {applied_before} of {TENANTS} tenants applied => {failed} tenants failed \
         with their own connection error after retries; moto restarted with its recorded data; \
         --resume converged all {TENANTS} (unlocked {unlocked:?}); {versions} state versions all parse, serials increase"
    );
}
