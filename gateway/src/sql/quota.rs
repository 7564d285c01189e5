//! Each namespace's share of the shared store (RQLite), which also holds every key and
//! account: a namespace whose tables reach `backends.sql.namespace_quota` can no longer write
//! (507) until it deletes or drops something (deletes and drops are always allowed).
//!
//! How it is counted: the pages the namespace's tables and indexes (every name under its
//! prefix) occupy in the database file, read from SQLite's `dbstat` table (one walk of each
//! b-tree). A measurement is kept for [`FRESH`]; between measurements each admitted write adds
//! its own size (SQL text and parameters) to an estimate, and once the estimate reaches the
//! quota the namespace is measured again before the write. So a namespace overshoots by at most
//! what single statements write beyond their own size (`INSERT ... SELECT`), each bounded by
//! the statement time limit.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::db::{Database, DbError, Op, Rows, SqlValue, Statement};

/// How long a measurement is trusted.
const FRESH: Duration = Duration::from_secs(10);

/// The namespaces' usage of the shared store.
#[derive(Debug, Default)]
pub struct SharedQuota {
    quota: u64,
    usage: Mutex<HashMap<String, Usage>>,
}

#[derive(Debug, Clone, Copy)]
struct Usage {
    measured: u64,
    estimated: u64,
    at: Instant,
}

impl SharedQuota {
    /// Namespaces may each take `quota` bytes.
    pub fn new(quota: u64) -> SharedQuota {
        SharedQuota { quota, usage: Mutex::default() }
    }

    /// Admits a write of `statements` by the namespace of `prefix`, or refuses it when the
    /// namespace is at its quota. Statements that only free space are always admitted.
    pub async fn admit(&self, db: &dyn Database, prefix: &str, statements: &[&Statement]) -> Result<(), DbError> {
        if statements.is_empty() {
            return Ok(());
        }
        if statements.iter().all(|s| frees_space(&s.sql)) {
            // Measured again before the next write, which then sees the space freed.
            self.usage.lock().unwrap_or_else(|p| p.into_inner()).remove(prefix);
            return Ok(());
        }
        let size: u64 = statements.iter().map(|s| statement_size(s)).sum();
        let known = self.known(prefix);
        let usage = match known {
            Some(usage) if usage.at.elapsed() < FRESH && usage.estimated + size < self.quota => usage,
            _ => self.measure(db, prefix).await?,
        };
        if usage.measured >= self.quota {
            return Err(DbError::OverQuota(self.quota));
        }
        if let Some(usage) = self.usage.lock().unwrap_or_else(|p| p.into_inner()).get_mut(prefix) {
            usage.estimated = usage.estimated.saturating_add(size);
        }
        Ok(())
    }

    fn known(&self, prefix: &str) -> Option<Usage> {
        self.usage.lock().unwrap_or_else(|p| p.into_inner()).get(prefix).copied()
    }

    /// Measures the bytes the namespace's tables and indexes occupy.
    async fn measure(&self, db: &dyn Database, prefix: &str) -> Result<Usage, DbError> {
        let like = format!("{}%", prefix.replace('_', "\\_"));
        let names =
            db.query(Statement::new("SELECT name FROM sqlite_master WHERE name LIKE ? ESCAPE '\\'").bind(like)).await?;
        let sizes: Vec<Op> = names
            .rows
            .iter()
            .filter_map(|row| row.first().and_then(SqlValue::as_str))
            .map(|name| {
                Op::Query(Statement::new("SELECT pgsize FROM dbstat WHERE name = ? AND aggregate = 1").bind(name))
            })
            .collect();
        let measured = if sizes.is_empty() { 0 } else { db.batch(sizes).await?.iter().map(sum_of).sum() };
        let usage = Usage { measured, estimated: measured, at: Instant::now() };
        self.usage.lock().unwrap_or_else(|p| p.into_inner()).insert(prefix.to_owned(), usage);
        Ok(usage)
    }
}

fn sum_of(result: &crate::db::OpResult) -> u64 {
    match result {
        crate::db::OpResult::Query(Rows { rows, .. }) => {
            rows.iter().filter_map(|row| row.first()?.as_i64()).map(|n| n.max(0) as u64).sum()
        }
        crate::db::OpResult::Exec(_) => 0,
    }
}

/// Whether `sql` can only shrink the namespace (a delete or a drop).
fn frees_space(sql: &str) -> bool {
    let first = sql.split_whitespace().next().unwrap_or_default();
    first.eq_ignore_ascii_case("delete") || first.eq_ignore_ascii_case("drop")
}

/// What a statement brings with it: its text and its parameters.
fn statement_size(statement: &Statement) -> u64 {
    let params: usize = statement
        .params
        .iter()
        .map(|p| match p {
            SqlValue::Text(text) => text.len(),
            SqlValue::Blob(bytes) => bytes.len(),
            SqlValue::Null | SqlValue::Integer(_) | SqlValue::Real(_) => 8,
        })
        .sum();
    (statement.sql.len() + params) as u64
}
