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

/// Jobs a single child pipeline needs: plan and apply per tenant, one gate
/// per manual wave, one report job.
pub fn single_pipeline_jobs(tenants: usize, gates: usize) -> usize {
    2 * tenants + gates + ROLLUP_JOBS
}

/// The jobs after the tenants' in every pipeline: `report` and `release-page`.
pub const ROLLUP_JOBS: usize = 2;

/// Most tenants one shard pipeline holds, or `None` if not even one fits.
pub fn tenants_per_shard(max_jobs: usize) -> Option<usize> {
    let per_shard = max_jobs.saturating_sub(ROLLUP_JOBS) / 2;
    (per_shard > 0).then_some(per_shard)
}

/// Checks that a router with `shards` triggers fits; the error says why not.
pub fn check_router(
    shards: usize,
    gates: usize,
    per_shard: usize,
    max_jobs: usize,
) -> Result<(), String> {
    // The router itself is a downstream pipeline of the parent.
    if shards + 1 > MAX_DOWNSTREAM_PIPELINES {
        return Err(format!(
            "{shards} shard pipelines of at most {per_shard} tenants each, plus the router, exceed GitLab's {MAX_DOWNSTREAM_PIPELINES} downstream pipelines per hierarchy; raise --max-jobs-per-pipeline if your GitLab allows more jobs, or select fewer tenants"
        ));
    }
    let router_jobs = shards + gates + 1;
    if router_jobs > max_jobs {
        return Err(format!(
            "the router needs {router_jobs} jobs ({shards} shard triggers of at most {per_shard} tenants each, {gates} wave gates, 1 publish job) but --max-jobs-per-pipeline is {max_jobs}, and nesting cannot go deeper than {MAX_NESTING_DEPTH} levels; raise --max-jobs-per-pipeline or select fewer tenants"
        ));
    }
    Ok(())
}

/// What one generated file holds, as GitLab would count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStats {
    pub jobs: usize,
    pub max_needs: usize,
    pub max_includes: usize,
    pub bytes: usize,
}

/// Parses a generated file and checks it against every per-file limit. The
/// generator runs this on each file it returns, so a bug shows up as an
/// error here rather than as a pipeline GitLab refuses.
pub fn check_file(yaml: &str, max_jobs: usize) -> Result<FileStats, String> {
    if yaml.len() > MAX_FILE_BYTES {
        return Err(format!(
            "generated file breaks a GitLab limit: {} bytes",
            yaml.len()
        ));
    }
    let doc: serde_yaml::Mapping =
        serde_yaml::from_str(yaml).map_err(|e| format!("generated YAML does not parse: {e}"))?;
    const KEYWORDS: [&str; 6] = [
        "stages",
        "variables",
        "default",
        "workflow",
        "include",
        "image",
    ];
    let mut stats = FileStats {
        jobs: 0,
        max_needs: 0,
        max_includes: 0,
        bytes: yaml.len(),
    };
    for (key, job) in &doc {
        let name = key.as_str().unwrap_or_default();
        if KEYWORDS.contains(&name) || name.starts_with('.') {
            continue;
        }
        stats.jobs += 1;
        let count =
            |v: Option<&serde_yaml::Value>| v.and_then(|v| v.as_sequence()).map_or(0, Vec::len);
        stats.max_needs = stats.max_needs.max(count(job.get("needs")));
        let includes = job.get("trigger").map_or(0, |t| count(t.get("include")));
        stats.max_includes = stats.max_includes.max(includes);
    }
    let checks = [
        (
            stats.jobs <= max_jobs,
            format!("{} jobs, more than {max_jobs}", stats.jobs),
        ),
        (
            stats.max_needs <= MAX_NEEDS_PER_JOB,
            format!("a job with {} needs", stats.max_needs),
        ),
        (
            stats.max_includes <= MAX_INCLUDES_PER_TRIGGER,
            format!("a trigger with {} includes", stats.max_includes),
        ),
    ];
    match checks.into_iter().find(|(ok, _)| !ok) {
        Some((_, why)) => Err(format!("generated file breaks a GitLab limit: {why}")),
        None => Ok(stats),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_capacity_leaves_room_for_the_rollup_jobs() {
        assert_eq!(tenants_per_shard(500), Some(249));
        assert_eq!(tenants_per_shard(4), Some(1));
        assert_eq!(tenants_per_shard(3), None);
        assert_eq!(single_pipeline_jobs(249, 0), 500);
    }

    #[test]
    fn router_limits_name_the_limit() {
        assert!(check_router(20, 1, 249, 500).is_ok());
        let err = check_router(1000, 0, 1, 5000).unwrap_err();
        assert!(err.contains("downstream pipelines"), "{err}");
        let err = check_router(10, 0, 1, 10).unwrap_err();
        assert!(err.contains("router needs 11 jobs"), "{err}");
    }

    #[test]
    fn check_file_counts_jobs_needs_and_includes() {
        let yaml = "stages: [a]\nvariables: {X: y}\nj1:\n  script: [x]\n  needs: [a, b]\nj2:\n  trigger:\n    include: [{local: a}, {local: b}, {local: c}, {local: d}]\n";
        let err = check_file(yaml, 10).unwrap_err();
        assert!(err.contains("4 includes"), "{err}");
        let err = check_file(yaml, 1).unwrap_err();
        assert!(err.contains("2 jobs"), "{err}");
        let ok = check_file("j1:\n  needs: [a, b]\n", 1).unwrap();
        assert_eq!((ok.jobs, ok.max_needs), (1, 2));
    }
}
