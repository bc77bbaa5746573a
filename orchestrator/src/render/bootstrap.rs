//! The `backend bootstrap` report: one row per bucket or lock table.

use crate::bootstrap::{ItemReport, ItemStatus};
use crate::render::{table::Table, OutputFormat, Printer};

pub fn report(printer: &Printer, format: OutputFormat, items: &[ItemReport]) -> anyhow::Result<()> {
    printer.listing(format, items, |items| {
        let mut table = Table::new(["KIND", "NAME", "RESULT", "DETAILS"]);
        for item in items {
            table.row([
                kind_name(item),
                item.name.clone(),
                status_name(item.status).to_string(),
                item.details.join("; "),
            ]);
        }
        table
    })?;
    if format == OutputFormat::Table {
        printer.out(&format!("{}\n", summary(items)))?;
    }
    Ok(())
}

/// `2 created, 1 correct` style counts, in a fixed order, zeros left out.
pub fn summary(items: &[ItemReport]) -> String {
    const ORDER: [ItemStatus; 6] = [
        ItemStatus::Created,
        ItemStatus::Correct,
        ItemStatus::Fixed,
        ItemStatus::Missing,
        ItemStatus::Drifted,
        ItemStatus::Failed,
    ];
    let parts: Vec<String> = ORDER
        .iter()
        .filter_map(|status| {
            let n = items.iter().filter(|i| i.status == *status).count();
            (n > 0).then(|| format!("{n} {}", status_name(*status)))
        })
        .collect();
    if parts.is_empty() {
        "nothing to do: no tenant selected".to_string()
    } else {
        parts.join(", ")
    }
}

fn kind_name(item: &ItemReport) -> String {
    serde_json::to_value(item.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn status_name(status: ItemStatus) -> &'static str {
    match status {
        ItemStatus::Created => "created",
        ItemStatus::Correct => "correct",
        ItemStatus::Fixed => "fixed",
        ItemStatus::Missing => "missing",
        ItemStatus::Drifted => "drifted",
        ItemStatus::Failed => "failed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bootstrap::ItemKind;

    fn item(status: ItemStatus) -> ItemReport {
        ItemReport {
            kind: ItemKind::Bucket,
            name: "b".into(),
            status,
            details: Vec::new(),
        }
    }

    #[test]
    fn summary_counts_in_order() {
        let items = [
            item(ItemStatus::Correct),
            item(ItemStatus::Created),
            item(ItemStatus::Correct),
        ];
        assert_eq!(summary(&items), "1 created, 2 correct");
        assert_eq!(summary(&[]), "nothing to do: no tenant selected");
        assert_eq!(kind_name(&items[0]), "bucket");
    }
}
