//! A tenant's embedded database reaches nothing outside its own file: no other file by ATTACH
//! or VACUUM INTO, no settings-changing pragma, no extension, no transaction control of its
//! own, no temporary objects outside its quota; its size, its values, its columns and what one
//! result may hold are capped. What a tenant legitimately needs still works.

mod common;

use common::count;
use orama_gateway::database::{Database, DbError, Op, QueryLimits, Sandbox, SqliteDb, Statement};

const MIB: u64 = 1024 * 1024;

fn tenant(dir: &tempfile::TempDir, max_bytes: u64) -> SqliteDb {
    let limits = QueryLimits { max_result: MIB as usize, ..QueryLimits::default() };
    let sandbox = Sandbox { max_bytes, max_value: limits.max_result };
    SqliteDb::open_sandboxed(&dir.path().join("tenant.db"), 2, limits, sandbox).expect("open")
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
        "CREATE TEMP TABLE t2 (x)".to_owned(),
        "CREATE TABLE temp.t3 (x)".to_owned(),
        "CREATE TEMP VIEW v AS SELECT 1".to_owned(),
        "CREATE VIRTUAL TABLE temp.f USING fts5(x)".to_owned(),
        "CREATE TEMP TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END".to_owned(),
        "SELECT zeroblob(10)".to_owned(),
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
    let insert = || Statement::new("INSERT INTO blobs VALUES (randomblob(100000))");
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

#[tokio::test]
async fn values_columns_and_results_are_bounded_by_the_result_budget() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = tenant(&dir, 64 * MIB);
    let too_big = db.query(Statement::new("SELECT randomblob(2 * 1024 * 1024)")).await.expect_err("value");
    assert!(too_big.to_string().contains("too big"), "{too_big}");
    let columns = (0..1200).map(|i| format!("{i} AS c{i}")).collect::<Vec<_>>().join(", ");
    let wide = db.query(Statement::new(format!("SELECT {columns}"))).await.expect_err("columns");
    assert!(wide.to_string().contains("too many columns"), "{wide}");
    let rows =
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n LIMIT 100) SELECT randomblob(20000) FROM n";
    assert_eq!(db.query(Statement::new(rows)).await, Err(DbError::ResultTooLarge(MIB as usize)));
    let batch = vec![
        Op::Query(Statement::new("SELECT randomblob(600000)")),
        Op::Query(Statement::new("SELECT randomblob(600000)")),
    ];
    assert_eq!(db.batch(batch).await, Err(DbError::ResultTooLarge(MIB as usize)), "one budget per request");
    let fits = db.query(Statement::new("SELECT randomblob(700000)")).await.expect("within the budget, base64 and all");
    assert_eq!(fits.len(), 1);
}
