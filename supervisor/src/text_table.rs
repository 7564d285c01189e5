//! The plain-text tables `ctl` prints (`ctl status`, `ctl apikey list`).

/// Rows as left-aligned columns two spaces apart, the first row being the header.
pub fn render_table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|i| rows.iter().filter_map(|r| r.get(i)).map(|c| c.chars().count()).max().unwrap_or(0))
        .collect();
    let mut text = String::new();
    for row in rows {
        let cells: Vec<String> = row.iter().zip(&widths).map(|(cell, w)| format!("{cell:<w$}")).collect();
        text.push_str(cells.join("  ").trim_end());
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_as_wide_as_their_widest_cell() {
        let rows = vec![vec!["NAME".to_owned(), "STATE".to_owned()], vec!["gateway".to_owned(), "ready".to_owned()]];
        assert_eq!(render_table(&rows), "NAME     STATE\ngateway  ready\n");
    }
}
