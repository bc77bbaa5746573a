//! The hostile-input corpus (`testdata/hostile-inputs.json`) as data: loaded
//! by the registry's own corpus test (`hostile_tests.rs`) and by the e2e
//! suite (provider and CLI). Test support, not part of the API.

use std::path::Path;

use serde::Deserialize;

#[derive(Deserialize)]
struct Corpus {
    cases: Vec<Case>,
}

/// One hostile input: `value` (or `repeat` × `times`) for `target`, which
/// must be rejected naming `field`; `why` says what it attacks.
#[derive(Deserialize)]
pub struct Case {
    pub target: String,
    value: Option<String>,
    repeat: Option<String>,
    times: Option<usize>,
    pub field: String,
    pub why: String,
}

impl Case {
    /// The input itself: `value`, or `repeat` repeated `times` times.
    pub fn value(&self) -> String {
        match (&self.value, &self.repeat, self.times) {
            (Some(v), _, _) => v.clone(),
            (None, Some(r), Some(n)) => r.repeat(n),
            _ => panic!("case {:?} has neither value nor repeat/times", self.why),
        }
    }
}

/// Every case of the corpus file at `path`; panics if it cannot be read or parsed.
pub fn load(path: &Path) -> Vec<Case> {
    let text = std::fs::read_to_string(path).expect("read hostile corpus");
    serde_json::from_str::<Corpus>(&text)
        .expect("parse hostile corpus")
        .cases
}
