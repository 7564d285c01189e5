//! Each namespace's share of the shared store (RQLite), which also holds every key and
//! account: a namespace whose tables reach `backends.sql.namespace_quota` can no longer write
//! (507) until it deletes or drops something (deletes and drops are always allowed), and it
//! holds at most [`MAX_OBJECTS`] tables and indexes.
//!
//! How it is counted: the pages of every b-tree of the namespace's tables (their indexes too,
//! SQLite's own `sqlite_autoindex_*` included), read from SQLite's `dbstat` table, plus their
//! schema text. A measurement is trusted for [`FRESH`]; between measurements each admitted
//! write adds its own size (SQL text and parameters) to an estimate, once for each table and
//! index the namespace has (a row may be copied into every index), and a write that would take
//! the estimate past the quota is measured again first (at most every [`REMEASURE`], so a
//! tenant cannot make the store walk its pages on every write; until then such a write is
//! refused, and a delete shows at the next measurement). A write that copies from a query
//! (`INSERT … SELECT`, `CREATE TABLE … AS SELECT`) can write far more than its own size: such
//! writes of one namespace run one at a time and each makes the next write measure again, so
//! the namespace overshoots by at most one statement, which the statement time limit bounds.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::db::{Database, DbError, Op, Rows, SqlValue, Statement};

/// How long a measurement is trusted.
const FRESH: Duration = Duration::from_secs(10);
/// The soonest a namespace is measured again.
const REMEASURE: Duration = Duration::from_secs(2);
/// Most tables and indexes one namespace holds.
pub const MAX_OBJECTS: u64 = 1000;

/// The namespaces' usage of the shared store.
#[derive(Debug, Default)]
pub struct SharedQuota {
    quota: u64,
    usage: Mutex<HashMap<String, Usage>>,
    copying: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

#[derive(Debug, Clone, Copy)]
struct Usage {
    measured: u64,
    estimated: u64,
    objects: u64,
    at: Instant,
    stale: bool,
}

/// A write admitted: held while it runs (a copying write holds its namespace's turn).
#[derive(Debug)]
pub struct Admitted {
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl SharedQuota {
    /// Namespaces may each take `quota` bytes.
    pub fn new(quota: u64) -> SharedQuota {
        SharedQuota { quota, ..SharedQuota::default() }
    }

    /// Admits a write of `statements` by the namespace of `prefix`, or refuses it when the
    /// namespace is at its quota. Statements that only free space are always admitted.
    pub async fn admit(&self, db: &dyn Database, prefix: &str, statements: &[&Statement]) -> Result<Admitted, DbError> {
        if statements.is_empty() || statements.iter().all(|s| frees_space(&s.sql)) {
            return Ok(Admitted { _turn: None });
        }
        let copies = statements.iter().any(|s| s.sql.to_ascii_lowercase().contains("select"));
        let turn = match copies {
            true => Some(self.turn(prefix).lock_owned().await),
            false => None,
        };
        let size: u64 = statements.iter().map(|s| statement_size(s)).sum();
        let usage = match self.known(prefix) {
            Some(usage) if !self.due(&usage, size) => usage,
            _ => self.measure(db, prefix).await?,
        };
        if usage.measured >= self.quota || usage.estimated.saturating_add(size) > self.quota {
            return Err(DbError::OverQuota(self.quota));
        }
        if usage.objects >= MAX_OBJECTS && statements.iter().any(|s| starts_with(&s.sql, "create")) {
            return Err(DbError::Sql(format!("a namespace holds at most {MAX_OBJECTS} tables and indexes")));
        }
        if let Some(usage) = self.usage.lock().unwrap_or_else(|p| p.into_inner()).get_mut(prefix) {
            usage.objects += statements.iter().map(|s| objects_made(&s.sql)).sum::<u64>();
            usage.estimated = usage.estimated.saturating_add(size.saturating_mul(usage.objects.max(1)));
            usage.stale |= copies;
        }
        Ok(Admitted { _turn: turn })
    }

    /// Whether `usage` must be measured again before a write of `size` bytes.
    fn due(&self, usage: &Usage, size: u64) -> bool {
        let age = usage.at.elapsed();
        age >= FRESH || (age >= REMEASURE && (usage.stale || usage.estimated.saturating_add(size) > self.quota))
    }

    /// The turn copying writes of the namespace of `prefix` take one at a time.
    fn turn(&self, prefix: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut copying = self.copying.lock().unwrap_or_else(|p| p.into_inner());
        copying.retain(|_, turn| Arc::strong_count(turn) > 1);
        copying.entry(prefix.to_owned()).or_default().clone()
    }

    fn known(&self, prefix: &str) -> Option<Usage> {
        self.usage.lock().unwrap_or_else(|p| p.into_inner()).get(prefix).copied()
    }

    /// Measures the bytes the namespace's tables, their indexes and their schema occupy.
    async fn measure(&self, db: &dyn Database, prefix: &str) -> Result<Usage, DbError> {
        let like = format!("{}%", prefix.replace('_', "\\_"));
        let objects = db
            .query(
                Statement::new("SELECT name, length(sql) FROM sqlite_master WHERE tbl_name LIKE ? ESCAPE '\\'")
                    .bind(like),
            )
            .await?;
        let schema: u64 = objects.rows.iter().filter_map(|row| row.get(1)?.as_i64()).map(|n| n.max(0) as u64).sum();
        let sizes: Vec<Op> = objects
            .rows
            .iter()
            .filter_map(|row| row.first().and_then(SqlValue::as_str))
            .map(|name| {
                Op::Query(Statement::new("SELECT pgsize FROM dbstat WHERE name = ? AND aggregate = 1").bind(name))
            })
            .collect();
        let pages = if sizes.is_empty() { 0 } else { db.batch(sizes).await?.iter().map(sum_of).sum() };
        let measured = pages + schema;
        let usage =
            Usage { measured, estimated: measured, objects: objects.len() as u64, at: Instant::now(), stale: false };
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
    starts_with(sql, "delete") || starts_with(sql, "drop")
}

/// The tables and indexes `sql` makes, counted high: a `CREATE` makes one, and SQLite adds an
/// index of its own for each `UNIQUE` and `PRIMARY KEY`.
fn objects_made(sql: &str) -> u64 {
    if !starts_with(sql, "create") {
        return 0;
    }
    let lower = sql.to_ascii_lowercase();
    1 + (lower.matches("unique").count() + lower.matches("primary key").count()) as u64
}

/// Whether the first word of `sql` is `word` (any case).
fn starts_with(sql: &str, word: &str) -> bool {
    sql.split_whitespace().next().is_some_and(|first| first.eq_ignore_ascii_case(word))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::SqliteDb;

    #[tokio::test]
    async fn a_namespace_is_its_tables_their_own_indexes_and_their_schema() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = SqliteDb::open(&dir.path().join("shared.db"), 1, Default::default()).expect("open");
        let prefix = "t_0123456789abcdef_";
        db.execute(Statement::new(format!("CREATE TABLE {prefix}blobs (b TEXT UNIQUE)"))).await.expect("table");
        db.execute(Statement::new("CREATE TABLE t_fedcba9876543210_other (b TEXT)")).await.expect("another's");
        for i in 0..100 {
            let insert = Statement::new(format!("INSERT INTO {prefix}blobs VALUES (?)"))
                .bind(format!("{i}{}", "x".repeat(4000)));
            db.execute(insert).await.expect("insert");
        }
        let quota = SharedQuota::new(1 << 30);
        let usage = quota.measure(&db, prefix).await.expect("measure");
        assert_eq!(usage.objects, 2, "the table and SQLite's own index for UNIQUE");
        assert!(usage.measured >= 2 * 100 * 4000, "every value counted twice: {}", usage.measured);
        assert!(usage.measured < 3 * 100 * 4096, "and nothing of other namespaces: {}", usage.measured);
    }
}
