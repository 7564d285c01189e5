//! What every SQL engine must do alike, run against each engine by its own test file.

use orama_gateway::db::{Database, DbError, Statement};

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
