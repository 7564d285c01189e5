//! The rewriter's cases: prefixes, refusals, limits.
use super::*;

fn run(sql: &str) -> Result<String, Refused> {
    rewrite(sql, "t_0123456789abcdef_", &Reserved::system(), 1_000_000).map(|r| r.sql)
}

#[test]
fn tables_indexes_ctes_and_foreign_keys_get_the_prefix() {
    let cases = [
        (
            "SELECT users.name FROM users WHERE id = ?",
            "SELECT users.name FROM t_0123456789abcdef_users AS users WHERE id = ? LIMIT 1000001",
        ),
        (
            "SELECT u.name FROM users u JOIN orders o ON o.uid = u.id",
            "SELECT u.name FROM t_0123456789abcdef_users u JOIN t_0123456789abcdef_orders o ON o.uid = u.id LIMIT 1000001",
        ),
        ("INSERT INTO users (name) VALUES (?)", "INSERT INTO t_0123456789abcdef_users (name) VALUES (?)"),
        (
            "UPDATE users SET age = age + 1 WHERE id = 1",
            "UPDATE t_0123456789abcdef_users AS users SET age = age + 1 WHERE id = 1",
        ),
        (
            "DELETE FROM users WHERE id IN (SELECT uid FROM bans)",
            "DELETE FROM t_0123456789abcdef_users AS users WHERE id IN (SELECT uid FROM t_0123456789abcdef_bans AS bans)",
        ),
        ("DROP TABLE users", "DROP TABLE t_0123456789abcdef_users"),
        (
            "ALTER TABLE users RENAME TO people",
            "ALTER TABLE t_0123456789abcdef_users RENAME TO t_0123456789abcdef_people",
        ),
        ("ALTER TABLE users ADD COLUMN age INTEGER", "ALTER TABLE t_0123456789abcdef_users ADD COLUMN age INTEGER"),
        (
            "CREATE INDEX by_name ON users (name)",
            "CREATE INDEX t_0123456789abcdef_by_name ON t_0123456789abcdef_users(name)",
        ),
        (
            "WITH recent AS (SELECT * FROM users) SELECT * FROM recent",
            "WITH t_0123456789abcdef_recent AS (SELECT * FROM t_0123456789abcdef_users AS users) SELECT * FROM t_0123456789abcdef_recent AS recent LIMIT 1000001",
        ),
    ];
    for (sql, expected) in cases {
        assert_eq!(run(sql).as_deref(), Ok(expected), "{sql}");
    }
    let created =
        run("CREATE TABLE orders (id INTEGER PRIMARY KEY, uid INTEGER REFERENCES users(id))").expect("create");
    assert!(
        created.contains("CREATE TABLE t_0123456789abcdef_orders")
            && created.contains("REFERENCES t_0123456789abcdef_users"),
        "{created}"
    );
}

#[test]
fn what_no_tenant_may_name_is_refused_before_parsing() {
    for sql in [
        "SELECT * FROM sqlite_master",
        "SELECT * FROM SQLITE_SCHEMA",
        "SELECT * FROM \"api_keys\"",
        "SELECT * FROM 'api_keys'",
        "SELECT * FROM t_fedcba9876543210_users",
        "SELECT * FROM pragma_table_info('users')",
        "SELECT name FROM users WHERE name IN (SELECT key_hash FROM api_keys)",
        "INSERT INTO users SELECT * FROM namespaces",
    ] {
        assert!(matches!(run(sql), Err(Refused::Reserved(_))), "{sql}: {:?}", run(sql));
    }
    for sql in [
        "PRAGMA table_info(users)",
        "ATTACH DATABASE 'x.db' AS x",
        "CREATE VIEW v AS SELECT 1",
        "CREATE TRIGGER tr AFTER INSERT ON users BEGIN DELETE FROM users; END",
        "VACUUM",
        "BEGIN",
        "SELECT 1; SELECT 2",
        "SELECT * FROM main.users",
        "SELECT * FROM json_each('[1]')",
    ] {
        assert!(matches!(run(sql), Err(Refused::Kind(_) | Refused::Syntax(_))), "{sql}: {:?}", run(sql));
    }
}

#[test]
fn query_limits_are_clamped_to_one_past_the_row_limit() {
    let clamp = |sql: &str| rewrite(sql, "t_0123456789abcdef_", &Reserved::system(), 10).map(|r| r.sql);
    assert_eq!(clamp("SELECT 1").as_deref(), Ok("SELECT 1 LIMIT 11"));
    let bounded = |l: &str| format!("min((({l}) & 9223372036854775807), 11)");
    assert_eq!(clamp("SELECT 1 LIMIT 5"), Ok(format!("SELECT 1 LIMIT {}", bounded("5"))));
    assert_eq!(clamp("SELECT 1 LIMIT ? OFFSET 3"), Ok(format!("SELECT 1 LIMIT {} OFFSET 3", bounded("?"))));
    assert_eq!(clamp("SELECT 1 LIMIT -1"), Ok(format!("SELECT 1 LIMIT {}", bounded("-1"))));
    assert_eq!(clamp("SELECT 1 LIMIT 2, -1"), Ok(format!("SELECT 1 LIMIT 2, {}", bounded("-1"))));
    assert_eq!(clamp("SELECT 1 UNION SELECT 2").as_deref(), Ok("SELECT 1 UNION SELECT 2 LIMIT 11"));
    assert_eq!(clamp("INSERT INTO t SELECT 1").as_deref(), Ok("INSERT INTO t_0123456789abcdef_t SELECT 1"));
}

#[test]
fn functions_the_sandbox_refuses_are_refused_in_any_spelling() {
    for sql in
        ["SELECT zeroblob(16000000)", "SELECT ZEROBLOB(1)", "SELECT \"zeroblob\"(1)", "SELECT load_extension('x')"]
    {
        assert!(matches!(run(sql), Err(Refused::Reserved(_))), "{sql}: {:?}", run(sql));
    }
}

#[test]
fn prefixes_are_per_namespace() {
    assert_ne!(prefix_for("a"), prefix_for("b"));
    assert!(is_tenant_prefixed(&format!("{}users", prefix_for("shop"))));
    assert_eq!(prefix_for("shop").len(), 19);
}

#[test]
fn writes_behind_with_are_not_given_a_limit() {
    let sql = run("WITH x AS (SELECT 1) INSERT INTO users SELECT * FROM x").expect("rewritten");
    assert_eq!(
        sql,
        "WITH t_0123456789abcdef_x AS (SELECT 1) INSERT INTO t_0123456789abcdef_users SELECT * FROM t_0123456789abcdef_x AS x"
    );
}
