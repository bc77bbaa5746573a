//! Batches: `--tenants-per-job N` packs N consecutive tenants of a wave (in
//! id order) into one plan and one apply job that run the local pool.

/// Tenants that share one plan job and one apply job.
#[derive(Debug, Clone, Copy)]
pub struct Batch<'a> {
    pub tenants: &'a [String],
}

impl<'a> Batch<'a> {
    /// The first tenant: it names the batch's runs.
    pub fn first(&self) -> &'a str {
        self.tenants.first().map_or("", String::as_str)
    }

    /// `<tenant>` for a batch of one, else `<first>..<last>`: job names and
    /// resource groups.
    pub fn label(&self) -> String {
        match self.tenants {
            [] => String::new(),
            [only] => only.clone(),
            [first, .., last] => format!("{first}..{last}"),
        }
    }
}

/// `tenants` in batches of `per_job` (at least 1), the last one possibly
/// smaller.
pub fn split(tenants: &[String], per_job: usize) -> impl Iterator<Item = Batch<'_>> {
    tenants
        .chunks(per_job.max(1))
        .map(|tenants| Batch { tenants })
}

/// How many batches `tenants` tenants make.
pub fn count(tenants: usize, per_job: usize) -> usize {
    tenants.div_ceil(per_job.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_keep_id_order_and_are_labelled_by_their_ends() {
        let ids: Vec<String> = ["a", "b", "c", "d", "e"].map(String::from).to_vec();
        let labels: Vec<String> = split(&ids, 2).map(|b| b.label()).collect();
        assert_eq!(labels, ["a..b", "c..d", "e"]);
        assert_eq!(count(5, 2), 3);
        assert_eq!(split(&ids, 0).count(), 5, "0 means 1");
        assert_eq!(split(&ids, 2).nth(1).unwrap().first(), "c");
    }
}
