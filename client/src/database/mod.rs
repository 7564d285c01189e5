//! `/v1/rqlite/*`: the namespace's SQL database, and an ORM over it. [`DatabaseClient`] runs
//! statements, batches and schema changes; [`QueryBuilder`] composes a `SELECT` fluently;
//! [`Repository`] maps a serde struct to a table. Every value is bound to a `?` placeholder and
//! sent apart from the SQL; rows come back as JSON objects keyed by column name and are read
//! into structs by serde (a column maps to the field of the same name).
//!
//! SQLite has no boolean type: a `bool` is stored as 1 or 0 and read back as an integer, so a
//! `bool` field needs `#[serde(with = "orama_client::database::bool_int")]`.

mod args;
pub mod bool_int;
mod client;
mod query;
mod repository;
mod sql;
mod transaction;

pub use args::Args;
pub use client::DatabaseClient;
pub use query::QueryBuilder;
pub use repository::{Entity, Repository};
pub use sql::{ExecResult, Row, TableInfo};
pub use transaction::{Transaction, TxResult};
