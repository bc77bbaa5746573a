//! The registry's input validators on arbitrary text: they never panic, a
//! tenant id is accepted exactly when it is a lowercase DNS label of 1-40
//! chars (checked against an independent implementation of the grammar, so
//! reserved names are the only other rejection), and what the email and
//! display-name checks accept carries no control characters.
#![no_main]

use libfuzzer_sys::fuzz_target;
use registry_core::validate;

/// `[a-z0-9]([a-z0-9-]*[a-z0-9])?`, 1 to 40 chars, written without the validator's code.
fn is_dns_label(s: &str) -> bool {
    let bytes = s.as_bytes();
    let edge = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    (1..=40).contains(&bytes.len())
        && edge(bytes[0])
        && edge(bytes[bytes.len() - 1])
        && bytes.iter().all(|&b| edge(b) || b == b'-')
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let value = text.as_ref();

    match validate::slug("id", value) {
        Ok(()) => assert!(is_dns_label(value), "accepted {value:?}"),
        Err(err) => {
            assert_eq!(err.field(), Some("id"), "{err}");
            if is_dns_label(value) {
                assert!(
                    err.to_string().contains("reserved"),
                    "rejected {value:?}: {err}"
                );
            }
        }
    }
    if validate::email("email", value).is_ok() {
        assert_eq!(value.matches('@').count(), 1, "{value:?}");
        assert!(value.is_ascii() && !value.chars().any(|c| c.is_control() || c.is_whitespace()));
    }
    if validate::display_name("name", value).is_ok() {
        assert!(!value.chars().any(char::is_control), "{value:?}");
        assert!(!value.trim().is_empty());
    }
    // Derived-name checks must not panic on anything either.
    let _ = validate::bucket_name("state.bucket", value);
    let _ = validate::table_name("state.lock_table", value);
    let _ = validate::key_template("state.key", value);
});
