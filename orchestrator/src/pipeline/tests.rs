//! Generator tests: golden files (set `UPDATE_GOLDEN=1` to rewrite them after
//! an intended change, then review the diff) and GitLab's limits, checked by
//! parsing the generated YAML independently of `limits::check_file`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use saas_registry::Tenant;
use serde_yaml::{Mapping, Value};

use super::*;

fn settings() -> GeneratorSettings {
    GeneratorSettings {
        application: "web".into(),
        stack: "stacks/web".into(),
        status: None,
        registry: None,
        image: None,
        apply: ApplyMode::Manual,
        manual_waves: BTreeSet::new(),
        max_jobs_per_pipeline: limits::DEFAULT_MAX_JOBS_PER_PIPELINE,
        shard_dir: "ci/child-shards".into(),
        generate_job: "generate".into(),
    }
}

fn tenants(n: usize) -> Vec<Tenant> {
    (1..=n)
        .map(|i| {
            let id = format!("tenant-{i:04}");
            Tenant::new(&id, &id, format!("{id}@example.com"), "basic")
        })
        .collect()
}

fn golden(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run with UPDATE_GOLDEN=1 to create it",
            path.display()
        )
    });
    assert!(
        expected == actual,
        "{} differs from the generated YAML (UPDATE_GOLDEN=1 rewrites it):\n{actual}",
        path.display()
    );
}

fn parse(yaml: &str) -> Mapping {
    serde_yaml::from_str(yaml)
        .unwrap_or_else(|e| panic!("generated YAML does not parse: {e}\n{yaml}"))
}

const KEYWORDS: [&str; 3] = ["stages", "variables", "default"];

fn jobs(doc: &Mapping) -> Vec<(&str, &Value)> {
    doc.iter()
        .map(|(k, v)| (k.as_str().unwrap(), v))
        .filter(|(k, _)| !KEYWORDS.contains(k))
        .collect()
}

fn stages(doc: &Mapping) -> Vec<String> {
    doc["stages"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn golden_canary_then_manual_wave() {
    let mut s = settings();
    s.manual_waves.insert("rest".into());
    s.registry = Some("dynamodb://saas-registry?region=eu-west-1".into());
    s.image = Some("registry.example.com/saasctl:0.1".into());
    let waves = waves::resolve(Some("canary=tenant-0002;rest"), &tenants(4)).unwrap();
    let out = generate(&s, &waves).unwrap();
    assert!(out.shards.is_empty());
    golden("canary-manual-wave.yml", &out.main);
}

#[test]
fn golden_one_wave_auto_apply() {
    let mut s = settings();
    s.apply = ApplyMode::Auto;
    s.stack = "stacks/my web".into();
    let out = generate(&s, &waves::resolve(None, &tenants(2)).unwrap()).unwrap();
    golden("one-wave-auto.yml", &out.main);
}

#[test]
fn golden_empty_selection_is_one_no_op_job() {
    let out = generate(&settings(), &waves::resolve(None, &[]).unwrap()).unwrap();
    golden("empty.yml", &out.main);
    let doc = parse(&out.main);
    assert_eq!(jobs(&doc).len(), 1);
    assert_eq!(stages(&doc), ["noop"]);
}

#[test]
fn golden_sharded_router_and_shard() {
    let mut s = settings();
    s.max_jobs_per_pipeline = 8; // 3 tenants per shard
    let waves = waves::resolve(Some("canary=tenant-0001;rest"), &tenants(7)).unwrap();
    let out = generate(&s, &waves).unwrap();
    let paths: Vec<&str> = out.shards.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "ci/child-shards/canary-001.yml",
            "ci/child-shards/rest-001.yml",
            "ci/child-shards/rest-002.yml"
        ]
    );
    golden("sharded-router.yml", &out.main);
    golden("sharded-rest-002.yml", &out.shards[2].yaml);
}

#[test]
fn output_is_deterministic_whatever_the_registry_order() {
    let mut reversed = tenants(30);
    reversed.reverse();
    let s = settings();
    let a = generate(
        &s,
        &waves::resolve(Some("canary=tenant-0003;10%;rest"), &tenants(30)).unwrap(),
    )
    .unwrap();
    let b = generate(
        &s,
        &waves::resolve(Some("canary=tenant-0003;10%;rest"), &reversed).unwrap(),
    )
    .unwrap();
    assert_eq!(a.main, b.main);
}

#[test]
fn waves_are_ordered_stages_and_applies_need_only_their_plan() {
    let waves = waves::resolve(Some("canary=tenant-0001;rest"), &tenants(3)).unwrap();
    let doc = parse(&generate(&settings(), &waves).unwrap().main);
    assert_eq!(
        stages(&doc),
        [
            "canary-plan",
            "canary-apply",
            "rest-plan",
            "rest-apply",
            "report"
        ]
    );
    for (name, job) in jobs(&doc) {
        if let Some(tenant) = name.strip_prefix("plan:") {
            // No needs: a plan waits for every earlier stage, so wave N+1
            // starts only after wave N applied.
            assert!(job.get("needs").is_none(), "{name}");
            assert_eq!(job["resource_group"], format!("saas/web/{tenant}").as_str());
        } else if let Some(tenant) = name.strip_prefix("apply:") {
            let needs = job["needs"].as_sequence().unwrap();
            assert_eq!(needs.len(), 1);
            assert_eq!(needs[0]["job"], format!("plan:{tenant}").as_str());
            assert_eq!(job["when"], "manual");
            assert_eq!(job["allow_failure"], false);
            let script = job["script"][0].as_str().unwrap();
            assert!(
                script.contains(&format!("--from-run \"$CI_PIPELINE_ID-{tenant}\"")),
                "{script}"
            );
        }
    }
    assert_eq!(doc["plan:tenant-0001"]["stage"], "canary-plan");
    assert_eq!(doc["apply:tenant-0003"]["stage"], "rest-apply");
}

#[test]
fn unknown_manual_waves_and_tiny_limits_say_why() {
    let waves = waves::resolve(None, &tenants(3)).unwrap();
    let mut s = settings();
    s.manual_waves.insert("canary".into());
    let err = generate(&s, &waves).unwrap_err().to_string();
    assert!(
        err.contains("\"canary\" is not a wave") && err.contains("waves: all"),
        "{err}"
    );

    let mut s = settings();
    s.max_jobs_per_pipeline = 3;
    let err = generate(&s, &waves).unwrap_err().to_string();
    assert!(
        err.contains("too small") && err.contains("at least 4 jobs"),
        "{err}"
    );
}

#[test]
fn tenant_ids_are_validated_before_they_become_names_and_paths() {
    let waves = vec![Wave {
        name: "all".into(),
        tenants: vec!["ok".into(), "../../etc".into()],
    }];
    let err = generate(&settings(), &waves).unwrap_err().to_string();
    assert!(
        err.contains("invalid tenant") && err.contains("../../etc"),
        "{err}"
    );
}

#[test]
fn a_selection_that_cannot_fit_names_the_limit() {
    let mut s = settings();
    s.max_jobs_per_pipeline = 4; // one tenant per shard: 5000 shards
    let err = generate(&s, &waves::resolve(None, &tenants(5000)).unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cannot fit") && err.contains("1000 downstream pipelines"),
        "{err}"
    );
}

/// What an independent reading of the generated files finds.
#[derive(Default)]
struct Census {
    planned: BTreeMap<String, String>,
    applied: BTreeMap<String, String>,
}

/// Checks one pipeline file against GitLab's limits by parsing it, and
/// records which tenants it plans and applies.
fn check_limits(file: &str, yaml: &str, max_jobs: usize, census: &mut Census) -> Vec<String> {
    assert!(
        yaml.len() <= 5 * 1024 * 1024,
        "{file}: {} bytes",
        yaml.len()
    );
    let doc = parse(yaml);
    let jobs = jobs(&doc);
    assert!(jobs.len() <= max_jobs, "{file}: {} jobs", jobs.len());
    let stage_names = stages(&doc);
    let mut includes = Vec::new();
    for (name, job) in &jobs {
        let stage = job["stage"].as_str().unwrap();
        assert!(
            stage_names.iter().any(|s| s == stage),
            "{file}: {name} in unknown stage {stage}"
        );
        if let Some(needs) = job.get("needs") {
            assert!(needs.as_sequence().unwrap().len() <= 50, "{file}: {name}");
        }
        if let Some(trigger) = job.get("trigger") {
            let list = trigger["include"].as_sequence().unwrap();
            assert!(list.len() <= 3, "{file}: {name} includes {}", list.len());
            assert_eq!(trigger["strategy"], "depend");
            includes.extend(
                list.iter()
                    .map(|i| i["artifact"].as_str().unwrap().to_string()),
            );
        }
        if let Some(t) = name.strip_prefix("plan:") {
            assert!(
                census.planned.insert(t.into(), file.into()).is_none(),
                "{t} planned twice"
            );
        }
        if let Some(t) = name.strip_prefix("apply:") {
            let need = job["needs"][0]["job"].as_str().unwrap();
            assert!(
                doc.contains_key(need),
                "{file}: {name} needs {need}, not in this pipeline"
            );
            assert!(
                census.applied.insert(t.into(), file.into()).is_none(),
                "{t} applied twice"
            );
        }
    }
    includes
}

#[test]
fn five_thousand_tenants_shard_within_every_limit() {
    let all = tenants(5000);
    let waves = waves::resolve(Some("canary=tenant-0042,tenant-4242;5%;rest"), &all).unwrap();
    let s = settings();
    let out = generate(&s, &waves).unwrap();
    let files: BTreeMap<&str, &str> = out
        .shards
        .iter()
        .map(|f| (f.path.as_str(), f.yaml.as_str()))
        .collect();
    let mut census = Census::default();

    // Depth 1: the router. It may only trigger shard files.
    let children = check_limits("router", &out.main, 500, &mut census);
    assert!(
        census.planned.is_empty(),
        "the router runs no tenant itself"
    );
    assert_eq!(children.len(), out.shards.len());
    assert_eq!(
        children.iter().collect::<BTreeSet<_>>().len(),
        children.len(),
        "a shard included twice"
    );
    // Depth 2: the shards. They trigger nothing, so nesting stops at 2.
    for child in &children {
        let yaml = files
            .get(child.as_str())
            .unwrap_or_else(|| panic!("router includes {child}, which was not generated"));
        let grandchildren = check_limits(child, yaml, 500, &mut census);
        assert!(
            grandchildren.is_empty(),
            "{child} triggers further pipelines"
        );
    }
    let ids: BTreeSet<String> = all.iter().map(|t| t.id.clone()).collect();
    assert_eq!(census.planned.keys().cloned().collect::<BTreeSet<_>>(), ids);
    assert_eq!(census.applied.keys().cloned().collect::<BTreeSet<_>>(), ids);
    // Each tenant's apply sits in the same shard as its plan.
    assert_eq!(census.planned, census.applied);
    // The canary wave runs first in the router, in its own stage.
    let router = parse(&out.main);
    let stage_list = stages(&router);
    assert_eq!(stage_list[..3], ["shards", "wave-canary", "wave-wave2"]);
    assert_eq!(router["shard:canary-001"]["stage"], "wave-canary");
    assert_eq!(
        census.planned["tenant-0042"],
        "ci/child-shards/canary-001.yml"
    );
}

#[test]
fn large_job_limits_still_split_files_over_five_megabytes() {
    let mut s = settings();
    s.max_jobs_per_pipeline = 100_000;
    // 1500 tenants fit one pipeline by job count; with a long stack path
    // (it is in every script line) the bytes decide.
    s.stack = format!("stacks/{}", "x".repeat(2000));
    let out = generate(&s, &waves::resolve(None, &tenants(1500)).unwrap()).unwrap();
    assert!(out.shards.len() >= 2, "a child over 5 MB must be sharded");
    for file in &out.shards {
        assert!(file.yaml.len() <= limits::MAX_FILE_BYTES, "{}", file.path);
    }
    let total: usize = out.shards.iter().map(|f| f.yaml.len()).sum();
    assert!(
        total > limits::MAX_FILE_BYTES,
        "the test must need more than one file"
    );
}
