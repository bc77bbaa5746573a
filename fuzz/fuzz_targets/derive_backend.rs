//! Backend derivation on arbitrary pairs of tenant ids, for each isolation
//! mode and lock kind: it never panics, derives only for valid ids, every
//! derived bucket passes S3's naming rules, the tenant id is a whole path
//! segment of the key, and two different ids never share a state object or
//! a lock.
#![no_main]

use libfuzzer_sys::fuzz_target;
use registry_core::{derive_backend, validate, Application, Isolation, LockKind, StateConfig};

fn apps() -> [Application; 3] {
    let prefix = StateConfig {
        bucket: Some("acme-tfstate".into()),
        lock_table: Some("acme-locks".into()),
        ..Default::default()
    };
    let bucket_ddb = StateConfig {
        isolation: Isolation::Bucket,
        bucket_prefix: Some("acme-web".into()),
        lock_table: Some("acme-web-locks".into()),
        ..Default::default()
    };
    let bucket_s3 = StateConfig {
        isolation: Isolation::Bucket,
        bucket_prefix: Some("acme-api".into()),
        lock: LockKind::S3,
        ..Default::default()
    };
    [
        Application::new("web", prefix),
        Application::new("web", bucket_ddb),
        Application::new("api", bucket_s3),
    ]
}

/// Where the lock of a state lives: a DynamoDB item or an S3 object.
fn lock_of(b: &registry_core::BackendSettings) -> String {
    match &b.lock_table {
        Some(table) => format!("ddb:{table}:{}", b.lock_id()),
        None => format!("s3:{}/{}", b.bucket, b.lockfile_key()),
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (a, b) = text.split_once('\n').unwrap_or((&text, "t"));
    for app in &apps() {
        let (da, db) = (derive_backend(app, a), derive_backend(app, b));
        for (id, derived) in [(a, &da), (b, &db)] {
            let Ok(settings) = derived else { continue };
            assert!(
                validate::slug("tenant", id).is_ok(),
                "derived for invalid {id:?}"
            );
            assert!(
                validate::bucket_name("b", &settings.bucket).is_ok(),
                "{settings:?}"
            );
            assert!(
                settings.key.split('/').any(|segment| segment == id),
                "{id:?} is not a segment of {}",
                settings.key
            );
        }
        if let (Ok(x), Ok(y)) = (&da, &db) {
            if a != b {
                assert_ne!(
                    (&x.bucket, &x.key),
                    (&y.bucket, &y.key),
                    "{a:?} and {b:?} share state"
                );
                assert_ne!(lock_of(x), lock_of(y), "{a:?} and {b:?} share a lock");
            }
        }
    }
});
