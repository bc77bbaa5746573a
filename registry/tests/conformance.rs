//! The registry conformance suite: every case is written once and runs
//! against SQLite (a temp file) and DynamoDB (a fresh table on moto; run via
//! scripts/test, which starts moto and sets SAAS_MOTO_URL).

#[path = "conformance/backends.rs"]
mod backends;
#[path = "conformance/cases.rs"]
mod cases;
#[path = "conformance/concurrency.rs"]
mod concurrency;
#[path = "conformance/fixture.rs"]
mod fixture;
#[path = "conformance/processes.rs"]
mod processes;

/// Instantiates each `module::case` once per backend, as
/// `sqlite::case` and `dynamodb::case`.
macro_rules! conformance {
    ($($module:ident :: $case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let fx = crate::fixture::Fixture::new(crate::fixture::Backend::Sqlite, stringify!($case)).await;
                    crate::$module::$case(&fx).await;
                    fx.cleanup().await;
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let fx = crate::fixture::Fixture::new(crate::fixture::Backend::Dynamodb, stringify!($case)).await;
                    crate::$module::$case(&fx).await;
                    fx.cleanup().await;
                }
            )*
        }
    };
}

conformance!(
    cases::round_trip,
    cases::create_existing_fails,
    cases::stale_update_conflicts,
    cases::application_in_use,
    cases::unknown_application_is_invalid,
    cases::tier_not_allowed_is_invalid,
    cases::filters,
    cases::versions_and_timestamps,
    concurrency::race_same_tenant,
    processes::race_between_processes,
    concurrency::application_removal_races_tenant_join,
    concurrency::concurrent_writers_on_different_tenants,
    concurrency::listing_reads_every_page,
);

/// Not a case of its own: the writer process that
/// `race_between_processes` starts (it fails when run any other way).
#[tokio::test]
#[ignore = "a child process of race_between_processes"]
async fn race_writer() {
    processes::race_writer().await;
}
