//! Scenario 5: the hostile-input corpus (`testdata/hostile-inputs.json`)
//! through the provider and through the CLI (direct registry calls are in
//! `registry/src/hostile_tests.rs`). Every case is rejected with a message
//! that names its field; the registry file and S3 stay unchanged.

use std::collections::BTreeMap;
use std::path::Path;

use saas_e2e::{moto_url, run_ok, sqlite_url, terraform, unique_name};
use saas_registry::hostile_corpus::{self, Case};
use saas_registry::{Application, Isolation, LockKind, Registry, StateConfig};
use serde_json::{json, Value};

use super::{block_on, s3_at, stack, text, Fleet};

fn corpus() -> Vec<Case> {
    let cases = hostile_corpus::load(&saas_e2e::root().join("testdata/hostile-inputs.json"));
    assert!(cases.len() >= 60, "the corpus must hold at least 60 cases");
    cases
}

/// Terraform's JSON syntax treats strings as templates: escape `${` and `%{`.
fn literal(value: &str) -> String {
    value.replace("${", "$${").replace("%{", "%%{")
}

/// `web` (prefix isolation) and `vault` (a bucket per tenant), as the
/// registry's own corpus test sets them up.
fn applications(registry: &Registry, bucket: &str) {
    let web = StateConfig {
        bucket: Some(bucket.into()),
        lock_table: Some(format!("{bucket}-locks")),
        ..Default::default()
    };
    let vault = StateConfig {
        isolation: Isolation::Bucket,
        bucket_prefix: Some("acme-vault".into()),
        lock: LockKind::S3,
        ..Default::default()
    };
    block_on(async {
        registry
            .create_application(&Application::new("web", web))
            .await
            .unwrap();
        registry
            .create_application(&Application::new("vault", vault))
            .await
            .unwrap();
    });
}

/// The `saas_tenant` a case describes, as Terraform JSON.
fn tenant_resource(case: &Case) -> Value {
    let value = literal(&case.value());
    let mut tenant = json!({
        "id": "probe",
        "name": "Probe Inc",
        "email": "ops@probe.example",
        "tier": "basic",
        "applications": ["web"],
    });
    match case.target.as_str() {
        "tenant.id" => tenant["id"] = json!(value),
        "tenant.id@bucket-app" => {
            tenant["id"] = json!(value);
            tenant["applications"] = json!(["vault"]);
        }
        "tenant.name" => tenant["name"] = json!(value),
        "tenant.email" => tenant["email"] = json!(value),
        "tenant.tier" => tenant["tier"] = json!(value),
        "tenant.applications" => tenant["applications"] = json!([value]),
        other => panic!("unknown target {other}"),
    }
    tenant
}

/// Terraform's error diagnostics, each as the text from `Error:` to the
/// next one, keyed by the resource or provider address it names.
fn diagnostics(stderr: &str) -> BTreeMap<String, Vec<String>> {
    let mut found: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for block in stderr.split("Error: ").skip(1) {
        let address = block
            .lines()
            .find_map(|l| l.trim_start_matches(['│', ' ']).strip_prefix("with "))
            .map(|a| a.trim_end_matches(',').to_string())
            .unwrap_or_default();
        found.entry(address).or_default().push(block.to_string());
    }
    found
}

/// The configuration holding the given cases: a `saas_tenant` per tenant
/// case, an aliased provider (used by a data source) per registry URL.
fn write_config(dir: &Path, cases: &[Case], which: &[usize]) {
    let mut resources = serde_json::Map::new();
    let mut providers = vec![json!({})];
    let mut data = serde_json::Map::new();
    for &i in which {
        let case = &cases[i];
        if case.target == "registry.url" {
            providers.push(json!({"alias": format!("u{i}"), "registry": literal(&case.value())}));
            data.insert(format!("u{i}"), json!({"provider": format!("saas.u{i}")}));
        } else {
            resources.insert(format!("c{i}"), tenant_resource(case));
        }
    }
    let mut config = json!({
        "terraform": {"required_providers": {"saas": {"source": "saasctl/saas"}}},
        "provider": {"saas": providers},
    });
    if !resources.is_empty() {
        config["resource"] = json!({ "saas_tenant": resources });
    }
    if !data.is_empty() {
        config["data"] = json!({ "saas_tenants": data });
    }
    std::fs::write(
        dir.join("main.tf.json"),
        serde_json::to_string_pretty(&config).unwrap(),
    )
    .unwrap();
}

/// Where Terraform reports case `i`'s diagnostic.
fn address(case: &Case, i: usize) -> String {
    if case.target == "registry.url" {
        format!("provider[\"registry.terraform.io/saasctl/saas\"].u{i}")
    } else {
        format!("saas_tenant.c{i}")
    }
}

fn summary(case: &Case) -> String {
    if case.target == "registry.url" {
        "Invalid registry URL".into()
    } else {
        format!("Invalid {}", case.field)
    }
}

#[test]
fn hostile_corpus_through_the_provider() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    {
        let registry = block_on(Registry::open(&url)).unwrap();
        block_on(registry.init()).unwrap();
        applications(&registry, "hostile-tfstate");
    }
    let before = registry_bytes(dir.path());

    let cases = corpus();
    let work = tempfile::tempdir().unwrap();
    let tf = |args: &[&str]| {
        let mut cmd = terraform(work.path());
        cmd.env("SAAS_REGISTRY", &url)
            .env("NO_COLOR", "1")
            .args(args)
            .arg("-no-color");
        cmd
    };
    // Terraform stops after validation errors before it plans, so the cases
    // only the plan can reject (they need the registry) come in a later round.
    // A well-formed name of an application that does not exist may be created
    // by the same apply, so the plan only warns and apply rejects it.
    let (apply_time, mut open): (Vec<usize>, Vec<usize>) = (0..cases.len()).partition(|&i| {
        cases[i].field == "applications"
            && saas_registry::validate::slug("applications", &cases[i].value()).is_ok()
    });
    let mut rounds = 0;
    while !open.is_empty() {
        rounds += 1;
        assert!(rounds <= 3, "cases never rejected: {open:?}");
        write_config(work.path(), &cases, &open);
        if rounds == 1 {
            run_ok(&mut tf(&["init", "-input=false"]));
        }
        let out = tf(&["plan", "-input=false"]).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        let diags = diagnostics(&stderr);
        let before_round = open.len();
        open.retain(|&i| {
            let case = &cases[i];
            let Some(blocks) = diags.get(&address(case, i)) else {
                return true;
            };
            let summary = summary(case);
            assert!(
                blocks.iter().any(|b| b.starts_with(&summary)),
                "{} ({:?}): the diagnostic does not name {}: {blocks:?}",
                case.why,
                case.value(),
                case.field
            );
            false
        });
        assert!(
            open.len() < before_round,
            "no case rejected in round {rounds}: {stderr}"
        );
    }
    write_config(work.path(), &cases, &apply_time);
    let out = tf(&["apply", "-auto-approve", "-input=false"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let diags = diagnostics(&String::from_utf8_lossy(&out.stderr));
    for &i in &apply_time {
        let blocks = diags.get(&address(&cases[i], i));
        assert!(
            blocks.is_some_and(|b| b.iter().any(|b| b.starts_with(&summary(&cases[i])))),
            "{}: apply did not reject it on {}: {}",
            cases[i].why,
            cases[i].field,
            text(&out)
        );
    }
    let rejected = cases.len();
    assert!(
        registry_bytes(dir.path()) == before,
        "the registry files changed"
    );
    println!(
        "reliability: hostile corpus through the provider: {rejected}/{} cases in {rounds} terraform plans and one apply \
         ({} unknown applications, left to apply) => every one rejected by a diagnostic naming its attribute; registry file byte-for-byte unchanged",
        cases.len(),
        apply_time.len()
    );
}

/// How the CLI takes a case's value (as `--flag=VALUE`, so a leading `-`
/// stays a value), or why it cannot.
fn cli_args(case: &Case, value: &str, s: &str) -> Result<Vec<Vec<String>>, &'static str> {
    if value.contains('\0') {
        return Err("NUL cannot be passed in argv");
    }
    let t = format!("--tenant={value}");
    let a = format!("--application={value}");
    let stack = format!("--stack={s}");
    let commands: Vec<Vec<&str>> = match case.target.as_str() {
        "tenant.id" => vec![
            vec!["backend", "config", "-a", "web", &t],
            vec!["backend", "policy", "-a", "web", &t],
            vec![
                "backend",
                "bootstrap",
                "-a",
                "web",
                &t,
                "--encryption",
                "aes256",
            ],
            vec!["plan", "-a", "web", &stack, &t],
            vec!["unlock", "-a", "web", &stack, &t, "--force"],
        ],
        "tenant.id@bucket-app" => vec![
            vec!["backend", "config", "-a", "vault", &t],
            vec![
                "backend",
                "bootstrap",
                "-a",
                "vault",
                &t,
                "--encryption",
                "aes256",
            ],
        ],
        "tenant.applications" => vec![
            vec!["backend", "config", &a, "-t", "base"],
            vec!["backend", "bootstrap", &a, "--encryption", "aes256"],
            vec!["plan", &a, &stack],
            vec!["tenants", &a],
        ],
        "registry.url" => vec![vec!["tenants"], vec!["plan", "-a", "web", &stack]],
        _ => return Err("no saasctl command takes this field"),
    };
    Ok(commands
        .into_iter()
        .map(|c| c.into_iter().map(String::from).collect())
        .collect())
}

#[test]
fn hostile_corpus_through_the_cli() {
    let fleet = Fleet::new();
    let bucket = unique_name("rel-hostile");
    applications(&fleet.registry(), &bucket);
    fleet.add_tenant("web", "base", 1, &[]);
    let before = registry_bytes(fleet.path());
    let s = stack();

    let (mut rejected, mut runs) = (0, 0);
    let mut not_applicable: BTreeMap<&str, usize> = BTreeMap::new();
    let cases = corpus();
    for case in &cases {
        let value = case.value();
        let commands = match cli_args(case, &value, &s) {
            Ok(commands) => commands,
            Err(why) => {
                *not_applicable.entry(why).or_default() += 1;
                continue;
            }
        };
        for args in commands {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let mut cmd = if case.target == "registry.url" {
                fleet.saasctl_on(&value, &args)
            } else {
                fleet.saasctl(&args)
            };
            let out = cmd.output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            let what = format!("{} ({value:?}) via saasctl {args:?}", case.why);
            // A malformed value is invalid input (65). A well-formed one that no
            // record can have (an unknown application, an id only invalid for vault's
            // derived bucket) may instead be "does not exist" (66).
            let codes: &[i32] = if saas_registry::validate::slug(&case.field, &value).is_ok() {
                &[65, 66]
            } else {
                &[65]
            };
            let code = out.status.code().unwrap_or(-1);
            assert!(codes.contains(&code), "{what}: exit {code}: {}", text(&out));
            assert_eq!(
                stderr.trim_end().lines().count(),
                1,
                "{what}: not one line: {stderr}"
            );
            let names = match case.field.as_str() {
                "id" => ["tenant", "id"].iter().any(|f| stderr.contains(f)),
                "applications" => ["application"].iter().any(|f| stderr.contains(f)),
                "registry" => stderr.contains("registry"),
                _ => unreachable!(),
            };
            assert!(names, "{what}: the error does not name the field: {stderr}");
            assert!(out.stdout.is_empty(), "{what}: printed {:?}", out.stdout);
            runs += 1;
        }
        rejected += 1;
    }
    assert!(
        registry_bytes(fleet.path()) == before,
        "the registry files changed"
    );
    assert_s3_untouched(&bucket);
    println!(
        "reliability: hostile corpus through the CLI: {runs} saasctl runs over {rejected} cases \
         (not applicable: {not_applicable:?}) => every one exit 65 (66 allowed for well-formed names no record can have) with one stderr line naming the field, \
         nothing on stdout; registry file byte-for-byte unchanged, no bucket created"
    );
}

/// The SQLite registry's files (the database and its write-ahead log), byte for byte.
fn registry_bytes(dir: &Path) -> Vec<Vec<u8>> {
    ["registry.db", "registry.db-wal"]
        .iter()
        .map(|f| std::fs::read(dir.join(f)).unwrap_or_default())
        .collect()
}

/// Neither bootstrap nor anything else created the application's bucket.
fn assert_s3_untouched(bucket: &str) {
    let exists = block_on(async {
        s3_at(&moto_url())
            .await
            .head_bucket()
            .bucket(bucket)
            .send()
            .await
            .is_ok()
    });
    assert!(!exists, "bucket {bucket} was created");
}
