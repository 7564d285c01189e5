//! The SQL engines under the node's own tables and tenants' SQL: one [`Database`] trait
//! (`engine.rs`), one implementation per engine (an embedded SQLite file, or RQLite over HTTP),
//! chosen by config; the tenant sandbox, the result budget and the system tables' migrations.
//! Values, statements and results are engine-neutral; parameters are always bound, never
//! interpolated.

mod budget;
mod engine;
mod migrations;
mod rqlite;
mod rqlite_body;
mod rqlite_nodes;
mod rqlite_reply;
mod sandbox;
mod sqlite;
mod sqlite_rows;
pub mod system_store;
mod value;

pub use budget::{ResultBudget, blob_cost, scalar_cost, text_cost};
pub use engine::{ClusterMember, Database, DbError, DbFuture, ExecResult, Op, OpResult, QueryLimits, limits_of};
pub use migrations::{MIGRATIONS, Migration, migrate};
pub use rqlite::RqliteDb;
pub use sandbox::{DENIED_FUNCTIONS, MAX_SQL_BYTES, Sandbox};
pub use sqlite::{SqliteDb, limit_engine_memory};
pub use value::{Rows, SqlValue, Statement};
