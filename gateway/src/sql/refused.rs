//! Why the SQL checker refused a statement: the one error of checking and rewriting, which the
//! SQL API maps to its HTTP status (busy: 503; everything else: 400).

/// Why a statement was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// It does not parse as SQLite SQL.
    #[error("cannot parse the statement: {0}")]
    Syntax(String),
    /// It names something no tenant may reach.
    #[error("{0} is not accessible")]
    Reserved(String),
    /// It is not one statement of an allowed kind.
    #[error("statement not allowed: {0}")]
    Kind(String),
    /// It is too long, too large or too deeply nested to parse safely.
    #[error("statement too complex: {0}")]
    TooLarge(String),
    /// Its namespace has too many statements being checked already.
    #[error("try again: {0}")]
    Busy(String),
}
