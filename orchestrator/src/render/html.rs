//! The release page: one self-contained HTML file per run (`report.html`
//! beside `report.json`) and per pipeline (`saasctl pipeline report
//! --format html`). Styles and the optional script are inline and nothing
//! is fetched, so CI artifact viewers and air-gapped users open it as it is;
//! without JavaScript every row and bar is shown, the script only adds
//! filtering and sorting. Every string from the registry or a report goes
//! through maud's escaping: tenant names are user input.

use std::collections::BTreeMap;

use maud::{html, Markup, PreEscaped, DOCTYPE};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::runs::{RunReport, TenantReport, TenantResult, REPORT_HTML};

/// Changed addresses listed per row; the rest are counted (keeps a
/// 10,000-tenant page small).
const ADDRESSES_SHOWN: usize = 10;

/// Where the page sits relative to the report's files.
#[derive(Debug, Default)]
pub struct PageContext<'a> {
    /// Prefix of each tenant's log path (`log` in the report, relative to
    /// the run directory): empty for a page inside the run directory.
    pub log_prefix: &'a str,
}

pub fn page(report: &RunReport, ctx: &PageContext) -> String {
    let span = Span::of(report);
    let rows = ordered(report);
    let title = format!(
        "saasctl {} {} · {}",
        report.command, report.application, report.run_id
    );
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                (header(report, &span))
                (timeline(report, &span))
                (table(&rows, ctx))
                script { (PreEscaped(SCRIPT)) }
            }
        }
    }
    .into_string()
}

fn header(report: &RunReport, span: &Span) -> Markup {
    let counts = result_counts(report);
    html! {
        header {
            h1 {
                "saasctl " (report.command) " " span.app { (report.application) }
                " " span class={ "status s-" (report.status.as_str()) } { (report.status.as_str()) }
            }
            dl {
                dt { "Run" } dd { code { (report.run_id) } }
                dt { "Stack" } dd { code { (report.stack) } }
                dt { "Terraform" } dd { (report.terraform_version.as_deref().unwrap_or("unknown")) }
                dt { "Started" } dd { (report.started_at) }
                dt { "Duration" } dd { (span.total_text()) }
                dt { "Jobs" } dd { (report.jobs) }
                @if let Some(plan) = &report.from_run {
                    dt { "Saved plans" }
                    dd { a href={ "../" (plan) "/" (REPORT_HTML) } { "plan run " (plan) } }
                }
            }
            ul.counts {
                li { b { (report.tenants.len()) } " tenants" }
                @for (result, n) in &counts {
                    li class={ "r-" (result) } { b { (n) } " " (result) }
                }
            }
        }
    }
}

/// Every result that occurs, with its count, in a fixed order.
fn result_counts(report: &RunReport) -> Vec<(&'static str, usize)> {
    let mut counts: BTreeMap<usize, (&'static str, usize)> = BTreeMap::new();
    for t in &report.tenants {
        let entry = counts
            .entry(rank(t.result))
            .or_insert((t.result.as_str(), 0));
        entry.1 += 1;
    }
    counts.into_values().collect()
}

/// Failed and drifted first: what needs a look.
fn rank(result: TenantResult) -> usize {
    match result {
        TenantResult::Failed => 0,
        TenantResult::Pending => 1,
        TenantResult::NotStarted => 2,
        TenantResult::Drifted => 3,
        TenantResult::Changes => 4,
        TenantResult::Applied => 5,
        TenantResult::Destroyed => 6,
        TenantResult::NoChanges => 7,
        TenantResult::InSync => 8,
        TenantResult::Unchanged => 9,
    }
}

/// Rows in the report's order (waves, then tenants); a drift run puts
/// drifted tenants first.
fn ordered(report: &RunReport) -> Vec<&TenantReport> {
    let mut rows: Vec<&TenantReport> = report.tenants.iter().collect();
    if report.command == "drift" {
        rows.sort_by_key(|t| t.result != TenantResult::Drifted);
    }
    rows
}

/// The run's start and length, to place each tenant's bar.
struct Span {
    start: Option<OffsetDateTime>,
    total_ms: f64,
}

impl Span {
    fn of(report: &RunReport) -> Span {
        let start = parse(Some(&report.started_at));
        let ends = report
            .tenants
            .iter()
            .filter_map(|t| parse(t.finished_at.as_ref()));
        let end = ends.chain(parse(report.finished_at.as_ref())).max();
        let total_ms = match (start, end) {
            (Some(s), Some(e)) => ((e - s).whole_milliseconds() as f64).max(1.0),
            _ => 1.0,
        };
        Span { start, total_ms }
    }

    /// (left, width) of a tenant's bar, in percent of the run.
    fn bar(&self, t: &TenantReport) -> Option<(f64, f64)> {
        let (start, begun, ended) = (
            self.start?,
            parse(t.started_at.as_ref())?,
            parse(t.finished_at.as_ref())?,
        );
        let left = (begun - start).whole_milliseconds() as f64 / self.total_ms * 100.0;
        let width = (ended - begun).whole_milliseconds() as f64 / self.total_ms * 100.0;
        Some((left.clamp(0.0, 100.0), width.clamp(0.2, 100.0)))
    }

    fn total_text(&self) -> String {
        duration(self.total_ms as u64)
    }
}

fn parse(stamp: Option<&String>) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(stamp?, &Rfc3339).ok()
}

fn duration(ms: u64) -> String {
    match ms {
        0..=59_999 => format!("{:.1} s", ms as f64 / 1000.0),
        _ => format!("{}m {:02}s", ms / 60_000, (ms / 1000) % 60),
    }
}

/// Above this many tenants the bars carry no hover text (size).
const TITLED_BARS: usize = 2_000;

fn timeline(report: &RunReport, span: &Span) -> Markup {
    let titled = report.tenants.len() <= TITLED_BARS;
    let mut waves: Vec<(&str, Vec<&TenantReport>)> = Vec::new();
    for t in &report.tenants {
        match waves.last_mut() {
            Some((wave, tenants)) if *wave == t.wave => tenants.push(t),
            _ => waves.push((&t.wave, vec![t])),
        }
    }
    html! {
        section.timeline {
            h2 { "Timeline" }
            @for (wave, tenants) in &waves {
                div.wave {
                    h3 { "wave " (wave) " · " (tenants.len()) }
                    @for lane in lanes(span, tenants) {
                        div.lane {
                            @for (t, left, width) in lane {
                                i class={ "r-" (t.result.as_str()) }
                                    style={ "left:" (format!("{left:.1}")) "%;width:" (format!("{width:.1}")) "%" }
                                    title=[titled.then(|| format!("{} {} ×{}", t.tenant, duration(t.duration_ms.unwrap_or(0)), t.attempts))] {}
                            }
                        }
                    }
                }
            }
        }
    }
}

/// One bar per tenant that ran, packed into as few lanes as never overlap:
/// as many lanes as tenants ran at once, so parallelism and stragglers show.
fn lanes<'a>(span: &Span, tenants: &[&'a TenantReport]) -> Vec<Vec<(&'a TenantReport, f64, f64)>> {
    let mut bars: Vec<(&TenantReport, f64, f64)> = tenants
        .iter()
        .filter_map(|t| span.bar(t).map(|(left, width)| (*t, left, width)))
        .collect();
    bars.sort_by(|a, b| a.1.total_cmp(&b.1));
    let mut lanes: Vec<Vec<(&TenantReport, f64, f64)>> = Vec::new();
    for bar in bars {
        let free = lanes
            .iter_mut()
            .find(|lane| lane.last().is_some_and(|last| last.1 + last.2 <= bar.1));
        match free {
            Some(lane) => lane.push(bar),
            None => lanes.push(vec![bar]),
        }
    }
    lanes
}

fn table(rows: &[&TenantReport], ctx: &PageContext) -> Markup {
    html! {
        section {
            h2 { "Tenants" }
            p.filters hidden {
                label { "Result " select id="result" { option value="" { "all" } } }
                " "
                label { "Tenant " input id="search" type="search" placeholder="id or name"; }
            }
            table id="tenants" {
                thead {
                    tr {
                        th { "Tenant" } th { "Wave" } th { "Result" } th { "Changes" }
                        th { "Changed" } th { "Drifted" } th { "Attempts" } th { "Duration" }
                        th { "First diagnostic" } th { "Log" }
                    }
                }
                tbody {
                    @for t in rows {
                        (row(t, ctx))
                    }
                }
            }
        }
    }
}

/// One tenant's row. Kept terse (no per-cell attributes: the style sheet
/// styles columns by position): a page of 10,000 tenants must stay under 5 MB.
fn row(t: &TenantReport, ctx: &PageContext) -> Markup {
    let result = t.result.as_str();
    html! {
        tr class={ "r-" (result) } {
            td { b { (t.tenant) } @if let Some(name) = &t.name { br; small { (name) } } }
            td { (t.wave) }
            td { mark { (result) } }
            td { (t.counts.to_string()) }
            td { (addresses(&t.changed)) }
            td { (addresses(&t.drifted)) }
            td { (t.attempts) }
            td { @if let Some(ms) = t.duration_ms { (duration(ms)) } }
            td { (t.detail()) }
            td { a href={ (ctx.log_prefix) (t.log) } { "log" } }
        }
    }
}

fn addresses(all: &[String]) -> Markup {
    html! {
        @for (i, address) in all.iter().take(ADDRESSES_SHOWN).enumerate() {
            @if i > 0 { br; }
            (address)
        }
        @if all.len() > ADDRESSES_SHOWN {
            br; small { "and " (all.len() - ADDRESSES_SHOWN) " more" }
        }
    }
}

const STYLE: &str = r#"
body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#1f2328;background:#fff}
h1{font-size:1.4rem;margin:0 0 .5rem}h2{font-size:1.1rem;margin:1.5rem 0 .5rem}h3{font-size:.85rem;margin:.4rem 0;color:#57606a}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.1rem 1rem;margin:.5rem 0}dt{color:#57606a}dd{margin:0}
.counts{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:.5rem}.counts li{padding:.15rem .6rem;border-radius:1rem;background:#f6f8fa}
.status{font-size:.9rem;padding:.1rem .6rem;border-radius:1rem;vertical-align:middle}
.s-clean{background:#dafbe1}.s-changes{background:#ddf4ff}.s-failed{background:#ffebe9}.s-running{background:#fff8c5}
.lane{position:relative;height:14px;background:#f6f8fa;margin-bottom:2px}.lane i{position:absolute;top:0;height:14px;min-width:2px;opacity:.85}
.lane i:hover{opacity:1;outline:1px solid #1f2328}
mark{padding:.05rem .5rem;border-radius:1rem;white-space:nowrap;background:#8c959f;color:#fff}
i.r-failed,.r-failed mark,li.r-failed{background:#cf222e;color:#fff}
i.r-changes,i.r-applied,i.r-destroyed,.r-changes mark,.r-applied mark,.r-destroyed mark,li.r-changes,li.r-applied{background:#0969da;color:#fff}
i.r-drifted,.r-drifted mark,li.r-drifted{background:#bf8700;color:#fff}
i.r-no-changes,i.r-in-sync,i.r-unchanged,.r-no-changes mark,.r-in-sync mark,.r-unchanged mark{background:#2da44e;color:#fff}
li.r-not-started,li.r-pending{background:#8c959f;color:#fff}
table{border-collapse:collapse;width:100%}th,td{text-align:left;vertical-align:top;padding:.3rem .5rem;border-bottom:1px solid #d0d7de}
th{background:#f6f8fa;position:sticky;top:0;cursor:default}
#tenants td:nth-child(4),#tenants td:nth-child(7),#tenants td:nth-child(8){text-align:right;white-space:nowrap}
small{color:#57606a}code,#tenants td:nth-child(5),#tenants td:nth-child(6){font:.8rem ui-monospace,monospace}
code{background:#f6f8fa;padding:0 .2rem;border-radius:3px}
#tenants td:nth-child(9){max-width:32rem;white-space:pre-wrap;word-break:break-word}tr.r-failed td:nth-child(9){color:#cf222e}
"#;

/// Filtering by result and text, sorting by a header click. Only adds to a
/// page that is complete without it.
const SCRIPT: &str = r#"
(function(){
var rows=[].slice.call(document.querySelectorAll('#tenants tbody tr'));
var filters=document.querySelector('.filters');filters.hidden=false;
var select=document.getElementById('result'),search=document.getElementById('search');
function result(r){return r.className.slice(2);}
var seen={};rows.forEach(function(r){var v=result(r);if(!seen[v]){seen[v]=1;var o=document.createElement('option');o.value=v;o.textContent=v;select.appendChild(o);}});
function apply(){var v=select.value,q=search.value.toLowerCase();rows.forEach(function(r){var ok=(!v||result(r)===v)&&(!q||r.cells[0].textContent.toLowerCase().indexOf(q)>=0);r.style.display=ok?'':'none';});}
select.addEventListener('change',apply);search.addEventListener('input',apply);
var body=document.querySelector('#tenants tbody');
[].slice.call(document.querySelectorAll('#tenants th')).forEach(function(th,i){th.style.cursor='pointer';var up=true;th.addEventListener('click',function(){
function key(r){var t=r.cells[i].textContent;if([3,6,7].indexOf(i)<0)return t;
var m=t.match(/^(\d+)m (\d+)s$/);if(m)return m[1]*60+ +m[2];var n=t.match(/-?\d+(\.\d+)?/g)||[];return n.reduce(function(a,x){return a+Math.abs(+x);},0);}
rows.sort(function(a,b){var x=key(a),y=key(b);return (x<y?-1:x>y?1:0)*(up?1:-1);});up=!up;rows.forEach(function(r){body.appendChild(r);});});});
})();
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runs::{ChangeCounts, RunStatus};

    fn report() -> RunReport {
        let mut ok = TenantReport::pending("acme", "canary");
        ok.result = TenantResult::Changes;
        ok.counts = ChangeCounts {
            add: 2,
            change: 0,
            destroy: 0,
        };
        ok.changed = vec![
            "terraform_data.replica[0]".into(),
            "terraform_data.replica[1]".into(),
        ];
        ok.started_at = Some("2026-12-01T10:00:01Z".into());
        ok.finished_at = Some("2026-12-01T10:00:03Z".into());
        ok.duration_ms = Some(2000);
        let mut bad = TenantReport::pending("evil", "rest");
        bad.name = Some("<img src=x onerror=alert(1)>".into());
        bad.result = TenantResult::Failed;
        bad.error = Some("Resource precondition failed: <b>no</b>".into());
        bad.started_at = Some("2026-12-01T10:00:03Z".into());
        bad.finished_at = Some("2026-12-01T10:00:05Z".into());
        RunReport {
            run_id: "r1".into(),
            command: "plan".into(),
            application: "web".into(),
            stack: "stacks/portal".into(),
            started_at: "2026-12-01T10:00:00Z".into(),
            finished_at: Some("2026-12-01T10:00:05Z".into()),
            status: RunStatus::Failed,
            jobs: 2,
            from_run: None,
            resumes: 0,
            terraform_version: None,
            tenants: vec![ok, bad],
        }
    }

    #[test]
    fn user_input_is_escaped_and_nothing_is_fetched() {
        let html = page(&report(), &PageContext::default());
        assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));
        assert!(!html.contains("<img"));
        assert!(html.contains("&lt;b&gt;no&lt;/b&gt;"));
        for fetch in ["src=\"http", "href=\"http", "@import", "url("] {
            assert!(!html.contains(fetch), "{fetch}");
        }
    }

    #[test]
    fn bars_sit_where_the_tenants_ran_and_waves_group_them() {
        let html = page(&report(), &PageContext::default());
        assert!(html.contains("left:20.0%;width:40.0%"), "{html}");
        assert!(html.contains("left:60.0%;width:40.0%"));
        assert!(html.contains("wave canary · 1") && html.contains("wave rest · 1"));
        assert_eq!(html.matches("class=\"lane\"").count(), 2);
        assert!(html.contains("<b>2</b> tenants"));
    }

    #[test]
    fn tenants_that_ran_at_once_get_lanes_of_their_own() {
        let mut r = report();
        r.tenants[1].wave = "canary".into();
        r.tenants[1].started_at = Some("2026-12-01T10:00:02Z".into());
        let span = Span::of(&r);
        let tenants: Vec<&TenantReport> = r.tenants.iter().collect();
        assert_eq!(lanes(&span, &tenants).len(), 2);
        r.tenants[1].started_at = Some("2026-12-01T10:00:03Z".into());
        let tenants: Vec<&TenantReport> = r.tenants.iter().collect();
        assert_eq!(lanes(&span, &tenants).len(), 1);
    }

    #[test]
    fn drift_runs_list_drifted_tenants_first_and_saved_plans_link_back() {
        let mut r = report();
        r.command = "drift".into();
        r.tenants[1].result = TenantResult::Drifted;
        r.from_run = Some("plan-1".into());
        let rows = ordered(&r);
        assert_eq!(rows[0].tenant, "evil");
        let html = page(&r, &PageContext::default());
        assert!(html.contains("href=\"../plan-1/report.html\""));
    }
}
