//! Several writers at once, each with its own connection (as separate
//! processes would have), and listings too big for one DynamoDB page.

use std::sync::Arc;

use saas_registry::{RecordKind, Registry, RegistryError, Tenant, TenantFilter};
use tokio::sync::Barrier;

use crate::fixture::{app, ids, tenant, Fixture};

const RACE_ROUNDS: u64 = 10;

/// Two writers update the same tenant from the same version, round after
/// round: exactly one wins, the other gets Conflict, and the stored record
/// is the winner's.
pub async fn race_same_tenant(fx: &Fixture) {
    let setup = fx.open_with_acme().await;
    let writers = [fx.open().await, fx.open().await];

    for round in 0..RACE_ROUNDS {
        let base = setup.require_tenant("acme").await.unwrap();
        assert_eq!(base.meta.version, round + 1);
        let barrier = Arc::new(Barrier::new(writers.len()));
        let tasks: Vec<_> = writers
            .iter()
            .enumerate()
            .map(|(n, reg)| {
                let (reg, barrier, mut edit) = (reg.clone(), Arc::clone(&barrier), base.clone());
                edit.variables
                    .insert("writer".into(), format!("writer-{n}-round-{round}").into());
                tokio::spawn(async move {
                    barrier.wait().await;
                    reg.update_tenant(&edit).await
                })
            })
            .collect();
        let mut winners = Vec::new();
        for task in tasks {
            match task.await.unwrap() {
                Ok(written) => winners.push(written),
                Err(RegistryError::Conflict {
                    kind: RecordKind::Tenant,
                    expected,
                    actual,
                    ..
                }) => {
                    assert_eq!((expected, actual), (round + 1, round + 2), "round {round}");
                }
                Err(other) => panic!("round {round}: unexpected error {other}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: exactly one writer wins");
        let stored = setup.require_tenant("acme").await.unwrap();
        assert_eq!(
            stored, winners[0],
            "round {round}: the winner's update is the one stored"
        );
        let listed = setup
            .list_tenants(&TenantFilter::for_application("shop"))
            .await
            .unwrap();
        assert_eq!(
            listed,
            vec![stored],
            "round {round}: the application's listing agrees"
        );
    }
}

/// An application is removed while a tenant joins it, both straight at the
/// store (after any front-door check): one of the two fails, and a tenant
/// never references a missing application.
pub async fn application_removal_races_tenant_join(fx: &Fixture) {
    let setup = fx.open().await;
    let (remover, joiner) = (fx.open().await, fx.open().await);
    for round in 0..RACE_ROUNDS {
        let name = format!("app-{round}");
        let id = format!("tenant-{round}");
        setup.create_application(&app(&name)).await.unwrap();
        let mut joining = tenant(&id, "basic", &[&name]);
        joining.meta.version = 1;
        let barrier = Arc::new(Barrier::new(2));
        let remove = {
            let (reg, barrier, name) = (remover.clone(), Arc::clone(&barrier), name.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                reg.store().remove_application(&name, None).await
            })
        };
        let join = {
            let (reg, barrier) = (joiner.clone(), Arc::clone(&barrier));
            tokio::spawn(async move {
                barrier.wait().await;
                reg.store().insert_tenant(&joining).await
            })
        };
        let (removed, joined) = (remove.await.unwrap(), join.await.unwrap());
        let members = setup
            .list_tenants(&TenantFilter::for_application(&name))
            .await
            .unwrap();
        match (&removed, &joined) {
            (Ok(()), Err(RegistryError::Invalid { field, .. })) if field == "applications" => {
                assert_eq!(setup.get_application(&name).await.unwrap(), None);
                assert_eq!(setup.get_tenant(&id).await.unwrap(), None);
                assert!(members.is_empty(), "round {round}");
            }
            (Err(RegistryError::InUse { count: 1, .. }), Ok(())) => {
                assert!(setup.get_application(&name).await.unwrap().is_some());
                assert_eq!(ids(&members), [id.as_str()], "round {round}");
            }
            other => panic!("round {round}: exactly one must fail, got {other:?}"),
        }
    }
}

/// Read-modify-write `updates` times, retrying nothing: each writer owns its tenant.
async fn bump(reg: Registry, id: String, updates: u64) -> Tenant {
    let mut last = None;
    for n in 0..updates {
        let mut t = reg.require_tenant(&id).await.unwrap();
        t.variables.insert("step".into(), n.to_string().into());
        last = Some(
            reg.update_tenant(&t)
                .await
                .unwrap_or_else(|e| panic!("{id} update {n}: {e}")),
        );
    }
    last.unwrap()
}

/// N writers on N different tenants: nobody conflicts, nothing is lost.
pub async fn concurrent_writers_on_different_tenants(fx: &Fixture) {
    const WRITERS: usize = 8;
    const UPDATES: u64 = 5;
    let setup = fx.open().await;
    setup.create_application(&app("shop")).await.unwrap();
    let mut tasks = Vec::new();
    for n in 0..WRITERS {
        let id = format!("tenant-{n}");
        setup
            .create_tenant(&tenant(&id, "basic", &["shop"]))
            .await
            .unwrap();
        tasks.push(tokio::spawn(bump(fx.open().await, id, UPDATES)));
    }
    let mut finals = Vec::new();
    for task in tasks {
        finals.push(task.await.unwrap());
    }
    finals.sort_by(|a, b| a.id.cmp(&b.id));
    for t in &finals {
        assert_eq!(t.meta.version, UPDATES + 1, "{}", t.id);
        assert_eq!(t.variables["step"], (UPDATES - 1).to_string());
    }
    assert_eq!(
        setup.list_tenants(&TenantFilter::default()).await.unwrap(),
        finals
    );
    assert_eq!(
        setup
            .list_tenants(&TenantFilter::for_application("shop"))
            .await
            .unwrap(),
        finals
    );
    assert!(matches!(
        setup.delete_application("shop", None).await,
        Err(RegistryError::InUse { count: WRITERS, .. })
    ));
}

/// 400 tenants of about 3 KB each (1.2 MB): more than DynamoDB's 1 MB page,
/// in the tenant partition and in the application's membership partition.
/// Fewer, larger tenants than the 1 MB needs at 1 KB each, because moto
/// copies the whole table on every transaction (quadratic in the count).
pub async fn listing_reads_every_page(fx: &Fixture) {
    const TENANTS: usize = 400;
    const TASKS: usize = 6;
    let setup = fx.open().await;
    setup.create_application(&app("shop")).await.unwrap();
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let reg = fx.open().await;
        tasks.push(tokio::spawn(async move {
            for n in (task..TENANTS).step_by(TASKS) {
                let tier = if n % 3 == 0 { "premium" } else { "basic" };
                let mut t = tenant(&format!("tenant-{n:05}"), tier, &["shop"]);
                for v in 0..4 {
                    t.variables
                        .insert(format!("var_{v}"), format!("{n:05}-{v}-").repeat(96).into());
                }
                reg.create_tenant(&t).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let expected: Vec<String> = (0..TENANTS).map(|n| format!("tenant-{n:05}")).collect();

    for pk in ["TENANT", "APP#shop"] {
        if let Some(partial) = fx.first_page_is_partial(pk).await {
            assert!(
                partial,
                "partition {pk} must span several pages for this test to mean anything"
            );
        }
    }
    let all = setup.list_tenants(&TenantFilter::default()).await.unwrap();
    assert_eq!(ids(&all), expected);
    assert!(all.iter().all(
        |t| t.variables.len() == 4 && t.variables["var_0"].as_str().map_or(0, str::len) == 768
    ));
    let of_shop = setup
        .list_tenants(&TenantFilter::for_application("shop"))
        .await
        .unwrap();
    assert_eq!(of_shop, all);
    let premium = setup
        .list_tenants(&TenantFilter {
            tier: Some("premium".into()),
            ..TenantFilter::for_application("shop")
        })
        .await
        .unwrap();
    assert_eq!(premium.len(), TENANTS.div_ceil(3));
    assert!(matches!(
        setup.delete_application("shop", None).await,
        Err(RegistryError::InUse { count: TENANTS, .. })
    ));
}
