//! A tenant's embedded database reaches nothing outside its own file: no other file by ATTACH
//! or VACUUM INTO, no settings-changing pragma, no extension, no transaction control of its
//! own; its size is capped. What a tenant legitimately needs still works.

mod common;

use common::count;
use orama_gateway::db::{Database, DbError, Op, QueryLimits, Sandbox, SqliteDb, Statement};

const MIB: u64 = 1024 * 1024;

fn tenant(dir: &tempfile::TempDir, max_bytes: u64) -> SqliteDb {
    SqliteDb::open_sandboxed(&dir.path().join("tenant.db"), 2, QueryLimits::default(), Sandbox { max_bytes })
        .expect("open")
}

#[tokio::test]
async fn escapes_are_refused_at_prepare_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let other = SqliteDb::open(&dir.path().join("system.db"), 1, QueryLimits::default()).expect("system");
    other.execute(Statement::new("CREATE TABLE secrets (s TEXT)")).await.expect("create");
    let db = tenant(&dir, 64 * MIB);
    db.execute(Statement::new("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")).await.expect("own table");
    let system = dir.path().join("system.db").display().to_string();
    let copy = dir.path().join("copy.db").display().to_string();
    for hostile in [
        format!("ATTACH DATABASE '{system}' AS s"),
        format!("VACUUM INTO '{copy}'"),
        "PRAGMA writable_schema = 1".to_owned(),
        "PRAGMA journal_mode = DELETE".to_owned(),
        "PRAGMA max_page_count = 999999999".to_owned(),
        "SELECT load_extension('/tmp/x.so')".to_owned(),
        "BEGIN".to_owned(),
        "COMMIT".to_owned(),
        "SAVEPOINT s1".to_owned(),
    ] {
        let err = db.execute(Statement::new(hostile.clone())).await.expect_err(&hostile);
        assert!(matches!(&err, DbError::Sql(m) if m.starts_with("statement not allowed")), "{hostile}: {err:?}");
    }
    assert!(!dir.path().join("copy.db").exists(), "VACUUM INTO wrote nothing");

    let columns = db.query(Statement::new("SELECT name FROM pragma_table_info('t') ORDER BY cid")).await.expect("info");
    assert_eq!(columns.len(), 2, "reading its own schema is fine");
    assert_eq!(count(&db, "SELECT COUNT(*) FROM sqlite_master WHERE name = 't'").await, 1);
    let batch = vec![Op::Exec(Statement::new("INSERT INTO t (v) VALUES ('a')")), Op::Query(Statement::new("SELECT 1"))];
    db.batch(batch).await.expect("the engine's own transactions still pass");
    let err = db.batch(vec![Op::Exec(Statement::new("COMMIT"))]).await.expect_err("commit inside a batch");
    assert!(err.to_string().contains("statement not allowed"), "{err}");
    assert_eq!(count(&db, "SELECT COUNT(*) FROM t").await, 1);
}

#[tokio::test]
async fn a_tenant_database_stops_at_its_quota_and_keeps_what_it_had() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = tenant(&dir, MIB);
    db.execute(Statement::new("CREATE TABLE blobs (b BLOB)")).await.expect("create");
    let insert = || Statement::new("INSERT INTO blobs VALUES (zeroblob(100000))");
    let mut stored = 0;
    let err = loop {
        match db.execute(insert()).await {
            Ok(_) => stored += 1,
            Err(err) => break err,
        }
        assert!(stored < 100, "the quota never bit");
    };
    assert_eq!(err, DbError::Full);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM blobs").await, stored, "nothing lost, nothing partial");
    assert!(std::fs::metadata(dir.path().join("tenant.db")).expect("file").len() <= MIB);
}
