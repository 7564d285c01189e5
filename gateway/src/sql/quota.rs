//! Each namespace's share of the shared store (RQLite), which also holds every key and
//! account: a namespace whose tables reach `backends.sql.namespace_quota` can no longer write
//! (507) until it deletes or drops something (deletes and drops are always allowed), and it
//! holds at most [`MAX_OBJECTS`] tables and indexes.
//!
//! How it is counted: the pages of every b-tree of the namespace's tables (their indexes too,
//! SQLite's own `sqlite_autoindex_*` included), read from SQLite's `dbstat` table, plus their
//! schema text. A measurement is trusted for [`FRESH`]; between measurements each admitted
//! write whose syntax bounds it by its own size ([`effect`](super::effect): inserts of literals
//! and parameters, schema statements) adds that size (SQL text and parameters) to an estimate,
//! once for each table and index the namespace has (a row may be copied into every index), and
//! a write that would take the estimate past the quota is measured again first (at most every
//! [`REMEASURE`], so a tenant cannot make the store walk its pages on every write; until then
//! such a write is refused, and a delete shows at the next measurement).
//!
//! Every other write (updates, copies, computed values, and inserts that may leave a column
//! default to a namespace that declares defaults) can store far more than its size: such
//! writes of one namespace run one at a time, and after one the namespace's usage is taken to
//! be at least what it measured plus everything the whole store grew by since (the store's
//! used pages are one cheap query); a write that bound puts past the quota makes the
//! namespace measured again, or is refused until [`REMEASURE`] allows it. So a namespace
//! overshoots its quota by at most the one statement of this kind it has running, which the
//! statement time limit bounds.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::effect::{Growth, Write};
use crate::database::{Database, DbError, Op, Rows, SqlValue, Statement};

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
    /// A write since the measurement stored an unknown amount.
    stale: bool,
    /// A table of the namespace declares a column default.
    defaults: bool,
    /// The bytes in use in the whole store when the namespace was measured.
    store_used: u64,
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

    /// Admits `writes` by the namespace of `prefix` (each statement with what it does), or
    /// refuses them when the namespace is at its quota.
    pub async fn admit(
        &self,
        db: &dyn Database,
        prefix: &str,
        writes: &[(&Statement, Write)],
    ) -> Result<Admitted, DbError> {
        if writes.is_empty() {
            return Ok(Admitted { _turn: None });
        }
        let unbounded = |defaults: bool| {
            writes.iter().any(|(_, write)| match write.growth {
                Growth::Unbounded => true,
                Growth::OwnSizeAndDefaults => defaults,
                Growth::OwnSize => false,
            })
        };
        let mut turn = match unbounded(self.known(prefix).is_none_or(|usage| usage.defaults)) {
            true => Some(self.turn(prefix).lock_owned().await),
            false => None,
        };
        let size: u64 = writes.iter().map(|(statement, _)| statement_size(statement)).sum();
        let mut usage = match self.known(prefix) {
            Some(usage) if usage.at.elapsed() < FRESH => usage,
            _ => self.measure(db, prefix).await?,
        };
        let mut bound = self.bound(db, &usage).await?;
        if bound.saturating_add(size) > self.quota && usage.at.elapsed() >= REMEASURE {
            usage = self.measure(db, prefix).await?;
            bound = usage.estimated;
        }
        if bound.saturating_add(size) > self.quota {
            return Err(DbError::OverQuota(self.quota));
        }
        let unbounded = unbounded(usage.defaults);
        if unbounded && turn.is_none() {
            turn = Some(self.turn(prefix).lock_owned().await);
        }
        let objects: u64 = writes.iter().map(|(_, write)| write.objects).sum();
        if usage.objects >= MAX_OBJECTS && objects > 0 {
            return Err(DbError::Sql(format!("a namespace holds at most {MAX_OBJECTS} tables and indexes")));
        }
        if let Some(usage) = self.usage.lock().unwrap_or_else(|p| p.into_inner()).get_mut(prefix) {
            usage.objects += objects;
            usage.estimated = usage.estimated.saturating_add(size.saturating_mul(usage.objects.max(1)));
            usage.stale |= unbounded;
            usage.defaults |= writes.iter().any(|(_, write)| write.declares_default);
        }
        Ok(Admitted { _turn: turn })
    }

    /// The most the namespace can hold now: the estimate, and after a write that stored an
    /// unknown amount, at least what it measured plus all the store grew by since (the
    /// namespace cannot have grown more than the whole store; one cheap query, no page walk).
    async fn bound(&self, db: &dyn Database, usage: &Usage) -> Result<u64, DbError> {
        if !usage.stale {
            return Ok(usage.estimated);
        }
        let grown = store_used(db).await?.saturating_sub(usage.store_used);
        Ok(usage.estimated.max(usage.measured.saturating_add(grown)))
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
        // Taken first: what the store grows by while the pages are walked counts later.
        let store_used = store_used(db).await?;
        let objects = db
            .query(
                Statement::new(
                    "SELECT name, length(sql), instr(lower(sql), 'default') > 0 FROM sqlite_master \
                     WHERE tbl_name LIKE ? ESCAPE '\\'",
                )
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
        let defaults = objects.rows.iter().any(|row| row.get(2).and_then(SqlValue::as_i64) == Some(1));
        let objects = objects.rows.len() as u64;
        let usage =
            Usage { measured, estimated: measured, objects, at: Instant::now(), stale: false, defaults, store_used };
        self.usage.lock().unwrap_or_else(|p| p.into_inner()).insert(prefix.to_owned(), usage);
        Ok(usage)
    }
}

fn sum_of(result: &crate::database::OpResult) -> u64 {
    match result {
        crate::database::OpResult::Query(Rows { rows, .. }) => {
            rows.iter().filter_map(|row| row.first()?.as_i64()).map(|n| n.max(0) as u64).sum()
        }
        crate::database::OpResult::Exec(_) => 0,
    }
}

/// The bytes in use in the whole store: its pages less the free ones (O(1) in SQLite).
async fn store_used(db: &dyn Database) -> Result<u64, DbError> {
    let rows = db
        .query(Statement::new(
            "SELECT ((SELECT page_count FROM pragma_page_count()) - (SELECT freelist_count FROM pragma_freelist_count())) \
             * (SELECT page_size FROM pragma_page_size())",
        ))
        .await?;
    Ok(rows.rows.first().and_then(|row| row.first()?.as_i64()).map_or(0, |n| n.max(0) as u64))
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
    use crate::database::SqliteDb;

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
