//! Printing results: for people, aligned tables and plain values; with `--json`, one JSON
//! value per result on its own line.

use std::io::Write;

use serde_json::Value;

/// Where and how results are printed.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    /// JSON for scripts instead of text for people.
    pub json: bool,
}

impl Output {
    /// The output chosen by `--json`.
    pub fn new(json: bool) -> Output {
        Output { json }
    }

    /// Prints one result: JSON, or `human` for people.
    pub fn result(&self, value: &Value, human: impl FnOnce() -> String) {
        let text = if self.json { value.to_string() } else { human() };
        print_line(&text);
    }

    /// Prints rows: one JSON array, or a table of `columns`.
    pub fn rows(&self, rows: &[serde_json::Map<String, Value>], columns: &[String]) {
        if self.json {
            print_line(&Value::Array(rows.iter().cloned().map(Value::Object).collect()).to_string());
            return;
        }
        let cells: Vec<Vec<String>> =
            rows.iter().map(|row| columns.iter().map(|c| cell(row.get(c).unwrap_or(&Value::Null))).collect()).collect();
        print_line(&table(columns, &cells));
    }
}

/// A value as a table cell: strings bare, `NULL` for null, other JSON as JSON.
pub fn cell(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "NULL".to_owned(),
        other => other.to_string(),
    }
}

/// An aligned text table with a header line, or `(no rows)`.
pub fn table(columns: &[String], rows: &[Vec<String>]) -> String {
    if rows.is_empty() {
        return "(no rows)".to_owned();
    }
    let width =
        |i: usize| rows.iter().map(|r| r[i].chars().count()).chain([columns[i].chars().count()]).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns.len()).map(width).collect();
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        padded.join("  ").trim_end().to_owned()
    };
    let mut out = vec![line(columns), widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>().join("  ")];
    out.extend(rows.iter().map(|r| line(r)));
    out.push(format!("({} row{})", rows.len(), if rows.len() == 1 { "" } else { "s" }));
    out.join("\n")
}

/// A command-line value as JSON: itself when it parses as JSON, else a string.
pub fn json_or_text(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

/// `value` as JSON for `--json` output.
pub fn to_json(value: &impl serde::Serialize) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

fn print_line(text: &str) {
    let mut stdout = std::io::stdout().lock();
    // A closed pipe (`| head`) is not an error worth a message.
    let _ = writeln!(stdout, "{text}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_their_columns() {
        let columns = vec!["id".to_owned(), "name".to_owned()];
        let rows = vec![vec!["1".to_owned(), "ada".to_owned()], vec!["10".to_owned(), "NULL".to_owned()]];
        assert_eq!(table(&columns, &rows), "id  name\n--  ----\n1   ada\n10  NULL\n(2 rows)");
        assert_eq!(table(&columns, &[]), "(no rows)");
    }
}
