//! Where tenant SQL is checked and rewritten: no input may overflow the gateway's stack or
//! panic it. A statement is first bounded without parsing (its length, its tokens, its
//! operators and nesting, counted by the tokenizer, which does not recurse), then parsed and
//! rewritten on a thread of a small pool with a large stack, inside `catch_unwind`: a panic in
//! the parser becomes a refusal (400) and the thread lives on.
//!
//! Why each bound: the parser builds a chain of binary operators (`1+1+...`) without recursion,
//! but the tree it builds is as deep as the chain, and walking, printing and dropping it
//! recurse. With at most [`MAX_OPERATORS`] operators the deepest tree needs well under the
//! pool's [`STACK`], in debug builds too.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, OnceLock};

use sqlparser::dialect::SQLiteDialect;
use sqlparser::tokenizer::{Token, Tokenizer, Whitespace};
use tokio::sync::{mpsc, oneshot};

use super::rewrite::{Refused, Reserved, Rewritten, rewrite};

/// Longest statement accepted (SQLite's own limit for tenants on the embedded engine).
pub const MAX_SQL_BYTES: usize = crate::db::MAX_SQL_BYTES;
/// Most tokens in one statement (a multi-row `INSERT` of 3,000 short rows fits; bulk data
/// belongs in parameters). The parsed tree takes about 450 bytes a token, so this also bounds
/// what one check holds in memory (about 9 MiB).
pub const MAX_TOKENS: usize = 20_000;
/// Most operators in one statement: the depth an expression tree can reach.
pub const MAX_OPERATORS: usize = 10_000;
/// Deepest nesting of parentheses.
pub const MAX_NESTING: usize = 64;
/// Most `REGEXP`/`MATCH` operators (the parser copies the left side of each).
pub const MAX_PATTERN_OPERATORS: usize = 64;
/// Stack of each checking thread.
const STACK: usize = 64 * 1024 * 1024;
/// Statements waiting for a checking thread before callers wait to queue.
const QUEUE: usize = 256;
/// Statements of one namespace being checked or waiting at once: one tenant cannot hold the
/// checking threads from the others.
const PER_NAMESPACE: usize = 8;

type Job = Box<dyn FnOnce() + Send>;

/// Checks and rewrites `sql` for the namespace of `prefix` (see the module docs).
pub async fn check(sql: String, prefix: String, reserved: Arc<Reserved>, max_rows: u64) -> Result<Rewritten, Refused> {
    if sql.len() > MAX_SQL_BYTES {
        return Err(Refused::TooLarge(format!("the statement is longer than {MAX_SQL_BYTES} bytes")));
    }
    if approximate_tokens(&sql) > 2 * MAX_TOKENS {
        return Err(Refused::TooLarge(format!("the statement has more than {MAX_TOKENS} tokens")));
    }
    let _turn = InFlight::enter(&prefix)?;
    let (answer, answered) = oneshot::channel::<Result<Rewritten, Refused>>();
    let job: Job = Box::new(move || {
        if answer.is_closed() {
            return; // the caller went away while the statement waited
        }
        let checked = || bounded(&sql).and_then(|()| rewrite(&sql, &prefix, &reserved, max_rows));
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(checked));
        let outcome = outcome.unwrap_or_else(|_| Err(Refused::Syntax("the statement cannot be parsed".into())));
        let _ = answer.send(outcome);
    });
    pool().send(job).await.map_err(|_| Refused::Syntax("the SQL checker is not running".into()))?;
    answered.await.map_err(|_| Refused::Syntax("the SQL checker stopped".into()))?
}

/// A namespace's statement in the checker, counted while it is there.
struct InFlight(String);

impl InFlight {
    fn counts() -> &'static Mutex<std::collections::HashMap<String, usize>> {
        static COUNTS: OnceLock<Mutex<std::collections::HashMap<String, usize>>> = OnceLock::new();
        COUNTS.get_or_init(Mutex::default)
    }

    fn enter(prefix: &str) -> Result<InFlight, Refused> {
        let mut counts = Self::counts().lock().unwrap_or_else(|p| p.into_inner());
        let count = counts.entry(prefix.to_owned()).or_default();
        if *count >= PER_NAMESPACE {
            return Err(Refused::Busy(format!(
                "{PER_NAMESPACE} statements of this namespace are already being checked"
            )));
        }
        *count += 1;
        Ok(InFlight(prefix.to_owned()))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut counts = Self::counts().lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = counts.get_mut(&self.0) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.0);
            }
        }
    }
}

/// An upper bound of the tokens in `sql`, counted on its bytes without building any: a word,
/// a quoted string or identifier, or any other character that is not space counts one.
fn approximate_tokens(sql: &str) -> usize {
    let bytes = sql.as_bytes();
    let (mut count, mut i) = (0, 0);
    while i < bytes.len() {
        let byte = bytes[i];
        let closing = match byte {
            b'\'' => Some(b'\''),
            b'"' => Some(b'"'),
            b'`' => Some(b'`'),
            b'[' => Some(b']'),
            _ => None,
        };
        if let Some(closing) = closing {
            i += 1 + bytes[i + 1..].iter().position(|b| *b == closing).unwrap_or(bytes.len());
            count += 1;
        } else if byte.is_ascii_alphanumeric() || byte == b'_' || byte >= 0x80 {
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] >= 0x80) {
                i += 1;
            }
            count += 1;
            continue;
        } else if !byte.is_ascii_whitespace() {
            count += 1;
        }
        i += 1;
    }
    count
}

/// Refuses a statement too long, too large or too deep to parse safely.
pub fn bounded(sql: &str) -> Result<(), Refused> {
    if sql.len() > MAX_SQL_BYTES {
        return Err(Refused::TooLarge(format!("the statement is longer than {MAX_SQL_BYTES} bytes")));
    }
    let tokens = Tokenizer::new(&SQLiteDialect {}, sql).tokenize().map_err(|e| Refused::Syntax(e.to_string()))?;
    let (mut count, mut operators, mut depth, mut patterns) = (0usize, 0usize, 0usize, 0usize);
    for token in &tokens {
        match token {
            Token::Whitespace(Whitespace::Space | Whitespace::Newline | Whitespace::Tab) => continue,
            Token::LParen => depth += 1,
            Token::RParen => depth = depth.saturating_sub(1),
            Token::Word(word) if ["regexp", "match"].iter().any(|w| word.value.eq_ignore_ascii_case(w)) => {
                operators += 1;
                patterns += 1;
            }
            token if is_operator(token) => operators += 1,
            _ => {}
        }
        if patterns > MAX_PATTERN_OPERATORS {
            return Err(Refused::TooLarge(format!("the statement has more than {MAX_PATTERN_OPERATORS} REGEXP/MATCH")));
        }
        count += 1;
        if count > MAX_TOKENS {
            return Err(Refused::TooLarge(format!("the statement has more than {MAX_TOKENS} tokens")));
        }
        if operators > MAX_OPERATORS {
            return Err(Refused::TooLarge(format!("the statement has more than {MAX_OPERATORS} operators")));
        }
        if depth > MAX_NESTING {
            return Err(Refused::TooLarge(format!("the statement nests parentheses deeper than {MAX_NESTING}")));
        }
    }
    Ok(())
}

/// Tokens that join two expressions (or prefix one) and so deepen the tree.
fn is_operator(token: &Token) -> bool {
    const WORDS: &[&str] =
        &["and", "or", "not", "is", "like", "glob", "regexp", "match", "between", "collate", "when", "in", "escape"];
    match token {
        Token::Word(word) => WORDS.iter().any(|w| word.value.eq_ignore_ascii_case(w)),
        Token::Plus
        | Token::Minus
        | Token::Mul
        | Token::Div
        | Token::Mod
        | Token::StringConcat
        | Token::Eq
        | Token::DoubleEq
        | Token::Neq
        | Token::Lt
        | Token::Gt
        | Token::LtEq
        | Token::GtEq
        | Token::Spaceship
        | Token::Ampersand
        | Token::Pipe
        | Token::Caret
        | Token::Tilde
        | Token::ShiftLeft
        | Token::ShiftRight
        | Token::Arrow
        | Token::LongArrow => true,
        _ => false,
    }
}

/// The checking threads, started on first use; jobs reach them through a bounded queue.
fn pool() -> &'static mpsc::Sender<Job> {
    static POOL: OnceLock<mpsc::Sender<Job>> = OnceLock::new();
    POOL.get_or_init(|| {
        let (jobs, queue) = mpsc::channel::<Job>(QUEUE);
        let queue = Arc::new(Mutex::new(queue));
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(2, 8);
        for i in 0..threads {
            let queue = queue.clone();
            let spawned =
                std::thread::Builder::new().name(format!("sql-checker-{i}")).stack_size(STACK).spawn(move || {
                    loop {
                        let job = queue.lock().unwrap_or_else(|p| p.into_inner()).blocking_recv();
                        match job {
                            Some(job) => job(),
                            None => return,
                        }
                    }
                });
            if let Err(err) = spawned {
                tracing::error!(error = %err, "cannot start a SQL checking thread");
            }
        }
        jobs
    })
}

#[cfg(test)]
#[path = "checker_tests.rs"]
mod tests;
