//! Scenario 3: `kill -9` of a 12-tenant `saasctl apply -j 2` (it and every
//! process under it, as a CI runner or a machine crash does) while a tenant
//! holds its state lock, then `--resume`: the stale lock's holder is
//! provably gone (taken on this host, no process left on that tenant), so
//! the resume's retry path releases it, records it, and converges every
//! tenant; tenants that had finished before the kill are never run again.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use saas_e2e::dynamodb_client;
use saas_registry::{derive_backend, Application};
use serde_json::Value;

use super::{
    assert_serials, block_on, replicas_in, stack, state_versions, tenants, web_apply, Fleet,
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

/// Freezes saasctl and every process under it (SIGSTOP), top down, until no
/// new process appears: otherwise a terraform spawned between listing and
/// killing would survive as an orphan and take a tenant's lock later.
/// Returns the frozen descendants.
fn freeze_tree(child: &std::process::Child) -> Vec<u32> {
    let root = child.id();
    signal("STOP", &[root]);
    let mut frozen: Vec<u32> = Vec::new();
    loop {
        let new: Vec<u32> = descendants(root)
            .into_iter()
            .filter(|pid| !frozen.contains(pid))
            .collect();
        if new.is_empty() {
            return frozen;
        }
        signal("STOP", &new);
        frozen.extend(new);
    }
}

fn thaw_tree(child: &std::process::Child, frozen: &[u32]) {
    signal("CONT", frozen);
    signal("CONT", &[child.id()]);
}

/// SIGKILL to a frozen saasctl and every process under it (terraform, the
/// provider), as a crashed machine or a killed CI job leaves them: nothing
/// cleans up. Only these positive pids are signalled.
fn kill_tree(child: &mut std::process::Child, frozen: &[u32]) {
    child.kill().unwrap();
    signal("KILL", frozen);
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
            // Frozen first, so the lock seen is still held when the kill lands.
            let frozen = freeze_tree(&child);
            if let Some(lock) = block_on(held_locks(&table)).first() {
                kill_tree(&mut child, &frozen);
                break tenant_of(&app, &ids, lock);
            }
            thaw_tree(&child, &frozen);
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

    // Resume: each stale lock's holder is gone, so the retry path releases it.
    let args = web_apply(&s, "2", "0.2", &["--resume", "crash"]);
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
    for held in &stale {
        let released = &all[held]["released_locks"];
        assert!(
            released[0]["id"].is_string() && released[0]["who"].is_string(),
            "{held}: the stale lock was not released and recorded: {}",
            all[held]
        );
    }
    assert_eq!(last["resumes"], 1);
    println!(
        "reliability: kill -9 of `saasctl apply -j 2` over {TENANTS} tenants after {} finished, {locked} holding its lock \
         => the resume released the stale lock (holder gone) and recorded it, \
         and applied the other {}; the {} finished tenants were not re-run (same report entry, no new state version)",
        done_before.len(),
        TENANTS - done_before.len(),
        done_before.len()
    );
}
