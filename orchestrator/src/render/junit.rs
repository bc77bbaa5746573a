//! JUnit XML for CI test reports (GitLab `artifacts:reports:junit`): one
//! test case per tenant.

use crate::runs::{RunReport, TenantResult};

pub fn render(report: &RunReport) -> String {
    let failures = report.failed();
    let skipped = report.count(TenantResult::NotStarted);
    let total_ms: u64 = report.tenants.iter().filter_map(|t| t.duration_ms).sum();
    let suite = format!("saasctl {} {}", report.command, report.application);
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    xml.push_str(&format!(
        "<testsuites name=\"{}\" tests=\"{}\" failures=\"{failures}\" skipped=\"{skipped}\" time=\"{:.3}\">\n",
        escape(&suite),
        report.tenants.len(),
        total_ms as f64 / 1000.0
    ));
    xml.push_str(&format!(
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" skipped=\"{skipped}\" timestamp=\"{}\">\n",
        escape(&suite),
        report.tenants.len(),
        escape(&report.started_at)
    ));
    for t in &report.tenants {
        xml.push_str(&format!(
            "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\">\n",
            escape(&report.application),
            escape(&t.tenant),
            t.duration_ms.unwrap_or(0) as f64 / 1000.0
        ));
        if t.result.is_failure() {
            xml.push_str(&format!(
                "      <failure message=\"{}\">{}</failure>\n",
                escape(t.result.as_str()),
                escape(&t.detail())
            ));
        } else if t.result == TenantResult::NotStarted {
            xml.push_str(&format!(
                "      <skipped message=\"{}\"/>\n",
                escape(&t.detail())
            ));
        }
        let note = match t.result {
            TenantResult::Unchanged => format!(" ({})", t.detail()),
            _ => String::new(),
        };
        xml.push_str(&format!(
            "      <system-out>{}{} {} log: {}</system-out>\n    </testcase>\n",
            t.result.as_str(),
            escape(&note),
            t.counts,
            escape(&t.log)
        ));
    }
    xml.push_str("  </testsuite>\n</testsuites>\n");
    xml
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 cannot carry most control characters at all.
            c if c.is_control() && !matches!(c, '\n' | '\t' | '\r') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runs::{RunStatus, TenantReport};

    #[test]
    fn failures_and_skips_are_marked_and_escaped() {
        let mut failed = TenantReport::pending("t1", "all");
        failed.result = TenantResult::Failed;
        failed.error = Some("precondition <failed> & \"x\"".into());
        let mut skipped = TenantReport::pending("t2", "all");
        skipped.result = TenantResult::NotStarted;
        let mut ok = TenantReport::pending("t3", "all");
        ok.result = TenantResult::Changes;
        let report = RunReport {
            run_id: "r".into(),
            command: "plan".into(),
            application: "web".into(),
            stack: "s".into(),
            started_at: "2026-11-21T00:00:00Z".into(),
            finished_at: None,
            status: RunStatus::Failed,
            jobs: 1,
            from_run: None,
            resumes: 0,
            terraform_version: None,
            tenants: vec![failed, skipped, ok],
        };
        let xml = render(&report);
        assert!(
            xml.contains("tests=\"3\" failures=\"1\" skipped=\"1\""),
            "{xml}"
        );
        assert!(
            xml.contains("precondition &lt;failed&gt; &amp; &quot;x&quot;"),
            "{xml}"
        );
        assert!(xml.contains("<skipped message="), "{xml}");
        assert_eq!(xml.matches("<testcase").count(), 3);
    }
}
