//! The rules every backend follows, one function each, run on both.

use saas_registry::{RecordKind, RegistryError, TenantFilter, TenantStatus};

use crate::fixture::{app, assert_invalid, ids, parse_time, set, tenant, Fixture};

pub async fn round_trip(fx: &Fixture) {
    let reg = fx.open().await;
    let shop = reg.create_application(&app("shop")).await.unwrap();
    let billing = reg.create_application(&app("billing")).await.unwrap();
    assert_eq!(
        reg.get_application("shop").await.unwrap(),
        Some(shop.clone())
    );
    assert_eq!(
        reg.list_applications().await.unwrap(),
        vec![billing.clone(), shop.clone()]
    );

    let mut acme = tenant("acme", "basic", &["shop"]);
    acme.variables.insert("plan".into(), "gold".into());
    // Typed inputs: stored and read back as the same JSON on every backend.
    acme.variables
        .insert("replicas".into(), serde_json::json!(2));
    acme.variables.insert(
        "limits".into(),
        serde_json::json!({"cpu": 4, "cidrs": ["10.1.0.0/16"], "burst": 0.5, "on": true}),
    );
    acme.sensitive_variables
        .insert("api_key".into(), "s3cret".into());
    acme.labels.insert("region".into(), "eu".into());
    acme.status = TenantStatus::Suspended;
    let acme = reg.create_tenant(&acme).await.unwrap();
    assert_eq!(reg.get_tenant("acme").await.unwrap(), Some(acme.clone()));
    assert_eq!(
        reg.list_tenants(&TenantFilter::default()).await.unwrap(),
        vec![acme.clone()]
    );
    assert_eq!(
        reg.list_tenants(&TenantFilter::for_application("shop"))
            .await
            .unwrap(),
        vec![acme.clone()]
    );
    assert!(reg
        .list_tenants(&TenantFilter::for_application("billing"))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(reg.get_tenant("nobody").await.unwrap(), None);
    assert_eq!(reg.get_application("nothing").await.unwrap(), None);

    // Another connection sees exactly what was written.
    let other = fx.open().await;
    assert_eq!(other.get_tenant("acme").await.unwrap(), Some(acme));
    assert_eq!(
        other.list_applications().await.unwrap(),
        vec![billing, shop]
    );
}

pub async fn create_existing_fails(fx: &Fixture) {
    let reg = fx.open().await;
    let shop = reg.create_application(&app("shop")).await.unwrap();
    let mut again = app("shop");
    again.description = "overwritten?".into();
    match reg.create_application(&again).await {
        Err(RegistryError::AlreadyExists {
            kind: RecordKind::Application,
            id,
        }) => assert_eq!(id, "shop"),
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    assert_eq!(reg.get_application("shop").await.unwrap(), Some(shop));

    let acme = reg
        .create_tenant(&tenant("acme", "basic", &["shop"]))
        .await
        .unwrap();
    let mut again = tenant("acme", "premium", &[]);
    again.name = "Someone Else".into();
    match reg.create_tenant(&again).await {
        Err(RegistryError::AlreadyExists {
            kind: RecordKind::Tenant,
            id,
        }) => assert_eq!(id, "acme"),
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    assert_eq!(reg.get_tenant("acme").await.unwrap(), Some(acme));
    assert_eq!(
        reg.list_tenants(&TenantFilter::for_application("shop"))
            .await
            .unwrap()
            .len(),
        1
    );
}

pub async fn stale_update_conflicts(fx: &Fixture) {
    let reg = fx.open().await;
    let v1 = reg.create_application(&app("shop")).await.unwrap();
    let mut edit = v1.clone();
    edit.description = "first edit".into();
    let v2 = reg.update_application(&edit).await.unwrap();
    assert_eq!(v2.meta.version, 2);
    let mut stale = v1.clone();
    stale.description = "lost edit".into();
    match reg.update_application(&stale).await {
        Err(RegistryError::Conflict {
            kind: RecordKind::Application,
            expected: 1,
            actual: 2,
            ..
        }) => {}
        other => panic!("expected Conflict 1→2, got {other:?}"),
    }
    assert_eq!(reg.get_application("shop").await.unwrap(), Some(v2.clone()));

    let t1 = reg
        .create_tenant(&tenant("acme", "basic", &["shop"]))
        .await
        .unwrap();
    let mut edit = t1.clone();
    edit.name = "Acme Corp".into();
    let t2 = reg.update_tenant(&edit).await.unwrap();
    let mut stale = t1.clone();
    stale.name = "Lost Name".into();
    stale.applications.clear();
    match reg.update_tenant(&stale).await {
        Err(RegistryError::Conflict {
            kind: RecordKind::Tenant,
            id,
            expected: 1,
            actual: 2,
        }) => assert_eq!(id, "acme"),
        other => panic!("expected Conflict 1→2, got {other:?}"),
    }
    assert_eq!(reg.get_tenant("acme").await.unwrap(), Some(t2.clone()));
    assert_eq!(
        reg.list_tenants(&TenantFilter::for_application("shop"))
            .await
            .unwrap(),
        vec![t2.clone()]
    );

    // Deletes are conditional too.
    assert!(matches!(
        reg.delete_tenant("acme", Some(1)).await,
        Err(RegistryError::Conflict {
            expected: 1,
            actual: 2,
            ..
        })
    ));
    assert_eq!(reg.get_tenant("acme").await.unwrap(), Some(t2));
    reg.delete_tenant("acme", Some(2)).await.unwrap();
    assert_eq!(reg.get_tenant("acme").await.unwrap(), None);
    assert!(matches!(
        reg.delete_tenant("acme", None).await,
        Err(RegistryError::NotFound {
            kind: RecordKind::Tenant,
            ..
        })
    ));
    assert!(matches!(
        reg.delete_application("shop", Some(1)).await,
        Err(RegistryError::Conflict {
            expected: 1,
            actual: 2,
            ..
        })
    ));
    reg.delete_application("shop", Some(2)).await.unwrap();
    assert!(matches!(
        reg.delete_application("shop", None).await,
        Err(RegistryError::NotFound {
            kind: RecordKind::Application,
            ..
        })
    ));
}

pub async fn application_in_use(fx: &Fixture) {
    let reg = fx.open().await;
    reg.create_application(&app("shop")).await.unwrap();
    reg.create_application(&app("billing")).await.unwrap();
    reg.create_tenant(&tenant("acme", "basic", &["shop"]))
        .await
        .unwrap();
    let globex = reg
        .create_tenant(&tenant("globex", "basic", &["shop", "billing"]))
        .await
        .unwrap();

    match reg.delete_application("shop", None).await {
        Err(RegistryError::InUse {
            application,
            count: 2,
        }) => assert_eq!(application, "shop"),
        other => panic!("expected InUse with 2 tenants, got {other:?}"),
    }
    assert!(reg.get_application("shop").await.unwrap().is_some());

    reg.delete_tenant("acme", None).await.unwrap();
    assert!(matches!(
        reg.delete_application("shop", Some(1)).await,
        Err(RegistryError::InUse { count: 1, .. })
    ));

    // Leaving the application releases it.
    let mut moved = globex.clone();
    moved.applications = set(&["billing"]);
    reg.update_tenant(&moved).await.unwrap();
    assert!(reg
        .list_tenants(&TenantFilter::for_application("shop"))
        .await
        .unwrap()
        .is_empty());
    reg.delete_application("shop", Some(1)).await.unwrap();
    assert_eq!(reg.get_application("shop").await.unwrap(), None);
    assert!(matches!(
        reg.delete_application("billing", None).await,
        Err(RegistryError::InUse { count: 1, .. })
    ));
}

pub async fn unknown_application_is_invalid(fx: &Fixture) {
    let reg = fx.open().await;
    reg.create_application(&app("shop")).await.unwrap();
    assert_invalid(
        reg.create_tenant(&tenant("acme", "basic", &["shop", "nope"]))
            .await,
        "applications",
    );
    assert_eq!(reg.get_tenant("acme").await.unwrap(), None);
    assert!(reg
        .list_tenants(&TenantFilter::for_application("shop"))
        .await
        .unwrap()
        .is_empty());

    // The backend itself re-checks at commit time, so a tenant can never
    // reference an application deleted after the front door looked.
    let mut direct = tenant("acme", "basic", &["nope"]);
    direct.meta.version = 1;
    assert_invalid(reg.store().insert_tenant(&direct).await, "applications");
    assert_eq!(reg.get_tenant("acme").await.unwrap(), None);

    let stored = reg
        .create_tenant(&tenant("acme", "basic", &["shop"]))
        .await
        .unwrap();
    let mut next = stored.clone();
    next.applications = set(&["shop", "gone"]);
    next.meta.version = 2;
    assert_invalid(reg.store().replace_tenant(&next, 1).await, "applications");
    assert_eq!(reg.get_tenant("acme").await.unwrap(), Some(stored));
    // Nothing half-written: the application still counts exactly one tenant.
    assert!(matches!(
        reg.delete_application("shop", None).await,
        Err(RegistryError::InUse { count: 1, .. })
    ));
}

pub async fn tier_not_allowed_is_invalid(fx: &Fixture) {
    let reg = fx.open().await;
    let mut shop = app("shop");
    shop.tiers = set(&["basic", "standard"]);
    reg.create_application(&shop).await.unwrap();
    assert_invalid(
        reg.create_tenant(&tenant("acme", "premium", &["shop"]))
            .await,
        "tier",
    );
    assert_eq!(reg.get_tenant("acme").await.unwrap(), None);

    let mut direct = tenant("acme", "premium", &["shop"]);
    direct.meta.version = 1;
    assert_invalid(reg.store().insert_tenant(&direct).await, "tier");
    assert_eq!(reg.get_tenant("acme").await.unwrap(), None);

    let stored = reg
        .create_tenant(&tenant("acme", "standard", &["shop"]))
        .await
        .unwrap();
    let mut upgrade = stored.clone();
    upgrade.tier = "premium".into();
    assert_invalid(reg.update_tenant(&upgrade).await, "tier");
    upgrade.meta.version = 2;
    assert_invalid(reg.store().replace_tenant(&upgrade, 1).await, "tier");
    assert_eq!(reg.get_tenant("acme").await.unwrap(), Some(stored));
}

/// id, tier, status, applications, labels.
type TenantSpec = (
    &'static str,
    &'static str,
    TenantStatus,
    &'static [&'static str],
    &'static [(&'static str, &'static str)],
);

pub async fn filters(fx: &Fixture) {
    let reg = fx.open().await;
    reg.create_application(&app("shop")).await.unwrap();
    reg.create_application(&app("billing")).await.unwrap();
    let specs: [TenantSpec; 4] = [
        (
            "d-tenant",
            "basic",
            TenantStatus::Offboarding,
            &[],
            &[("region", "eu")],
        ),
        (
            "a-tenant",
            "basic",
            TenantStatus::Active,
            &["shop"],
            &[("region", "eu")],
        ),
        (
            "c-tenant",
            "standard",
            TenantStatus::Active,
            &["billing"],
            &[("region", "eu")],
        ),
        (
            "b-tenant",
            "premium",
            TenantStatus::Suspended,
            &["shop", "billing"],
            &[("region", "us"), ("team", "x")],
        ),
    ];
    let mut created = Vec::new();
    for (id, tier, status, apps, labels) in specs {
        let mut t = tenant(id, tier, apps);
        t.status = status;
        t.labels = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        created.push(reg.create_tenant(&t).await.unwrap());
    }
    created.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(
        reg.list_tenants(&TenantFilter::default()).await.unwrap(),
        created
    );

    let label = |k: &str, v: &str| [(k.to_string(), v.to_string())].into_iter().collect();
    let cases: Vec<(TenantFilter, Vec<&str>)> = vec![
        (
            TenantFilter::for_application("shop"),
            vec!["a-tenant", "b-tenant"],
        ),
        (
            TenantFilter::for_application("billing"),
            vec!["b-tenant", "c-tenant"],
        ),
        (
            TenantFilter {
                tier: Some("basic".into()),
                ..Default::default()
            },
            vec!["a-tenant", "d-tenant"],
        ),
        (
            TenantFilter {
                status: Some(TenantStatus::Active),
                ..Default::default()
            },
            vec!["a-tenant", "c-tenant"],
        ),
        (
            TenantFilter {
                labels: label("region", "eu"),
                ..Default::default()
            },
            vec!["a-tenant", "c-tenant", "d-tenant"],
        ),
        (
            TenantFilter {
                labels: label("region", "eu"),
                ..TenantFilter::for_application("shop")
            },
            vec!["a-tenant"],
        ),
        (
            TenantFilter {
                status: Some(TenantStatus::Suspended),
                ..TenantFilter::for_application("billing")
            },
            vec!["b-tenant"],
        ),
        (
            TenantFilter {
                ids: set(&["d-tenant", "b-tenant", "zz"]),
                ..Default::default()
            },
            vec!["b-tenant", "d-tenant"],
        ),
        (
            TenantFilter {
                labels: label("team", "y"),
                ..Default::default()
            },
            vec![],
        ),
        (
            TenantFilter {
                tier: Some("premium".into()),
                ..TenantFilter::for_application("shop")
            },
            vec!["b-tenant"],
        ),
    ];
    for (filter, expected) in cases {
        let found = reg.list_tenants(&filter).await.unwrap();
        assert_eq!(ids(&found), expected, "{filter:?}");
        for t in &found {
            assert_eq!(
                Some(t),
                created.iter().find(|c| c.id == t.id),
                "listing returns full records"
            );
        }
    }
}

pub async fn versions_and_timestamps(fx: &Fixture) {
    let reg = fx.open().await;
    let shop = reg.create_application(&app("shop")).await.unwrap();
    assert_eq!(shop.meta.version, 1);
    assert_eq!(shop.meta.created_at, shop.meta.updated_at);
    parse_time(&shop.meta.created_at);

    let t1 = reg
        .create_tenant(&tenant("acme", "basic", &["shop"]))
        .await
        .unwrap();
    assert_eq!(t1.meta.version, 1);
    assert_eq!(t1.meta.created_at, t1.meta.updated_at);
    let created = parse_time(&t1.meta.created_at);

    // Unchanged content still counts as a write: the version moves.
    let t2 = reg.update_tenant(&t1).await.unwrap();
    let mut edit = t2.clone();
    edit.variables.insert("size".into(), "large".into());
    let t3 = reg.update_tenant(&edit).await.unwrap();
    assert_eq!((t2.meta.version, t3.meta.version), (2, 3));
    for t in [&t2, &t3] {
        assert_eq!(
            t.meta.created_at, t1.meta.created_at,
            "created_at never changes"
        );
        assert!(parse_time(&t.meta.updated_at) >= created);
    }
    assert!(parse_time(&t3.meta.updated_at) >= parse_time(&t2.meta.updated_at));

    // Reads are stable and match what the write returned, also in listings.
    let read = reg.get_tenant("acme").await.unwrap().unwrap();
    assert_eq!(read, t3);
    assert_eq!(reg.get_tenant("acme").await.unwrap().unwrap(), read);
    assert_eq!(
        reg.list_tenants(&TenantFilter::for_application("shop"))
            .await
            .unwrap(),
        vec![t3.clone()]
    );
    assert_eq!(fx.open().await.get_tenant("acme").await.unwrap(), Some(t3));
}
