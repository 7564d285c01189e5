//! The checker against hostile input: long chains, deep nesting, malformed and generated SQL.
//! Each case must come back as a value (rewritten or refused); an overflow would abort the
//! test process, a panic would fail it.

use proptest::prelude::*;

use super::*;

/// Bounds and rewrites `sql` on a thread with the checking threads' stack.
fn checked(sql: &str) -> Result<Rewritten, Refused> {
    let sql = sql.to_owned();
    let thread = std::thread::Builder::new().stack_size(STACK).spawn(move || {
        bounded(&sql)?;
        rewrite(&sql, "t_0123456789abcdef_", &Reserved::system(), 100)
    });
    thread.expect("spawn").join().unwrap_or_else(|_| Err(Refused::Syntax("panicked".into())))
}

async fn pooled(sql: String) -> Result<Rewritten, Refused> {
    check(sql, "t_0123456789abcdef_".into(), Arc::new(Reserved::system()), 100).await
}

#[tokio::test]
async fn long_chains_and_deep_nesting_are_refused_before_parsing() {
    let cases = [
        format!("SELECT 1{}", "+1".repeat(100_000)),
        format!("SELECT * FROM t WHERE {}", vec!["a = 1"; 20_000].join(" AND ")),
        format!("SELECT {}1{}", "(".repeat(10_000), ")".repeat(10_000)),
        format!("SELECT {}1{}", "(SELECT ".repeat(1_000), ")".repeat(1_000)),
        format!("SELECT '{}'", "x".repeat(MAX_SQL_BYTES)),
        format!("INSERT INTO t VALUES {}", vec!["(1)"; 40_000].join(",")),
    ];
    for sql in cases {
        let outcome = pooled(sql.clone()).await;
        assert!(matches!(outcome, Err(Refused::TooLarge(_))), "{}…: {outcome:?}", &sql[..40]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_past_its_turns_waits_in_its_own_line_and_the_line_is_forgotten() {
    let statement = |prefix: &str| {
        let sql = format!("SELECT * FROM items WHERE id = ?{}", " AND 1 = 1".repeat(200));
        check(sql, prefix.to_owned(), Arc::new(Reserved::system()), 100)
    };
    let busy: Vec<_> = (0..8 * PER_NAMESPACE).map(|_| tokio::spawn(statement("t_busy0123456789a_"))).collect();
    let other = statement("t_other123456789a_").await;
    assert!(other.is_ok(), "another namespace is served while one waits: {other:?}");
    for outcome in futures_util::future::join_all(busy).await {
        let outcome = outcome.expect("joined");
        assert!(outcome.is_ok(), "a waiting statement is checked, not refused: {outcome:?}");
    }
    let lines = Turn::lines().lock().unwrap_or_else(|p| p.into_inner());
    assert!(!lines.contains_key("t_busy0123456789a_"), "an idle namespace's line is forgotten");
}

#[tokio::test]
async fn the_largest_statements_within_bounds_are_rewritten() {
    let chain = format!("SELECT 1{}", "+1".repeat(MAX_OPERATORS - 1));
    assert!(pooled(chain).await.is_ok());
    let nested = format!("SELECT {}1{}", "(".repeat(40), ")".repeat(40));
    assert!(pooled(nested).await.is_ok());
    let insert = format!("INSERT INTO t (a, b) VALUES {}", vec!["(1, 'x')"; 3_000].join(","));
    assert!(pooled(insert).await.is_ok());
    let depth = MAX_TOKENS / 6;
    let cases = format!("SELECT {}1{}", "CASE WHEN 1 THEN ".repeat(depth), " END".repeat(depth));
    assert!(pooled(cases).await.is_ok());
}

#[tokio::test]
async fn backtracking_nests_are_refused_quickly() {
    for opener in ["POSITION(", "CAST(", "CASE WHEN 1 THEN ", "SUBSTR(", "FLOOR(", "OVERLAY("] {
        let started = std::time::Instant::now();
        let outcome = pooled(format!("SELECT {}1", opener.repeat(60))).await;
        assert!(matches!(outcome, Err(Refused::TooLarge(_))), "{opener}: {outcome:?}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "{opener}: {:?}", started.elapsed());
    }
}

#[tokio::test]
async fn odd_operators_are_answered_not_panicked() {
    for sql in [
        "SELECT 1 REGEXP 2",
        "SELECT 1 REGEXP",
        "SELECT 1 MATCH 2",
        "SELECT 'a' GLOB 'b'",
        "SELECT 1 ->> 2",
        "SELECT ~~~1",
    ] {
        let outcome = pooled(sql.to_owned()).await;
        assert!(!matches!(&outcome, Err(Refused::Syntax(m)) if m.contains("checker")), "{sql}: {outcome:?}");
    }
}

/// Pieces of SQL, valid and not, that the generator strings together.
const PIECES: &[&str] = &[
    "SELECT",
    "INSERT",
    "INTO",
    "VALUES",
    "UPDATE",
    "SET",
    "DELETE",
    "FROM",
    "WHERE",
    "WITH",
    "RECURSIVE",
    "AS",
    "(",
    ")",
    ",",
    "1",
    "'x'",
    "\"y\"",
    "t",
    "users",
    "*",
    "+",
    "-",
    "||",
    "AND",
    "OR",
    "NOT",
    "REGEXP",
    "LIKE",
    "IN",
    "CASE",
    "WHEN",
    "THEN",
    "ELSE",
    "END",
    "JOIN",
    "ON",
    "LIMIT",
    "OFFSET",
    "?",
    ";",
    "UNION",
    "ALL",
    "ORDER",
    "BY",
    "GROUP",
    "COLLATE",
    "->",
    "->>",
    "[",
    "]",
    "x'00'",
    "CAST",
    "ESCAPE",
    "BETWEEN",
    "sqlite_master",
    "api_keys",
    "zeroblob",
    ".",
];

fn soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PIECES), 0..200).prop_map(|pieces| pieces.join(" "))
}

fn nested() -> impl Strategy<Value = String> {
    const OPENERS: &[&str] =
        &["(", "(SELECT ", "- ", "NOT ", "CASE WHEN 1 THEN ", "CAST(", "POSITION(", "SUBSTRING(", "CEIL("];
    (1usize..3000, prop::sample::select(OPENERS), soup())
        .prop_map(|(depth, opener, tail)| format!("SELECT {}1 {tail}", opener.repeat(depth)))
}

fn chained() -> impl Strategy<Value = String> {
    (
        1usize..12_000,
        prop::sample::select(&["+1", " AND 1", " || 'a'", " OR x = 1", " COLLATE nocase", " REGEXP 'a'"][..]),
    )
        .prop_map(|(length, link)| format!("SELECT 1{}", link.repeat(length)))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn any_token_soup_is_answered(sql in soup()) {
        prop_assert!(!matches!(checked(&sql), Err(Refused::Syntax(m)) if m == "panicked"));
    }

    #[test]
    fn any_nesting_is_answered(sql in nested()) {
        prop_assert!(!matches!(checked(&sql), Err(Refused::Syntax(m)) if m == "panicked"));
    }

    #[test]
    fn any_chain_is_answered(sql in chained()) {
        prop_assert!(!matches!(checked(&sql), Err(Refused::Syntax(m)) if m == "panicked"));
    }

    #[test]
    fn arbitrary_text_is_answered(sql in "\\PC{0,400}") {
        prop_assert!(!matches!(checked(&sql), Err(Refused::Syntax(m)) if m == "panicked"));
    }
}
