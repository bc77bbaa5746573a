//! A plain aligned text table. Colour is left out on purpose: tables are
//! often piped, and NO_COLOR users get exactly the same bytes. Columns
//! align by display width: an East Asian wide character takes two
//! terminal cells, a combining mark none.

use std::fmt;

use unicode_width::UnicodeWidthStr;

#[derive(Debug, Default)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new<I: IntoIterator<Item = S>, S: Into<String>>(header: I) -> Self {
        Table {
            header: header.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row<I: IntoIterator<Item = S>, S: Into<String>>(&mut self, cells: I) {
        self.rows.push(cells.into_iter().map(Into::into).collect());
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let columns = self.header.len();
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.width()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate().take(columns) {
                widths[i] = widths[i].max(cell.width());
            }
        }
        for line in std::iter::once(&self.header).chain(&self.rows) {
            let mut out = String::new();
            for (i, cell) in line.iter().enumerate().take(columns) {
                out.push_str(cell);
                if i + 1 < columns {
                    let padding = widths[i] - cell.width() + 2;
                    out.extend(std::iter::repeat_n(' ', padding));
                }
            }
            writeln!(f, "{}", out.trim_end())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_columns() {
        let mut t = Table::new(["ID", "TIER"]);
        t.row(["acme", "premium"]);
        t.row(["b", "basic"]);
        assert_eq!(t.to_string(), "ID    TIER\nacme  premium\nb     basic\n");
    }

    #[test]
    fn aligns_wide_characters_and_combining_marks_by_display_width() {
        let mut t = Table::new(["NAME", "TIER"]);
        // 7 characters, 14 cells wide.
        t.row(["株式会社テスト", "premium"]);
        // "Café" with a combining acute accent: 5 characters, 4 cells wide.
        t.row(["Cafe\u{301}", "basic"]);
        assert_eq!(
            t.to_string(),
            "NAME            TIER\n\
             株式会社テスト  premium\n\
             Cafe\u{301}            basic\n"
        );
    }
}
