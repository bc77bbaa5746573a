//! Rollout waves for generated pipelines. The spec is parsed by the local
//! fan-out's parser (`rollout`), so `--waves` means the same in both; this
//! module only turns the wave names into safe, unique stage and file names.

use std::collections::BTreeSet;

use saas_registry::Tenant;

use crate::exit::CliError;
use crate::rollout;

/// One resolved wave: a name (a safe stage-name fragment) and its tenant ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wave {
    pub name: String,
    pub tenants: Vec<String>,
}

/// Splits `tenants` (taken in id order) into waves, as `saasctl apply
/// --waves` would. Without a spec there is one wave, `all`.
pub fn resolve(spec: Option<&str>, tenants: &[Tenant]) -> Result<Vec<Wave>, CliError> {
    let mut sorted: Vec<&Tenant> = tenants.iter().collect();
    sorted.sort_unstable_by(|a, b| a.id.cmp(&b.id));
    let waves = rollout::waves_for(spec, sorted)?;
    let waves = waves
        .into_iter()
        .filter(|w| !w.items.is_empty())
        .map(|w| Wave {
            name: sanitize(&w.name),
            tenants: w.items,
        })
        .collect();
    Ok(unique_names(waves))
}

/// A stage/job name fragment: lowercase `[a-z0-9-]`, other runs become `-`.
pub fn sanitize(raw: &str) -> String {
    let mut out = String::new();
    for c in raw.trim().chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_matches('-');
    let out: String = out.chars().take(40).collect();
    if out.is_empty() {
        "wave".into()
    } else {
        out
    }
}

/// Waves whose names collide after sanitising get `-2`, `-3`, ...
fn unique_names(mut waves: Vec<Wave>) -> Vec<Wave> {
    let mut seen: BTreeSet<String> = BTreeSet::new();
    for wave in &mut waves {
        let base = wave.name.clone();
        let mut n = 2;
        while !seen.insert(wave.name.clone()) {
            wave.name = format!("{base}-{n}");
            n += 1;
        }
    }
    waves
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenants(ids: &[&str]) -> Vec<Tenant> {
        ids.iter()
            .map(|id| Tenant::new(*id, *id, format!("{id}@example.com"), "basic"))
            .collect()
    }

    #[test]
    fn tenants_are_taken_in_id_order() {
        let waves = resolve(Some("canary=c;1"), &tenants(&["d", "c", "b", "a"])).unwrap();
        let shape: Vec<(&str, Vec<&str>)> = waves
            .iter()
            .map(|w| {
                (
                    w.name.as_str(),
                    w.tenants.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            shape,
            [
                ("canary", vec!["c"]),
                ("wave2", vec!["a"]),
                ("rest", vec!["b", "d"])
            ]
        );
        assert!(resolve(Some("canary=zz"), &tenants(&["a"])).is_err());
    }

    #[test]
    fn label_values_become_safe_unique_names() {
        let mut t = tenants(&["a", "b", "c"]);
        t[0].labels.insert("w".into(), "Blue!".into());
        t[1].labels.insert("w".into(), "blue?".into());
        let waves = resolve(Some("label:w"), &t).unwrap();
        let names: Vec<&str> = waves.iter().map(|w| w.name.as_str()).collect();
        assert_eq!(names, ["blue", "blue-2", "unlabelled"]);
    }

    #[test]
    fn sanitize_keeps_lowercase_dns_characters() {
        assert_eq!(sanitize("Late Wave/2"), "late-wave-2");
        assert_eq!(sanitize("--"), "wave");
        assert_eq!(sanitize(&"x".repeat(60)).len(), 40);
    }
}
