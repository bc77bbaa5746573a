//! GitLab's limits on generated child pipelines, and the arithmetic the
//! generator uses to stay inside them.

/// `needs` entries per job.
pub const MAX_NEEDS_PER_JOB: usize = 50;
/// Files per `trigger:include`.
pub const MAX_INCLUDES_PER_TRIGGER: usize = 3;
/// Size of a generated child YAML artifact.
pub const MAX_FILE_BYTES: usize = 5 * 1024 * 1024;
/// Child nesting below the parent: parent → router → shard.
pub const MAX_NESTING_DEPTH: usize = 2;
/// Downstream pipelines in one hierarchy (the router counts too).
pub const MAX_DOWNSTREAM_PIPELINES: usize = 1000;
/// Jobs per pipeline on GitLab.com Free, the `--max-jobs-per-pipeline` default.
pub const DEFAULT_MAX_JOBS_PER_PIPELINE: usize = 500;

/// Jobs a single child pipeline needs: plan and apply per batch of
/// tenants, one gate per manual wave, the roll-up jobs.
pub fn single_pipeline_jobs(batches: usize, gates: usize) -> usize {
    2 * batches + gates + ROLLUP_JOBS
}

/// The jobs after the tenants' in every pipeline: `report` and `release-page`.
pub const ROLLUP_JOBS: usize = 2;

/// Most batches one shard pipeline holds, or `None` if not even one fits.
pub fn batches_per_shard(max_jobs: usize) -> Option<usize> {
    let per_shard = max_jobs.saturating_sub(ROLLUP_JOBS) / 2;
    (per_shard > 0).then_some(per_shard)
}

/// Checks that a router with `shards` triggers fits; the error says why not.
pub fn check_router(shards: usize, gates: usize, max_jobs: usize) -> Result<(), String> {
    // The router itself is a downstream pipeline of the parent.
    if shards + 1 > MAX_DOWNSTREAM_PIPELINES {
        return Err(format!(
            "{shards} shard pipelines plus the router exceed GitLab's {MAX_DOWNSTREAM_PIPELINES} downstream pipelines per hierarchy; raise --tenants-per-job, raise --max-jobs-per-pipeline if your GitLab allows more jobs, or select fewer tenants"
        ));
    }
    let router_jobs = shards + gates + 1;
    if router_jobs > max_jobs {
        return Err(format!(
            "the router needs {router_jobs} jobs ({shards} shard triggers, {gates} wave gates, 1 publish job) but --max-jobs-per-pipeline is {max_jobs}, and nesting cannot go deeper than {MAX_NESTING_DEPTH} levels; raise --max-jobs-per-pipeline or select fewer tenants"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_capacity_leaves_room_for_the_rollup_jobs() {
        assert_eq!(batches_per_shard(500), Some(249));
        assert_eq!(batches_per_shard(4), Some(1));
        assert_eq!(batches_per_shard(3), None);
        assert_eq!(single_pipeline_jobs(249, 0), 500);
    }

    #[test]
    fn router_limits_name_the_limit() {
        assert!(check_router(20, 1, 500).is_ok());
        let err = check_router(1000, 0, 5000).unwrap_err();
        assert!(err.contains("downstream pipelines"), "{err}");
        let err = check_router(10, 0, 10).unwrap_err();
        assert!(err.contains("router needs 11 jobs"), "{err}");
    }
}
