//! The byte budget of one result: what a query may make the gateway hold in memory.
//!
//! Rows are checked cell by cell while they are read, before a cell is copied, so a query
//! that would return more than the budget fails after reading at most one budget's worth
//! (plus the cell that crossed it), whatever its row count or column count. A cell costs what
//! it occupies: the [`SqlValue`](super::SqlValue) itself plus its text or bytes; a row costs
//! its vector. Both engines and every query of a batch share one budget per request.

use super::DbError;

/// What one cell costs besides its text or bytes (the size of a `SqlValue`).
const CELL: usize = std::mem::size_of::<super::SqlValue>();
/// What one row costs besides its cells (the size of a `Vec`).
const ROW: usize = std::mem::size_of::<Vec<super::SqlValue>>();

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

    /// Charges one cell holding `heap_bytes` of text or bytes; fails once the budget is spent.
    pub fn cell(&mut self, heap_bytes: usize) -> Result<(), DbError> {
        self.charge(CELL.saturating_add(heap_bytes))
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
}
