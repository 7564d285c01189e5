//! The SQLite dialect as tenant SQL is parsed: sqlparser's `SQLiteDialect` with two changes.
//!
//! - A work budget. sqlparser backtracks: on words with a special form (`CAST(`, `POSITION(`,
//!   an unclosed `CASE`, ...) it tries the special form and, when that fails, parses the same
//!   tokens again as something else, so nesting such words multiplies the work at every level
//!   (a dozen nested `POSITION(` took 0.65 s; twenty, minutes). Every expression the parser
//!   starts calls [`Dialect::parse_prefix`] first, so counting those calls bounds the whole
//!   parse: once the budget is spent every further expression fails at once, every pending
//!   alternative fails with it, and the statement is refused as too complex.
//! - `REGEXP` and `MATCH` parsed without the upstream `unwrap()` (a missing right-hand side
//!   panicked the parser).
//!
//! Everything else is forwarded to `SQLiteDialect`, and [`Dialect::dialect`] answers its type,
//! so the parser's dialect-specific rules treat this exactly as SQLite.

use std::any::TypeId;
use std::cell::Cell;

use sqlparser::ast::{BinaryOperator, Expr, Statement};
use sqlparser::dialect::{Dialect, SQLiteDialect};
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};

/// What a budget exhaustion says, so the caller can tell it from a syntax error.
pub const EXHAUSTED: &str = "the statement is too complex to parse";

/// `SQLiteDialect` with a budget of expression starts (see the module docs).
#[derive(Debug)]
pub struct BudgetedSqlite {
    inner: SQLiteDialect,
    left: Cell<usize>,
}

impl BudgetedSqlite {
    /// A dialect allowing `budget` expression starts.
    pub fn new(budget: usize) -> BudgetedSqlite {
        BudgetedSqlite { inner: SQLiteDialect {}, left: Cell::new(budget) }
    }

    /// Whether the budget ran out.
    pub fn exhausted(&self) -> bool {
        self.left.get() == 0
    }

    fn spend(&self) -> Result<(), ParserError> {
        match self.left.get() {
            0 => Err(ParserError::ParserError(EXHAUSTED.into())),
            left => {
                self.left.set(left - 1);
                Ok(())
            }
        }
    }
}

impl Dialect for BudgetedSqlite {
    fn dialect(&self) -> TypeId {
        self.inner.dialect()
    }

    fn is_delimited_identifier_start(&self, ch: char) -> bool {
        self.inner.is_delimited_identifier_start(ch)
    }

    fn identifier_quote_style(&self, identifier: &str) -> Option<char> {
        self.inner.identifier_quote_style(identifier)
    }

    fn is_identifier_start(&self, ch: char) -> bool {
        self.inner.is_identifier_start(ch)
    }

    fn is_identifier_part(&self, ch: char) -> bool {
        self.inner.is_identifier_part(ch)
    }

    fn supports_filter_during_aggregation(&self) -> bool {
        self.inner.supports_filter_during_aggregation()
    }

    fn supports_start_transaction_modifier(&self) -> bool {
        self.inner.supports_start_transaction_modifier()
    }

    fn parse_statement(&self, parser: &mut Parser) -> Option<Result<Statement, ParserError>> {
        self.inner.parse_statement(parser)
    }

    fn parse_prefix(&self, _parser: &mut Parser) -> Option<Result<Expr, ParserError>> {
        self.spend().err().map(Err)
    }

    fn parse_infix(&self, parser: &mut Parser, expr: &Expr, _precedence: u8) -> Option<Result<Expr, ParserError>> {
        for (keyword, op) in [(Keyword::REGEXP, BinaryOperator::Regexp), (Keyword::MATCH, BinaryOperator::Match)] {
            if parser.parse_keyword(keyword) {
                let right = parser.parse_expr();
                return Some(right.map(|right| Expr::BinaryOp {
                    left: Box::new(expr.clone()),
                    op,
                    right: Box::new(right),
                }));
            }
        }
        None
    }

    fn supports_in_empty_list(&self) -> bool {
        self.inner.supports_in_empty_list()
    }

    fn supports_limit_comma(&self) -> bool {
        self.inner.supports_limit_comma()
    }

    fn supports_asc_desc_in_column_definition(&self) -> bool {
        self.inner.supports_asc_desc_in_column_definition()
    }

    fn supports_dollar_placeholder(&self) -> bool {
        self.inner.supports_dollar_placeholder()
    }

    fn supports_notnull_operator(&self) -> bool {
        self.inner.supports_notnull_operator()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses on a thread with the checking threads' stack (deep nests need it in debug builds).
    fn parse(sql: &str, budget: usize) -> Result<Vec<Statement>, String> {
        let sql = sql.to_owned();
        let parsing = std::thread::Builder::new().stack_size(64 << 20).spawn(move || {
            let dialect = BudgetedSqlite::new(budget);
            Parser::parse_sql(&dialect, &sql).map_err(|e| e.to_string())
        });
        parsing.expect("spawn").join().expect("no panic")
    }

    #[test]
    fn backtracking_nests_stop_at_the_budget() {
        for opener in ["POSITION(", "CAST(", "CASE WHEN 1 THEN ", "SUBSTRING(", "CEIL(", "CONVERT("] {
            let sql = format!("SELECT {}1", opener.repeat(40));
            let started = std::time::Instant::now();
            let err = parse(&sql, 10_000).expect_err(opener);
            assert!(err.contains(EXHAUSTED) || started.elapsed().as_secs() < 1, "{opener}: {err}");
            assert!(started.elapsed().as_secs() < 5, "{opener} took {:?}", started.elapsed());
        }
    }

    #[test]
    fn regexp_without_a_right_side_is_an_error_not_a_panic() {
        assert!(parse("SELECT 1 REGEXP", 1000).is_err());
        assert!(parse("SELECT 1 MATCH", 1000).is_err());
        assert!(parse("SELECT 'a' REGEXP 'b'", 1000).is_ok());
    }

    #[test]
    fn sqlite_syntax_is_unchanged() {
        for sql in ["REPLACE INTO t VALUES (1)", "SELECT [a] FROM `t` WHERE x NOTNULL LIMIT 1, 2", "SELECT $1"] {
            assert!(parse(sql, 1000).is_ok(), "{sql}: {:?}", parse(sql, 1000));
        }
    }
}
