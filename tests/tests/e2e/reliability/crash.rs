//! Scenario 3: `kill -9` of a 12-tenant `saasctl apply -j 2` (it and every
//! process under it, as a CI runner or a machine crash does) while a tenant
//! holds its state lock, then `--resume`: the stale lock is reported with
//! its holder and `saasctl unlock` as the way out, unlock releases it once
//! the holder is provably gone, a second resume converges every tenant, and
//! tenants that had finished before the kill are never run again.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use saas_e2e::dynamodb_client;
use saas_registry::{derive_backend, Application};
use serde_json::Value;

use super::{
    assert_serials, block_on, replicas_in, stack, state_versions, tenants, text, web_apply, Fleet,
};

const TENANTS: usize = 12;

/// Lock ids (`bucket/key`, not the `-md5` digests) held in the lock table.
async fn held_locks(table: &str) -> Vec<String> {
    let scan = dynamodb_client()
        .await
        .scan()
        .table_name(table)
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    scan.items()
        .iter()
        .filter_map(|item| item.get("LockID").and_then(|v| v.as_s().ok()))
        .filter(|id| !id.ends_with("-md5"))
        .cloned()
        .collect()
}

/// The pids of `root`'s descendants, from each process's parent in `/proc/PID/stat`.
fn descendants(root: u32) -> Vec<u32> {
    let mut parent_of = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // "PID (COMM) STATE PPID ...": COMM may hold spaces, so split after the last ')'.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if let Some(ppid) = ppid {
            parent_of.push((pid, ppid));
        }
    }
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            parent_of
                .iter()
                .filter(|(_, pp)| *pp == parent)
                .map(|(p, _)| *p),
        );
        i += 1;
    }
    found.remove(0);
    found
}

/// SIGKILL to saasctl and every process under it (terraform, the provider),
/// as a crashed machine or a killed CI job leaves them: nothing cleans up.
/// The tree is frozen (SIGSTOP) first, top down, until no new process
/// appears: otherwise a terraform spawned between listing and killing would
/// survive as an orphan and take a tenant's lock later. Only these positive
/// pids are signalled.
fn kill_tree(child: &mut std::process::Child) {
    let root = child.id();
    signal("STOP", &[root]);
    let mut frozen: Vec<u32> = Vec::new();
    loop {
        let new: Vec<u32> = descendants(root)
            .into_iter()
            .filter(|pid| !frozen.contains(pid))
            .collect();
        if new.is_empty() {
            break;
        }
        signal("STOP", &new);
        frozen.extend(new);
    }
    child.kill().unwrap();
    signal("KILL", &frozen);
}

/// `kill -s NAME PIDS`; some may have exited meanwhile, which kill reports.
fn signal(name: &str, pids: &[u32]) {
    if pids.is_empty() {
        return;
    }
    let _ = std::process::Command::new("kill")
        .args(["-s", name])
        .args(pids.iter().map(u32::to_string))
        .stderr(Stdio::null())
        .status();
}

fn finished(report: &Value) -> BTreeMap<String, Value> {
    tenants(report)
        .into_iter()
        .filter(|(_, t)| t["result"] == "applied")
        .collect()
}

/// The report, once it parses (saasctl rewrites it after every tenant).
fn read_report(fleet: &Fleet, run: &str) -> Option<Value> {
    let path = fleet.runs_dir().join(run).join("report.json");
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

fn tenant_of(app: &Application, ids: &[String], lock_id: &str) -> String {
    ids.iter()
        .find(|id| derive_backend(app, id).unwrap().lock_id() == lock_id)
        .unwrap_or_else(|| panic!("lock {lock_id} is no tenant's"))
        .clone()
}

/// The holder died with the run: `saasctl unlock` confirms that and releases it.
fn unlock(fleet: &Fleet, held: &str, s: &str) {
    let out = fleet
        .saasctl(&["unlock", "-a", "web", "-t", held, "-s", s])
        .output()
        .unwrap();
    if !out.status.success() {
        let logs: Vec<String> = std::fs::read_dir(fleet.runs_dir())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("unlock-"))
            .map(|e| {
                std::fs::read_to_string(e.path().join(held).join("terraform.log"))
                    .unwrap_or_default()
            })
            .collect();
        panic!(
            "unlock failed: {}\n--- its terraform log\n{}",
            text(&out),
            logs.join("\n")
        );
    }
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("released lock"),
        "{}",
        text(&out)
    );
}

#[test]
fn kill_9_mid_run_then_resume_converges_without_rerunning() {
    let fleet = Fleet::new();
    let app = fleet.add_app("web");
    let table = app.state.lock_table.clone().unwrap();
    let ids: Vec<String> = (1..=TENANTS).map(|i| format!("k{i:02}")).collect();
    fleet.add_tenants("web", &ids, 2);
    fleet.bootstrap("web");
    let s = stack();

    let args = web_apply(&s, "2", "0.2", &["--run-id", "crash"]);
    let mut child = fleet
        .saasctl(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill once some tenants finished and another holds its lock.
    let deadline = Instant::now() + Duration::from_secs(600);
    let locked = loop {
        assert!(Instant::now() < deadline, "the run never got far enough");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it could be killed"
        );
        let done = read_report(&fleet, "crash").map_or(0, |r| finished(&r).len());
        if done >= 3 {
            let locks = block_on(held_locks(&table));
            if let Some(lock) = locks.first() {
                kill_tree(&mut child);
                break tenant_of(&app, &ids, lock);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    child.wait().unwrap();
    let killed = fleet.report("crash");
    let done_before = finished(&killed);
    assert!(
        done_before.len() < TENANTS,
        "nothing was left to resume (killed with {locked} locked; locks now {:?}): {killed}",
        block_on(held_locks(&table))
    );
    let versions_before: BTreeMap<String, usize> = done_before
        .keys()
        .map(|id| {
            let b = derive_backend(&app, id).unwrap();
            let n = block_on(state_versions(fleet.endpoint(), &b.bucket, &b.key)).len();
            (id.clone(), n)
        })
        .collect();
    // With -j 2 a second tenant may hold its lock at the kill too: every
    // stale lock is reported and released the same way.
    let stale: Vec<String> = block_on(held_locks(&table))
        .iter()
        .map(|lock| tenant_of(&app, &ids, lock))
        .collect();
    assert!(
        stale.contains(&locked),
        "the kill left no stale lock on {locked}"
    );

    // Resume: the stale lock fails its tenant with the holder and the way out.
    let args = web_apply(&s, "2", "0.2", &["--resume", "crash"]);
    let out = fleet.expect(&args, 1);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let first = fleet.report("crash");
    for held in &stale {
        let row = stdout
            .lines()
            .find(|l| l.starts_with(&format!("{held} ")))
            .unwrap_or_else(|| panic!("no row for {held}: {}", text(&out)));
        assert!(
            row.contains("failed") && row.contains("held by") && row.contains("saasctl unlock"),
            "{row}"
        );
        assert_eq!(tenants(&first)[held]["result"], "failed");
        assert!(tenants(&first)[held]["lock"]["who"].is_string());
        unlock(&fleet, held, &s);
    }
    fleet.expect(&args, 0);
    let last = fleet.report("crash");
    let all = tenants(&last);
    for (i, id) in ids.iter().enumerate() {
        // A tenant killed after its apply wrote state finds nothing left to do.
        let result = all[id]["result"].as_str().unwrap();
        assert!(
            result == "applied" || result == "no-changes",
            "{id}: {}",
            all[id]
        );
        let b = derive_backend(&app, id).unwrap();
        let versions = block_on(state_versions(fleet.endpoint(), &b.bucket, &b.key));
        assert_serials(&versions, id);
        assert_eq!(replicas_in(&versions[0].1), 1 + i % 2, "{id}");
        if let Some(before) = done_before.get(id) {
            // Not run again: the same report entry and no new state version.
            assert_eq!(&all[id], before, "{id} was run again");
            assert_eq!(
                versions.len(),
                versions_before[id],
                "{id} was applied again"
            );
        }
    }
    assert_eq!(last["resumes"], 2);
    println!(
        "reliability: kill -9 of `saasctl apply -j 2` over {TENANTS} tenants after {} finished, {locked} holding its lock \
         => resume reported the stale lock with its holder and `saasctl unlock`; unlock (holder gone) released it; \
         second resume applied the other {}; the {} finished tenants were not re-run (same report entry, no new state version)",
        done_before.len(),
        TENANTS - done_before.len(),
        done_before.len()
    );
}
