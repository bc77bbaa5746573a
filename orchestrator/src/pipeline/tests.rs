//! Generator tests: golden files (set `UPDATE_GOLDEN=1` to rewrite them after
//! an intended change, then review the diff) and GitLab's limits, checked by
//! parsing the generated YAML independently of `limits::check_file`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use saas_registry::Tenant;
use serde_json::{Map, Value};

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
        tenants_per_job: 1,
        batch_jobs: None,
        lock_file: Some("stacks/web/.terraform.lock.hcl".into()),
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

/// The YAML parsed back by the crate's parser into plain JSON values,
/// independently of how the generator counted while writing.
fn parse(yaml: &str) -> Map<String, Value> {
    serde_saphyr::from_str(yaml)
        .unwrap_or_else(|e| panic!("generated YAML does not parse: {e}\n{yaml}"))
}

const KEYWORDS: [&str; 3] = ["stages", "variables", "default"];

/// Jobs: every top-level key but keywords and hidden templates.
fn jobs(doc: &Map<String, Value>) -> Vec<(&str, &Value)> {
    doc.iter()
        .map(|(k, v)| (k.as_str(), v))
        .filter(|(k, _)| !KEYWORDS.contains(k) && !k.starts_with('.'))
        .collect()
}

fn stages(doc: &Map<String, Value>) -> Vec<String> {
    doc["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

/// The `--tenant` values of a job's saasctl command.
fn script_tenants(job: &Value) -> Vec<String> {
    let script = job["script"][0].as_str().unwrap();
    let words = shlex::split(script).unwrap();
    words
        .windows(2)
        .filter(|w| w[0] == "--tenant")
        .map(|w| w[1].clone())
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
    s.lock_file = None;
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
            assert_eq!(job["extends"], ".saas-plan");
            assert_eq!(job["variables"]["SAAS_BATCH"], tenant);
            assert_eq!(job["resource_group"], format!("saas/web/{tenant}").as_str());
        } else if let Some(tenant) = name.strip_prefix("apply:") {
            let needs = job["needs"].as_array().unwrap();
            assert_eq!(needs.len(), 1);
            assert_eq!(needs[0]["job"], format!("plan:{tenant}").as_str());
            assert_eq!(job["extends"], ".saas-apply");
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
/// records which tenants it plans and applies (from the jobs' commands).
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
            assert!(needs.as_array().unwrap().len() <= 50, "{file}: {name}");
        }
        if let Some(trigger) = job.get("trigger") {
            let list = trigger["include"].as_array().unwrap();
            assert!(list.len() <= 3, "{file}: {name} includes {}", list.len());
            assert_eq!(trigger["strategy"], "depend");
            includes.extend(
                list.iter()
                    .map(|i| i["artifact"].as_str().unwrap().to_string()),
            );
        }
        if name.starts_with("plan:") {
            for t in script_tenants(job) {
                assert!(
                    census.planned.insert(t.clone(), file.into()).is_none(),
                    "{t} planned twice"
                );
            }
        }
        if name.starts_with("apply:") {
            let need = job["needs"][0]["job"].as_str().unwrap();
            assert!(
                doc.contains_key(need),
                "{file}: {name} needs {need}, not in this pipeline"
            );
            assert_eq!(script_tenants(job), script_tenants(&doc[need]), "{name}");
            for t in script_tenants(job) {
                assert!(
                    census.applied.insert(t.clone(), file.into()).is_none(),
                    "{t} applied twice"
                );
            }
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

#[test]
fn batches_run_the_local_pool_and_keep_reports_per_tenant() {
    let mut s = settings();
    s.tenants_per_job = 2;
    s.batch_jobs = Some(2);
    let out = generate(&s, &waves::resolve(None, &tenants(5)).unwrap()).unwrap();
    let doc = parse(&out.main);
    let plan = &doc["plan:tenant-0001..tenant-0002"];
    assert_eq!(script_tenants(plan), ["tenant-0001", "tenant-0002"]);
    let script = plan["script"][0].as_str().unwrap();
    assert!(
        script.contains(" -j 2 --run-id \"$CI_PIPELINE_ID-tenant-0001\""),
        "{script}"
    );
    assert_eq!(plan["resource_group"], "saas/web/tenant-0001..tenant-0002");
    // The batch's run, named by its first tenant, which the template's
    // artifacts expand: every tenant's report in it, one JUnit file.
    assert_eq!(plan["variables"]["SAAS_BATCH"], "tenant-0001");
    let artifacts = &doc[".saas-plan"]["artifacts"];
    let run = ".saas/runs/$CI_PIPELINE_ID-$SAAS_BATCH";
    assert_eq!(
        artifacts["reports"]["terraform"],
        format!("{run}/*/tfplan.report.json")
    );
    assert_eq!(artifacts["reports"]["junit"], format!("{run}/junit.xml"));
    assert_eq!(artifacts["name"], "plan-$SAAS_BATCH");
    assert_eq!(
        artifacts["exclude"],
        serde_json::json!([format!("{run}/.*/**")])
    );
    let paths: Vec<&str> = artifacts["paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    for file in [
        "report.json",
        "junit.xml",
        "*/plan.tfplan",
        "*/terraform.log",
    ] {
        assert!(
            paths.contains(&format!("{run}/{file}").as_str()),
            "{paths:?}"
        );
    }
    assert!(
        doc[".saas-apply"]["artifacts"]["reports"]["terraform"].is_null(),
        "only plans feed the merge request widget"
    );
    assert_eq!(
        doc[".saas-apply"]["artifacts"]["reports"]["junit"],
        ".saas/runs/$CI_PIPELINE_ID-$SAAS_BATCH-apply/junit.xml"
    );
    // The odd tenant out is a batch of one, named as without batching.
    assert_eq!(script_tenants(&doc["apply:tenant-0005"]), ["tenant-0005"]);
    // The roll-up still expects every tenant.
    let expect = doc["report"]["script"][0].as_str().unwrap();
    let ids: Vec<String> = (1..=5).map(|i| format!("tenant-{i:04}")).collect();
    assert!(expect.ends_with(&format!("{} > .saas/expected-tenants", ids.join(" "))));
}

#[test]
fn five_thousand_tenants_at_twenty_one_per_job_need_no_router() {
    let mut s = settings();
    s.tenants_per_job = 21;
    let all = tenants(5000);
    let out = generate(&s, &waves::resolve(None, &all).unwrap()).unwrap();
    assert!(out.shards.is_empty(), "no router: one child pipeline");
    let mut census = Census::default();
    check_limits("child", &out.main, 500, &mut census);
    assert_eq!(out.jobs, 2 * 5000_usize.div_ceil(21) + 2);
    assert_eq!(jobs(&parse(&out.main)).len(), out.jobs);
    let ids: BTreeSet<String> = all.iter().map(|t| t.id.clone()).collect();
    assert_eq!(census.planned.keys().cloned().collect::<BTreeSet<_>>(), ids);
    assert_eq!(census.applied.keys().cloned().collect::<BTreeSet<_>>(), ids);
}

#[test]
fn ten_thousand_tenants_one_per_job_shard_within_every_limit() {
    let all = tenants(9999);
    let out = generate(&settings(), &waves::resolve(None, &all).unwrap()).unwrap();
    let mut census = Census::default();
    let children = check_limits("router", &out.main, 500, &mut census);
    assert_eq!(children.len(), out.shards.len());
    let mut jobs_seen = jobs(&parse(&out.main)).len();
    for file in &out.shards {
        assert!(check_limits(&file.path, &file.yaml, 500, &mut census).is_empty());
        jobs_seen += jobs(&parse(&file.yaml)).len();
    }
    assert_eq!(jobs_seen, out.jobs, "the writer's count is GitLab's count");
    assert_eq!(census.planned.len(), 9999);
    assert_eq!(census.planned, census.applied);
}

#[test]
fn provider_cache_is_keyed_on_the_lock_file_else_the_stack() {
    let waves = waves::resolve(None, &tenants(1)).unwrap();
    let doc = parse(&generate(&settings(), &waves).unwrap().main);
    let template = &doc[".saas-terraform"];
    assert_eq!(
        template["variables"]["TF_PLUGIN_CACHE_DIR"],
        "$CI_PROJECT_DIR/.saas/plugin-cache"
    );
    assert_eq!(
        template["cache"]["key"]["files"],
        serde_json::json!(["stacks/web/.terraform.lock.hcl"])
    );
    assert_eq!(
        template["cache"]["paths"],
        serde_json::json!([".saas/plugin-cache/"])
    );
    for template in [".saas-plan", ".saas-apply"] {
        assert_eq!(doc[template]["extends"], ".saas-terraform", "{template}");
    }
    assert_eq!(doc["plan:tenant-0001"]["extends"], ".saas-plan");
    assert_eq!(doc["apply:tenant-0001"]["extends"], ".saas-apply");
    assert!(doc["report"].get("extends").is_none());

    let mut s = settings();
    s.lock_file = None;
    let doc = parse(&generate(&s, &waves).unwrap().main);
    assert_eq!(
        doc[".saas-terraform"]["cache"]["key"],
        "saas-providers-stacks-web"
    );
}
