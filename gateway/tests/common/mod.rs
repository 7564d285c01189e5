//! What every SQL engine must do alike, run against each engine by its own test file.
#![allow(dead_code, reason = "each test binary uses only some of these checks")]

use orama_gateway::database::{Database, DbError, Op, OpResult, Statement};

/// The first column of the first row of `sql`, as an integer.
pub async fn count(db: &dyn Database, sql: &str) -> i64 {
    db.query(Statement::new(sql)).await.expect("count").rows[0][0].as_i64().expect("integer")
}

/// Transactions are all or nothing, failures name their statement, parameters are bound (a
/// hostile value is stored verbatim, never interpreted), SQL errors are the caller's fault.
pub async fn atomic_and_bound(db: &dyn Database) {
    db.execute(Statement::new("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE)")).await.expect("create");
    let hostile = "x'); DROP TABLE t; --";
    let insert = || Statement::new("INSERT INTO t (name) VALUES (?)").bind(hostile);
    let err = db.transaction(vec![insert(), insert()]).await.expect_err("duplicate");
    assert!(matches!(&err, DbError::Constraint(m) if m.starts_with("statement 1")), "{err:?}");
    assert_eq!(count(db, "SELECT COUNT(*) FROM t").await, 0, "the first insert was rolled back");

    let results = db.transaction(vec![insert(), Statement::new("UPDATE t SET name = name")]).await.expect("commit");
    assert_eq!(results[0].rows_affected, 1);
    let rows =
        db.query(Statement::new("SELECT name FROM t WHERE id = ?").bind(results[0].last_insert_id)).await.expect("q");
    assert_eq!(rows.get(0, "name").and_then(|v| v.as_str()), Some(hostile), "stored verbatim, never interpreted");
    let err = db.query(Statement::new("SELEC nonsense")).await.expect_err("syntax");
    assert!(matches!(err, DbError::Sql(_)) && err.is_caller_fault(), "{err:?}");
}

/// A batch of reads and writes is atomic and its reads see its earlier writes.
pub async fn batches_are_atomic(db: &dyn Database) {
    db.execute(Statement::new("CREATE TABLE b (k TEXT PRIMARY KEY, v INTEGER)")).await.expect("create");
    let put = |k: &str, v: i64| Op::Exec(Statement::new("INSERT INTO b (k, v) VALUES (?, ?)").bind(k).bind(v));
    let read = || Op::Query(Statement::new("SELECT COUNT(*) AS n FROM b"));
    let results = db.batch(vec![put("a", 1), read(), put("b", 2)]).await.expect("batch");
    assert!(matches!(&results[0], OpResult::Exec(e) if e.rows_affected == 1), "{results:?}");
    assert!(matches!(&results[1], OpResult::Query(r) if r.rows[0][0].as_i64() == Some(1)), "{results:?}");
    let err = db.batch(vec![put("c", 3), read(), put("a", 9)]).await.expect_err("duplicate key");
    assert!(matches!(&err, DbError::Constraint(m) if m.starts_with("statement 2")), "{err:?}");
    assert_eq!(count(db, "SELECT COUNT(*) FROM b").await, 2, "the failed batch left nothing behind");
}
