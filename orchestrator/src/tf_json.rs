//! Terraform's machine-readable UI (`plan -json`, `apply -json`): one JSON
//! object per line. saasctl takes the change counts, the changed and drifted
//! resource addresses and the diagnostics from it, instead of scraping the
//! human output or running `terraform show -json` after every plan.
//! Format: <https://developer.hashicorp.com/terraform/internals/machine-readable-ui>.

use serde::{Deserialize, Serialize};

/// Resource change counts (`replace` counts as one add and one destroy, as
/// Terraform's own change summary counts it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeCounts {
    pub add: u64,
    pub change: u64,
    pub destroy: u64,
}

impl std::fmt::Display for ChangeCounts {
    /// `+add ~change -destroy`, as in every table, log line and report.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "+{} ~{} -{}", self.add, self.change, self.destroy)
    }
}

impl ChangeCounts {
    pub fn is_empty(&self) -> bool {
        *self == ChangeCounts::default()
    }
}

/// One diagnostic, as Terraform reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Diagnostic {
    pub severity: String,
    pub summary: String,
    #[serde(default)]
    pub detail: String,
    #[serde(default)]
    pub address: Option<String>,
}

impl Diagnostic {
    pub fn is_error(&self) -> bool {
        self.severity == "error"
    }

    /// `summary: detail` on one line (the detail's line breaks become spaces).
    pub fn one_line(&self) -> String {
        let detail = self.detail.split_whitespace().collect::<Vec<_>>().join(" ");
        match (detail.is_empty(), &self.address) {
            (true, _) => self.summary.clone(),
            (false, Some(address)) => format!("{}: {detail} ({address})", self.summary),
            (false, None) => format!("{}: {detail}", self.summary),
        }
    }
}

/// What one `-json` run of plan or apply reported.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UiSummary {
    /// From the last `change_summary` (plan, apply or destroy).
    pub counts: Option<ChangeCounts>,
    /// Addresses of planned changes other than no-op and read.
    pub changed: Vec<String>,
    /// Addresses Terraform found changed outside it.
    pub drifted: Vec<String>,
    pub diagnostics: Vec<Diagnostic>,
}

#[derive(Deserialize)]
struct Line {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    changes: Option<ChangeCountsWire>,
    #[serde(default)]
    change: Option<PlannedChange>,
    #[serde(default)]
    diagnostic: Option<Diagnostic>,
}

/// `changes` of a `change_summary`, in Terraform's words (`remove`).
struct ChangeCountsWire(ChangeCounts);

impl<'de> Deserialize<'de> for ChangeCountsWire {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Wire {
            #[serde(default)]
            add: u64,
            #[serde(default)]
            change: u64,
            #[serde(default)]
            remove: u64,
        }
        let w = Wire::deserialize(d)?;
        Ok(ChangeCountsWire(ChangeCounts {
            add: w.add,
            change: w.change,
            destroy: w.remove,
        }))
    }
}

#[derive(Deserialize)]
struct PlannedChange {
    resource: ResourceAddr,
    action: String,
}

#[derive(Deserialize)]
struct ResourceAddr {
    addr: String,
}

impl UiSummary {
    /// Parses Terraform's `-json` stdout; lines that are not its JSON
    /// messages are ignored.
    pub fn parse(stdout: &str) -> UiSummary {
        let mut summary = UiSummary::default();
        for text in stdout.lines().filter(|l| l.starts_with('{')) {
            let Ok(line) = serde_json::from_str::<Line>(text) else {
                continue;
            };
            match line.kind.as_str() {
                "change_summary" => summary.counts = line.changes.map(|c| c.0),
                "planned_change" => {
                    if let Some(c) = line
                        .change
                        .filter(|c| !matches!(c.action.as_str(), "noop" | "read"))
                    {
                        summary.changed.push(c.resource.addr);
                    }
                }
                "resource_drift" => {
                    if let Some(c) = line.change.filter(|c| c.action != "noop") {
                        summary.drifted.push(c.resource.addr);
                    }
                }
                "diagnostic" => summary.diagnostics.extend(line.diagnostic),
                _ => {}
            }
        }
        summary
    }

    pub fn first_error(&self) -> Option<&Diagnostic> {
        self.diagnostics.iter().find(|d| d.is_error())
    }
}

/// The human text of a `-json` stream, for the tenant's log: each message's
/// `@message`, and a diagnostic's detail under it. Other lines pass through.
pub fn human_log(stdout: &str) -> String {
    #[derive(Deserialize)]
    struct Message {
        #[serde(rename = "@message")]
        message: String,
        #[serde(default)]
        diagnostic: Option<Diagnostic>,
    }
    let mut out = String::with_capacity(stdout.len() / 2);
    for text in stdout.lines() {
        match serde_json::from_str::<Message>(text) {
            Ok(m) => {
                out.push_str(&m.message);
                out.push('\n');
                if let Some(detail) = m.diagnostic.map(|d| d.detail).filter(|d| !d.is_empty()) {
                    for line in detail.lines() {
                        out.push_str("  ");
                        out.push_str(line);
                        out.push('\n');
                    }
                }
            }
            Err(_) => {
                out.push_str(text);
                out.push('\n');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines as Terraform 1.11 prints them for `plan -json` (trimmed).
    const PLAN: &str = r#"{"@level":"info","@message":"Terraform 1.11.4","type":"version","terraform":"1.11.4","ui":"1.2"}
{"@level":"info","@message":"terraform_data.a: Drift detected (update)","type":"resource_drift","change":{"resource":{"addr":"terraform_data.a","resource_type":"terraform_data"},"action":"update"}}
{"@level":"info","@message":"terraform_data.a: Plan to update","type":"planned_change","change":{"resource":{"addr":"terraform_data.a"},"action":"update"}}
{"@level":"info","@message":"terraform_data.b[\"x\"]: Plan to replace","type":"planned_change","change":{"resource":{"addr":"terraform_data.b[\"x\"]"},"action":"replace","reason":"cannot_update"}}
{"@level":"info","@message":"data.saas_tenant.me: Plan to read","type":"planned_change","change":{"resource":{"addr":"data.saas_tenant.me"},"action":"read"}}
{"@level":"info","@message":"Plan: 1 to add, 1 to change, 1 to destroy.","type":"change_summary","changes":{"add":1,"change":1,"import":0,"remove":1,"operation":"plan"}}
{"@level":"warn","@message":"Warning: Deprecated","type":"diagnostic","diagnostic":{"severity":"warning","summary":"Deprecated","detail":"old"}}
"#;

    #[test]
    fn a_plan_stream_gives_counts_addresses_and_drift() {
        let s = UiSummary::parse(PLAN);
        assert_eq!(
            s.counts,
            Some(ChangeCounts {
                add: 1,
                change: 1,
                destroy: 1
            })
        );
        assert_eq!(s.changed, ["terraform_data.a", "terraform_data.b[\"x\"]"]);
        assert_eq!(s.drifted, ["terraform_data.a"]);
        assert_eq!(s.first_error(), None);
        assert_eq!(s.counts.unwrap().to_string(), "+1 ~1 -1");
    }

    #[test]
    fn the_first_error_diagnostic_is_summary_and_detail() {
        let stream = r#"{"@level":"error","@message":"Error: Resource precondition failed","type":"diagnostic","diagnostic":{"severity":"error","summary":"Resource precondition failed","detail":"injected failure\nfor tailspin","address":"terraform_data.gate"}}
{"@level":"error","@message":"Error: second","type":"diagnostic","diagnostic":{"severity":"error","summary":"second","detail":""}}"#;
        let s = UiSummary::parse(stream);
        assert_eq!(
            s.first_error().unwrap().one_line(),
            "Resource precondition failed: injected failure for tailspin (terraform_data.gate)"
        );
        assert!(human_log(stream)
            .contains("Error: Resource precondition failed\n  injected failure\n  for tailspin\n"));
    }

    #[test]
    fn apply_and_destroy_summaries_count_too() {
        let apply = r#"{"@message":"Apply complete! Resources: 3 added, 0 changed, 2 destroyed.","type":"change_summary","changes":{"add":3,"change":0,"import":0,"remove":2,"operation":"apply"}}"#;
        assert_eq!(
            UiSummary::parse(apply).counts.unwrap().to_string(),
            "+3 ~0 -2"
        );
        assert_eq!(UiSummary::parse("not json\n").counts, None);
    }
}
