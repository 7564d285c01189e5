//! The fence around a tenant's SQLite database: the tenant's SQL can reach its own file and
//! nothing else. An authorizer refuses, at prepare time, attaching other files (which also
//! stops `VACUUM INTO`), pragmas other than schema introspection, extension
//! loading, and transaction control (`BEGIN`/`COMMIT`/`SAVEPOINT`: a statement could otherwise
//! commit half of an atomic batch or leave a pooled connection holding the write lock). The
//! engine's own transaction statements pass through a [`TxGate`] opened only around them.
//! Temporary tables, indexes, views and triggers are refused too: they live outside the file
//! and would escape its quota. `zeroblob()` is refused: its value is only materialised when it
//! is read, after SQLite measured it, so it could make the reader allocate what no limit saw.
//! Size limits bound a single value (the result budget, `backends.sql.max_result`), the
//! columns of a result and the statement; `max_page_count` bounds the whole file.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rusqlite::Connection;
use rusqlite::hooks::{AuthAction, AuthContext, Authorization};
use rusqlite::limits::Limit;

/// Pragmas a tenant may run: reads of its own schema (their argument is a table or index name,
/// never a setting).
const READ_ONLY_PRAGMAS: &[&str] =
    &["table_info", "table_xinfo", "table_list", "index_list", "index_info", "index_xinfo", "foreign_key_list"];
/// Functions never available to a tenant.
pub const DENIED_FUNCTIONS: &[&str] =
    &["load_extension", "fts3_tokenizer", "readfile", "writefile", "edit", "zeroblob"];
/// Most columns a tenant's table, index or result may have (SQLite's default is 2,000; half
/// of it, so no existing reasonable table stops loading, while a result cannot ask for
/// thousands of computed columns).
pub const MAX_COLUMNS: i32 = 1000;
/// Largest SQL text a tenant can send.
pub const MAX_SQL_BYTES: usize = 1024 * 1024;

/// Limits of a sandboxed database.
#[derive(Debug, Clone, Copy)]
pub struct Sandbox {
    /// The largest the database file may grow (SQLITE_FULL beyond).
    pub max_bytes: u64,
    /// The largest string or blob a statement can make (the result budget: no single value
    /// can be larger than what a result may hold).
    pub max_value: usize,
}

/// Lets the engine's own transaction statements past the authorizer, and nothing else's.
#[derive(Debug, Clone, Default)]
pub struct TxGate(Arc<AtomicBool>);

impl TxGate {
    /// Runs `control` (a BEGIN, COMMIT or ROLLBACK of ours) with the gate open.
    pub fn pass<T>(&self, control: impl FnOnce() -> T) -> T {
        self.0.store(true, Ordering::SeqCst);
        let result = control();
        self.0.store(false, Ordering::SeqCst);
        result
    }

    fn is_open(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Applies `sandbox` to a freshly opened connection; `gate` admits our transaction control.
pub fn enclose(connection: &Connection, sandbox: Sandbox, gate: TxGate) -> rusqlite::Result<()> {
    let page_size: i64 = connection.query_row("PRAGMA page_size", [], |row| row.get(0))?;
    let max_pages = (sandbox.max_bytes / page_size.max(512) as u64).max(1);
    connection.execute_batch(&format!("PRAGMA max_page_count = {max_pages}"))?;
    connection.set_limit(Limit::SQLITE_LIMIT_ATTACHED, 0)?;
    connection.set_limit(Limit::SQLITE_LIMIT_LENGTH, i32::try_from(sandbox.max_value).unwrap_or(i32::MAX))?;
    connection.set_limit(Limit::SQLITE_LIMIT_COLUMN, MAX_COLUMNS)?;
    connection.set_limit(Limit::SQLITE_LIMIT_SQL_LENGTH, i32::try_from(MAX_SQL_BYTES).unwrap_or(i32::MAX))?;
    connection.authorizer(Some(move |context: AuthContext<'_>| decide(&context, &gate)))
}

fn decide(context: &AuthContext<'_>, gate: &TxGate) -> Authorization {
    let allowed = match &context.action {
        AuthAction::Attach { .. } | AuthAction::Detach { .. } => false,
        AuthAction::CreateTempTable { .. }
        | AuthAction::CreateTempIndex { .. }
        | AuthAction::CreateTempTrigger { .. }
        | AuthAction::CreateTempView { .. } => false,
        // Anything else in the temporary schema (`CREATE TABLE temp.t`, virtual tables).
        _ if context.database_name == Some("temp") => false,
        AuthAction::Pragma { pragma_name, .. } => {
            READ_ONLY_PRAGMAS.contains(&pragma_name.to_ascii_lowercase().as_str())
        }
        AuthAction::Function { function_name } => {
            !DENIED_FUNCTIONS.contains(&function_name.to_ascii_lowercase().as_str())
        }
        AuthAction::Transaction { .. } | AuthAction::Savepoint { .. } => gate.is_open(),
        _ => true,
    };
    if allowed { Authorization::Allow } else { Authorization::Deny }
}
