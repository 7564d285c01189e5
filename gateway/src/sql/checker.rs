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

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use sqlparser::dialect::SQLiteDialect;
use sqlparser::tokenizer::{Token, Tokenizer, Whitespace};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};

use super::refused::Refused;
use super::rewrite::{Reserved, Rewritten, rewrite};

/// Longest statement accepted (SQLite's own limit for tenants on the embedded engine).
pub const MAX_SQL_BYTES: usize = crate::database::MAX_SQL_BYTES;
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
/// Statements of one namespace being checked or queued for a thread at once: one tenant cannot
/// hold the checking threads from the others. Its further statements wait their turn.
const PER_NAMESPACE: usize = 8;
/// Longest a statement waits for its namespace's turn before the caller is told to retry (503).
const WAIT: Duration = Duration::from_secs(2);

type Job = Box<dyn FnOnce() + Send>;

/// Checks and rewrites `sql` for the namespace of `prefix` (see the module docs).
pub async fn check(sql: String, prefix: String, reserved: Arc<Reserved>, max_rows: u64) -> Result<Rewritten, Refused> {
    if sql.len() > MAX_SQL_BYTES {
        return Err(Refused::TooLarge(format!("the statement is longer than {MAX_SQL_BYTES} bytes")));
    }
    if approximate_tokens(&sql) > 2 * MAX_TOKENS {
        return Err(Refused::TooLarge(format!("the statement has more than {MAX_TOKENS} tokens")));
    }
    let _turn = Turn::take(&prefix).await?;
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

/// A namespace's turn in the checker: at most [`PER_NAMESPACE`] of its statements are there at
/// once; more wait in their own namespace's line (not the shared queue) for up to [`WAIT`].
struct Turn {
    prefix: String,
    line: Arc<Semaphore>,
    _permit: Option<OwnedSemaphorePermit>,
}

impl Turn {
    fn lines() -> &'static Mutex<HashMap<String, Arc<Semaphore>>> {
        static LINES: OnceLock<Mutex<HashMap<String, Arc<Semaphore>>>> = OnceLock::new();
        LINES.get_or_init(Mutex::default)
    }

    async fn take(prefix: &str) -> Result<Turn, Refused> {
        let line = {
            let mut lines = Self::lines().lock().unwrap_or_else(|p| p.into_inner());
            let line = lines.entry(prefix.to_owned()).or_insert_with(|| Arc::new(Semaphore::new(PER_NAMESPACE)));
            Arc::clone(line)
        };
        // The turn is built before waiting so that a caller who gives up still leaves the line.
        let mut turn = Turn { prefix: prefix.to_owned(), line, _permit: None };
        let permit = tokio::time::timeout(WAIT, Arc::clone(&turn.line).acquire_owned()).await;
        match permit {
            Ok(Ok(permit)) => {
                turn._permit = Some(permit);
                Ok(turn)
            }
            _ => Err(Refused::Busy(format!(
                "{PER_NAMESPACE} statements of this namespace have been in the checker for {WAIT:?}"
            ))),
        }
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        self._permit = None;
        let mut lines = Self::lines().lock().unwrap_or_else(|p| p.into_inner());
        // Two holders (the map and this turn) means no one else is in or waiting: forget the line.
        if Arc::strong_count(&self.line) == 2 {
            lines.remove(&self.prefix);
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
