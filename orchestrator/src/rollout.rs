//! Rollout control from the command line: `--waves` and `--max-failures`.

use std::collections::{BTreeMap, BTreeSet};

use saas_registry::Tenant;

use crate::exit::CliError;
use crate::pool::Wave;

pub use crate::settings::FailureBudget;

/// Splits the selected tenant ids (in registry order) into waves.
///
/// `spec` is either `label:KEY` (one wave per value of label KEY, numeric
/// values in numeric order; tenants without it go last), or segments
/// separated by `;`, each optionally named `NAME=`: explicit ids `t1,t2`,
/// a share `25%` or count `5` of all selected tenants taken from those not
/// yet placed, or `rest`. Tenants left over form a final `rest` wave.
pub fn plan_waves(spec: Option<&str>, tenants: &[String]) -> Result<Vec<Wave<String>>, CliError> {
    let Some(spec) = spec.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(vec![Wave {
            name: "all".into(),
            items: tenants.to_vec(),
        }]);
    };
    if let Some(label) = spec.strip_prefix("label:") {
        return Err(CliError::Usage(format!(
            "--waves label:{label} needs the tenants' labels; use plan_label_waves"
        )));
    }
    let usage = |msg: String| CliError::Usage(format!("--waves {spec:?}: {msg}"));
    let mut placed: BTreeSet<&str> = BTreeSet::new();
    let mut waves = Vec::new();
    for (index, segment) in spec.split(';').map(str::trim).enumerate() {
        let (name, body) = match segment.split_once('=') {
            Some((name, body)) => (name.trim().to_string(), body.trim()),
            None if segment == "rest" => ("rest".to_string(), segment),
            None => (format!("wave{}", index + 1), segment),
        };
        if name.is_empty() || body.is_empty() {
            return Err(usage(format!("empty wave in {segment:?}")));
        }
        let remaining = || tenants.iter().filter(|t| !placed.contains(t.as_str()));
        let items: Vec<String> = if body == "rest" {
            remaining().cloned().collect()
        } else if let Some(pct) = body.strip_suffix('%') {
            let pct: f64 = pct
                .parse()
                .ok()
                .filter(|p| *p > 0.0 && *p <= 100.0)
                .ok_or_else(|| usage(format!("{body:?} is not a percentage in (0, 100]")))?;
            let n = ((tenants.len() as f64 * pct / 100.0).ceil() as usize).max(1);
            remaining().take(n).cloned().collect()
        } else if let Ok(n) = body.parse::<usize>() {
            remaining().take(n).cloned().collect()
        } else {
            let mut ids = Vec::new();
            for id in body.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                if !tenants.iter().any(|t| t == id) {
                    return Err(usage(format!(
                        "wave {name:?}: tenant {id:?} is not selected"
                    )));
                }
                if placed.contains(id) || ids.iter().any(|i: &String| i == id) {
                    return Err(usage(format!(
                        "wave {name:?}: tenant {id:?} is already in an earlier wave"
                    )));
                }
                ids.push(id.to_string());
            }
            ids
        };
        for item in &items {
            placed.insert(
                tenants
                    .iter()
                    .find(|t| *t == item)
                    .map(String::as_str)
                    .unwrap_or_default(),
            );
        }
        if !items.is_empty() {
            waves.push(Wave { name, items });
        }
    }
    let rest: Vec<String> = tenants
        .iter()
        .filter(|t| !placed.contains(t.as_str()))
        .cloned()
        .collect();
    if !rest.is_empty() {
        waves.push(Wave {
            name: "rest".into(),
            items: rest,
        });
    }
    Ok(waves)
}

/// `label:KEY` waves: `labels` maps each tenant id to its value of KEY.
pub fn plan_label_waves(tenants: &[(String, Option<String>)]) -> Vec<Wave<String>> {
    let mut by_value: BTreeMap<(u8, u64, String), Vec<String>> = BTreeMap::new();
    let mut unlabelled = Vec::new();
    for (id, value) in tenants {
        match value {
            // Numbers first in numeric order, then other values alphabetically.
            Some(v) => {
                let key = match v.parse::<u64>() {
                    Ok(n) => (0, n, v.clone()),
                    Err(_) => (1, 0, v.clone()),
                };
                by_value.entry(key).or_default().push(id.clone());
            }
            None => unlabelled.push(id.clone()),
        }
    }
    let mut waves: Vec<Wave<String>> = by_value
        .into_iter()
        .map(|((_, _, name), items)| Wave { name, items })
        .collect();
    if !unlabelled.is_empty() {
        waves.push(Wave {
            name: "unlabelled".into(),
            items: unlabelled,
        });
    }
    waves
}

/// The waves of `--waves spec` over `tenants` (in registry order): by label
/// for `label:KEY`, else as [`plan_waves`] splits the ids.
pub fn waves_for<'a>(
    spec: Option<&str>,
    tenants: impl IntoIterator<Item = &'a Tenant>,
) -> Result<Vec<Wave<String>>, CliError> {
    let tenants = tenants.into_iter();
    match label_key(spec) {
        Some(key) => Ok(plan_label_waves(
            &tenants
                .map(|t| (t.id.clone(), t.labels.get(key).cloned()))
                .collect::<Vec<_>>(),
        )),
        None => plan_waves(spec, &tenants.map(|t| t.id.clone()).collect::<Vec<_>>()),
    }
}

/// The label key of a `label:KEY` spec.
pub fn label_key(spec: Option<&str>) -> Option<&str> {
    spec.map(str::trim)
        .and_then(|s| s.strip_prefix("label:"))
        .map(str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("t{i:02}")).collect()
    }

    fn shape(waves: &[Wave<String>]) -> Vec<(String, Vec<String>)> {
        waves
            .iter()
            .map(|w| (w.name.clone(), w.items.clone()))
            .collect()
    }

    #[test]
    fn budget_counts_and_percentages() {
        let limit = |spec: &str, n| spec.parse::<FailureBudget>().unwrap().limit(n);
        assert_eq!(limit("3", 10), 3);
        assert_eq!(limit("10%", 25), 3);
        assert_eq!(limit("1%", 5), 1);
        for bad in ["0", "-1", "x", "0%", "150%", ""] {
            assert!(bad.parse::<FailureBudget>().is_err(), "{bad}");
        }
    }

    #[test]
    fn no_spec_is_one_wave() {
        let waves = plan_waves(None, &ids(3)).unwrap();
        assert_eq!(shape(&waves), [("all".to_string(), ids(3))]);
    }

    #[test]
    fn canary_then_percentage_then_rest() {
        let tenants = ids(10);
        let waves = plan_waves(Some("canary=t03,t07;25%;rest"), &tenants).unwrap();
        let shape = shape(&waves);
        assert_eq!(
            shape[0],
            (
                "canary".to_string(),
                vec!["t03".to_string(), "t07".to_string()]
            )
        );
        // 25% of 10 rounds up to 3, taken in order from the tenants not yet placed.
        assert_eq!(shape[1].1, ["t01", "t02", "t04"]);
        assert_eq!(shape[2].0, "rest");
        assert_eq!(shape[2].1, ["t05", "t06", "t08", "t09", "t10"]);
    }

    #[test]
    fn leftovers_form_a_rest_wave_and_every_tenant_runs_once() {
        let tenants = ids(5);
        let waves = plan_waves(Some("t01;2"), &tenants).unwrap();
        let all: Vec<String> = waves.iter().flat_map(|w| w.items.clone()).collect();
        assert_eq!(all.len(), 5);
        assert_eq!(waves.last().unwrap().name, "rest");
    }

    #[test]
    fn unknown_or_repeated_tenants_are_usage_errors() {
        let tenants = ids(3);
        let err = plan_waves(Some("canary=t09"), &tenants).unwrap_err();
        assert!(err.to_string().contains("\"t09\" is not selected"), "{err}");
        let err = plan_waves(Some("t01;t01"), &tenants).unwrap_err();
        assert!(
            err.to_string().contains("already in an earlier wave"),
            "{err}"
        );
        assert!(plan_waves(Some("x=;rest"), &tenants).is_err());
        assert!(plan_waves(Some("0%"), &tenants).is_err());
    }

    #[test]
    fn label_waves_order_numbers_numerically() {
        let tenants = vec![
            ("a".to_string(), Some("10".to_string())),
            ("b".to_string(), Some("2".to_string())),
            ("c".to_string(), None),
            ("d".to_string(), Some("2".to_string())),
            ("e".to_string(), Some("late".to_string())),
        ];
        let waves = plan_label_waves(&tenants);
        let names: Vec<&str> = waves.iter().map(|w| w.name.as_str()).collect();
        assert_eq!(names, ["2", "10", "late", "unlabelled"]);
        assert_eq!(waves[0].items, ["b", "d"]);
        assert_eq!(label_key(Some("label:wave")), Some("wave"));
    }
}
