//! The byte budget of one result: what a query may make the gateway hold in memory.
//!
//! Rows are checked cell by cell while they are read, before a cell is copied, so a query
//! that would return more than the budget fails after reading at most one budget's worth
//! (plus the cell that crossed it), whatever its row count or column count. A cell costs the
//! [`SqlValue`](super::value::SqlValue) itself plus the larger of its bytes in memory and what it
//! becomes in the JSON reply: its column's key, and its text escaped (control characters take
//! six bytes, bytes that are not UTF-8 three) or its blob in base64. So a result within the
//! budget is also a reply within it. A row costs its vector. Both engines and every query of a
//! batch share one budget per request.

use super::engine::DbError;

/// What one cell costs besides its text or bytes (the size of a `SqlValue`).
const CELL: usize = std::mem::size_of::<super::value::SqlValue>();
/// What one row costs besides its cells (the size of a `Vec`).
const ROW: usize = std::mem::size_of::<Vec<super::value::SqlValue>>();

/// Bytes a result may still take.
#[derive(Debug, Clone)]
pub struct ResultBudget {
    limit: usize,
    used: usize,
}

impl ResultBudget {
    /// A budget of `limit` bytes.
    pub fn new(limit: usize) -> ResultBudget {
        ResultBudget { limit, used: 0 }
    }

    /// Charges one cell costing `bytes` besides itself (see [`text_cost`], [`blob_cost`],
    /// [`scalar_cost`]); fails once the budget is spent.
    pub fn cell(&mut self, bytes: usize) -> Result<(), DbError> {
        self.charge(CELL.saturating_add(bytes))
    }

    /// Charges one row (its cells are charged on their own).
    pub fn row(&mut self) -> Result<(), DbError> {
        self.charge(ROW)
    }

    /// Charges a column name.
    pub fn name(&mut self, name: &str) -> Result<(), DbError> {
        self.charge(name.len().saturating_add(ROW))
    }

    fn charge(&mut self, bytes: usize) -> Result<(), DbError> {
        self.used = self.used.saturating_add(bytes);
        if self.used > self.limit { Err(DbError::ResultTooLarge(self.limit)) } else { Ok(()) }
    }
}

/// What a JSON member `"key":` adds around a value of `column`.
fn key_cost(column: &str) -> usize {
    column.len() + 4
}

/// The cost of a text cell of `column`: the larger of its bytes in memory and in JSON.
pub fn text_cost(column: &str, text: &[u8]) -> usize {
    let escapes: usize = text
        .iter()
        .map(|b| match b {
            0..=0x1f => 5,
            b'"' | b'\\' => 1,
            _ => 0,
        })
        .sum();
    // Bytes that are not UTF-8 become U+FFFD (three bytes) when the text is read.
    let decoded = if std::str::from_utf8(text).is_ok() { text.len() } else { text.len().saturating_mul(3) };
    key_cost(column) + decoded.saturating_add(escapes) + 2
}

/// The cost of a blob cell of `column` holding `len` bytes (base64 in JSON).
pub fn blob_cost(column: &str, len: usize) -> usize {
    key_cost(column) + len.div_ceil(3).saturating_mul(4) + 2
}

/// The cost of a number or NULL cell of `column`.
pub fn scalar_cost(column: &str) -> usize {
    key_cost(column) + 24
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_result_fails_on_the_cell_that_crosses_the_budget() {
        let mut budget = ResultBudget::new(1000);
        for _ in 0..10 {
            budget.cell(50).expect("within the budget");
        }
        assert_eq!(budget.cell(500), Err(DbError::ResultTooLarge(1000)));
        let mut small_cells = ResultBudget::new(1000);
        let fitted = (0..1000).take_while(|_| small_cells.cell(0).is_ok()).count();
        assert_eq!(fitted, 1000 / CELL, "empty cells still cost their own size");
    }

    #[test]
    fn a_cell_costs_what_it_becomes_in_json() {
        assert_eq!(text_cost("c", b"abc"), 5 + 3 + 2);
        assert_eq!(text_cost("c", b"\x01\x01"), 5 + 2 + 10 + 2, "control characters are escaped");
        assert_eq!(text_cost("c", &[0xff, 0xfe]), 5 + 6 + 2, "invalid UTF-8 is replaced");
        assert_eq!(blob_cost("c", 3), 5 + 4 + 2);
        assert_eq!(blob_cost("c", 4), 5 + 8 + 2);
    }
}
