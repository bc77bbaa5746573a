//! The hostile-input corpus (`testdata/hostile-inputs.json`) through direct
//! registry calls: every case is rejected naming its field, nothing changes.

use std::collections::BTreeSet;
use std::path::Path;

use crate::hostile_corpus::{self, Case};
use crate::{
    Application, Isolation, LockKind, Registry, RegistryError, StateConfig, Tenant, TenantFilter,
};

fn corpus() -> Vec<Case> {
    hostile_corpus::load(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/hostile-inputs.json"
    )))
}

fn valid_tenant(app: &str) -> Tenant {
    let mut t = Tenant::new("probe", "Probe Inc", "ops@probe.example", "basic");
    t.applications = BTreeSet::from([app.to_string()]);
    t
}

/// The tenant a case describes, or None when the case is not about tenants.
fn tenant_for(case: &Case) -> Option<Tenant> {
    let value = case.value();
    let mut t = valid_tenant("web");
    match case.target.as_str() {
        "tenant.id" => t.id = value,
        "tenant.id@bucket-app" => {
            t = valid_tenant("vault");
            t.id = value;
        }
        "tenant.name" => t.name = value,
        "tenant.email" => t.email = value,
        "tenant.tier" => t.tier = value,
        "tenant.applications" => t.applications = BTreeSet::from([value]),
        _ => return None,
    }
    Some(t)
}

async fn snapshot(registry: &Registry) -> String {
    let apps = registry.list_applications().await.unwrap();
    let tenants = registry
        .list_tenants(&TenantFilter::default())
        .await
        .unwrap();
    serde_json::to_string(&(apps, tenants)).unwrap()
}

#[tokio::test]
async fn hostile_corpus_is_rejected_through_direct_registry_calls() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/registry.db", dir.path().display());
    let registry = Registry::open(&url).await.unwrap();
    registry.init().await.unwrap();
    let web = StateConfig {
        bucket: Some("acme-tfstate".into()),
        lock_table: Some("acme-locks".into()),
        ..Default::default()
    };
    registry
        .create_application(&Application::new("web", web))
        .await
        .unwrap();
    let vault = StateConfig {
        isolation: Isolation::Bucket,
        bucket_prefix: Some("acme-vault".into()),
        lock: LockKind::S3,
        ..Default::default()
    };
    registry
        .create_application(&Application::new("vault", vault))
        .await
        .unwrap();
    let mut base = valid_tenant("web");
    base.id = "base".into();
    let base = registry.create_tenant(&base).await.unwrap();
    let before = snapshot(&registry).await;

    let cases = corpus();
    assert!(cases.len() >= 60, "the corpus must hold at least 60 cases");
    let mut rejected = 0;
    for case in &cases {
        let err = if case.target == "registry.url" {
            Registry::open(&case.value()).await.expect_err(&case.why)
        } else {
            let tenant =
                tenant_for(case).unwrap_or_else(|| panic!("unknown target {}", case.target));
            let err = registry.create_tenant(&tenant).await.expect_err(&case.why);
            // The same bad value as an update of an existing tenant (ids are immutable, so not for id).
            if case.field != "id" {
                let mut update = tenant.clone();
                update.id = base.id.clone();
                update.meta = base.meta.clone();
                let upd = registry.update_tenant(&update).await.expect_err(&case.why);
                assert_eq!(
                    upd.field(),
                    Some(case.field.as_str()),
                    "update: {}: {upd}",
                    case.why
                );
            }
            err
        };
        match (&err, case.field.as_str()) {
            (RegistryError::BadUrl { .. }, "registry") => {
                assert!(err.to_string().contains("registry URL"))
            }
            _ => assert_eq!(
                err.field(),
                Some(case.field.as_str()),
                "{}: {err}",
                case.why
            ),
        }
        assert!(
            err.to_string().contains(&case.field) || case.field == "registry",
            "{}: {err}",
            case.why
        );
        rejected += 1;
    }
    assert_eq!(snapshot(&registry).await, before, "the registry changed");
    println!("hostile corpus: {rejected}/{} cases rejected by direct registry calls, each naming its field; registry unchanged", cases.len());
}
