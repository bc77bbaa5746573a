//! GitLab CI YAML text: a header comment, then one block per top-level key,
//! separated by blank lines so a reviewer can diff job by job. Blocks are
//! typed values serialised straight to text (no YAML tree in between), and
//! [`CiBlocks`] counts jobs and bytes as it writes them, so the generator
//! knows both without reading its own output back.

use serde::ser::{Serialize, SerializeMap, Serializer};

pub type YamlError = serde_saphyr::SerializeError;

/// Top-level blocks of a CI file, in order, as text.
#[derive(Debug, Default, Clone)]
pub struct CiBlocks {
    text: String,
    jobs: usize,
}

/// `key: value` as a one-entry mapping.
struct Entry<'a, T: ?Sized>(&'a str, &'a T);

impl<T: Serialize + ?Sized> Serialize for Entry<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry(self.0, self.1)?;
        map.end()
    }
}

impl CiBlocks {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a block that is not a job: `stages`, `variables`, `default`,
    /// or a hidden template (`.name`).
    pub fn keyword<T: Serialize + ?Sized>(
        &mut self,
        key: &str,
        value: &T,
    ) -> Result<(), YamlError> {
        self.text.push('\n');
        // One line per script command, however long: greppable, diffable.
        let options = serde_saphyr::ser_options! { prefer_block_scalars: false };
        serde_saphyr::to_fmt_writer_with_options(&mut self.text, &Entry(key, value), options)
    }

    /// Appends a job.
    pub fn job<T: Serialize + ?Sized>(&mut self, name: &str, body: &T) -> Result<(), YamlError> {
        self.keyword(name, body)?;
        self.jobs += 1;
        Ok(())
    }

    /// Appends every block of `other`.
    pub fn append(&mut self, other: &CiBlocks) {
        self.text.push_str(&other.text);
        self.jobs += other.jobs;
    }

    /// Bytes written so far.
    pub fn bytes(&self) -> usize {
        self.text.len()
    }

    pub fn jobs(&self) -> usize {
        self.jobs
    }

    /// The whole file: `header` as comment lines, then the blocks.
    pub fn into_file(self, header: &[String]) -> String {
        let mut out = comment(header);
        out.push_str(&self.text);
        out
    }
}

/// `header` as YAML comment lines.
pub fn comment(header: &[String]) -> String {
    let mut out = String::new();
    for line in header {
        out.push_str("# ");
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize)]
    struct Job<'a> {
        stage: &'a str,
        script: [&'a str; 1],
    }

    #[test]
    fn a_file_has_its_header_then_one_block_per_key_and_counts_jobs() {
        let mut blocks = CiBlocks::new();
        blocks.keyword("stages", &["plan", "apply"]).unwrap();
        let job = Job {
            stage: "plan",
            script: ["saasctl plan --run-id \"$CI_PIPELINE_ID-a\" || test $? -eq 2"],
        };
        blocks.job("plan:a", &job).unwrap();
        assert_eq!(blocks.jobs(), 1);
        let bytes = blocks.bytes();
        let text = blocks.into_file(&["generated".into()]);
        assert_eq!(text.len(), bytes + "# generated\n".len());
        assert!(text.starts_with("# generated\n\nstages:\n"), "{text}");
        assert!(text.contains("\n\n\"plan:a\":\n  stage: plan\n"), "{text}");
        let parsed: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
        assert_eq!(parsed["plan:a"]["script"][0], job.script[0]);
        assert_eq!(parsed["stages"][1], "apply");
    }
}
