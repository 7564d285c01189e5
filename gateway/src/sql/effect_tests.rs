//! Which statements the quota may trust to store no more than their size.
use sqlparser::dialect::SQLiteDialect;
use sqlparser::parser::Parser;

use super::*;

fn effect(sql: &str) -> Result<Effect, Refused> {
    let mut statements = Parser::parse_sql(&SQLiteDialect {}, sql).expect("parses");
    effect_of(&statements.remove(0))
}

fn growth(sql: &str) -> Growth {
    match effect(sql) {
        Ok(Effect::Writes(write)) => write.growth,
        other => panic!("{sql}: {other:?}"),
    }
}

#[test]
fn reads_and_frees_are_told_apart_from_writes_hidden_behind_with() {
    assert_eq!(effect("SELECT * FROM t"), Ok(Effect::Read));
    assert_eq!(effect("WITH x AS (SELECT 1) SELECT * FROM x"), Ok(Effect::Read));
    assert_eq!(effect("DELETE FROM t WHERE a = 1"), Ok(Effect::Frees));
    assert_eq!(effect("WITH x AS (SELECT 1) DELETE FROM t"), Ok(Effect::Frees));
    assert_eq!(effect("DROP TABLE t"), Ok(Effect::Frees));
    assert_eq!(growth("WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x"), Growth::Unbounded);
    assert_eq!(growth("WITH x AS (SELECT 1) UPDATE t SET a = 1"), Growth::Unbounded);
}

#[test]
fn only_inserts_of_literals_and_parameters_are_bounded_by_their_size() {
    for sql in [
        "INSERT INTO t VALUES (1, 'a', ?, -2, NULL, x'00ff')",
        "INSERT INTO t VALUES (?1, ?2), (:a, :b)",
        "INSERT INTO t VALUES (datetime('now'), lower(?), random(), CURRENT_TIMESTAMP)",
        "INSERT INTO t VALUES (1) ON CONFLICT DO NOTHING",
        "INSERT OR REPLACE INTO t VALUES (1)",
    ] {
        assert_eq!(growth(sql), Growth::OwnSize, "{sql}");
    }
    assert_eq!(growth("INSERT INTO t (a, b) VALUES (?, ?)"), Growth::OwnSizeAndDefaults);
    for sql in [
        "INSERT INTO t VALUES (randomblob(1000000))",
        "INSERT INTO t VALUES (printf('%.*c', 1000000, 'x'))",
        "INSERT INTO t VALUES (?1 || ?1)",
        "INSERT INTO t VALUES (?1, ?1)",
        "INSERT INTO t VALUES ((SELECT b FROM t))",
        "INSERT INTO t SELECT * FROM t",
        "INSERT INTO t DEFAULT VALUES",
        "INSERT INTO t VALUES (1) ON CONFLICT (a) DO UPDATE SET b = b || b",
        "UPDATE t SET b = ?",
        "CREATE TABLE c AS SELECT * FROM t",
        "CREATE INDEX i ON t (a)",
    ] {
        assert_eq!(growth(sql), Growth::Unbounded, "{sql}");
    }
}

#[test]
fn schema_statements_count_their_objects_and_defaults() {
    let Ok(Effect::Writes(write)) =
        effect("CREATE TABLE t (id INTEGER PRIMARY KEY, email TEXT UNIQUE, a, b DEFAULT 0, UNIQUE (a, b))")
    else {
        panic!("a write")
    };
    assert_eq!((write.objects, write.growth, write.declares_default), (4, Growth::OwnSize, true));
    let Ok(Effect::Writes(write)) = effect("ALTER TABLE t ADD COLUMN c INTEGER DEFAULT 1") else { panic!("a write") };
    assert_eq!((write.objects, write.declares_default), (0, true));
    assert!(matches!(effect("CREATE INDEX i ON t (name COLLATE NOCASE, b)"), Ok(Effect::Writes(_))));
}

#[test]
fn what_would_make_later_inserts_unbounded_is_refused() {
    for sql in [
        "CREATE TABLE t (a, b AS (a || a || a))",
        "CREATE TABLE t (a, b GENERATED ALWAYS AS (randomblob(a)) STORED)",
        "ALTER TABLE t ADD COLUMN b AS (a || a)",
        "CREATE INDEX i ON t (a || a || a)",
        "CREATE INDEX i ON t (lower(a))",
    ] {
        assert!(matches!(effect(sql), Err(Refused::Kind(_))), "{sql}: {:?}", effect(sql));
    }
}
