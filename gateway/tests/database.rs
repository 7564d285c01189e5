//! The embedded SQL engine against real SQLite files: migrations, atomicity, bound parameters,
//! row and time limits, concurrent writers, a full disk.

use std::sync::Arc;
use std::time::Duration;

mod common;

use common::count;
use orama_gateway::database::{Database, DbError, MIGRATIONS, QueryLimits, SqliteDb, Statement, migrate};

fn open(dir: &tempfile::TempDir, limits: QueryLimits, pool: usize) -> SqliteDb {
    SqliteDb::open(&dir.path().join("system.db"), pool, limits).expect("open")
}

#[tokio::test]
async fn migrations_apply_once_and_refuse_a_newer_schema() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open(&dir, QueryLimits::default(), 2);
    let newest = MIGRATIONS.last().expect("migrations").version;
    assert_eq!(migrate(&db).await.expect("first"), newest);
    assert_eq!(migrate(&db).await.expect("again"), newest);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM schema_migrations").await, MIGRATIONS.len() as i64);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM namespaces WHERE name = 'default'").await, 1);

    drop(db);
    let reopened = open(&dir, QueryLimits::default(), 2);
    assert_eq!(migrate(&reopened).await.expect("after reopen"), newest, "the schema persists in the file");
    reopened.execute(Statement::new("INSERT INTO schema_migrations VALUES (999, 'future', 0)")).await.expect("insert");
    let err = migrate(&reopened).await.expect_err("newer schema");
    assert!(err.to_string().contains("schema version 999 is newer"), "{err}");
}

#[tokio::test]
async fn transactions_are_all_or_nothing_and_parameters_are_bound() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open(&dir, QueryLimits::default(), 2);
    common::atomic_and_bound(&db).await;
    common::batches_are_atomic(&db).await;
}

#[tokio::test]
async fn queries_are_bounded_in_rows_and_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open(&dir, QueryLimits { max_rows: 5, timeout: Duration::from_millis(200), ..QueryLimits::default() }, 1);
    let five = db.query(Statement::new(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5) SELECT i FROM n",
    ));
    assert_eq!(five.await.expect("five rows").len(), 5);
    let ten = db.query(Statement::new(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10) SELECT i FROM n",
    ));
    assert_eq!(ten.await.expect_err("too many"), DbError::TooManyRows(5));

    let started = std::time::Instant::now();
    let endless = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT COUNT(*) FROM n";
    let err = db.query(Statement::new(endless)).await.expect_err("interrupted");
    assert_eq!(err, DbError::Timeout(Duration::from_millis(200)));
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    assert_eq!(db.query(Statement::new("SELECT 1")).await.expect("the connection still works").len(), 1);
}

#[tokio::test]
async fn concurrent_writers_all_succeed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Arc::new(open(&dir, QueryLimits::default(), 4));
    db.execute(Statement::new("CREATE TABLE c (n INTEGER)")).await.expect("create");
    let writers: Vec<_> = (0..64)
        .map(|i| {
            let db = db.clone();
            tokio::spawn(async move { db.transaction(vec![Statement::new("INSERT INTO c VALUES (?)").bind(i)]).await })
        })
        .collect();
    for writer in writers {
        writer.await.expect("task").expect("insert");
    }
    assert_eq!(count(db.as_ref(), "SELECT COUNT(*) FROM c").await, 64);
}

#[tokio::test]
async fn a_full_disk_is_a_clear_error_and_loses_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open(&dir, QueryLimits::default(), 1);
    db.execute(Statement::new("CREATE TABLE b (data BLOB)")).await.expect("create");
    db.execute(Statement::new("INSERT INTO b VALUES (zeroblob(1000))")).await.expect("small insert");
    // SQLite reports SQLITE_FULL when the file may not grow, exactly as on a full disk.
    db.query(Statement::new("PRAGMA max_page_count = 8")).await.expect("cap the file");
    let err = db
        .transaction(vec![
            Statement::new("INSERT INTO b VALUES (zeroblob(1000))"),
            Statement::new("INSERT INTO b VALUES (zeroblob(1000000))"),
        ])
        .await
        .expect_err("full");
    assert_eq!(err, DbError::Full);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM b").await, 1, "no partial write is visible");
}
