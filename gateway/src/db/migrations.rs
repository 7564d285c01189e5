//! Versioned migrations of the system tables, applied once each, in order, each in one
//! transaction with its row in `schema_migrations`. Running them again is a no-op; a database
//! migrated by a newer gateway is refused rather than misread.

use super::{Database, DbError, Statement};

/// One schema change.
#[derive(Debug)]
pub struct Migration {
    /// Position in the sequence, from 1.
    pub version: i64,
    /// What it does.
    pub name: &'static str,
    /// Its statements.
    pub statements: &'static [&'static str],
}

/// Every migration, in order. Append only: never edit one that has shipped.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "system tables: namespaces, API keys, ownership, nonces, refresh tokens",
        statements: &[
            "CREATE TABLE namespaces (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL UNIQUE,
            created_at INTEGER NOT NULL)",
            "CREATE TABLE api_keys (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            key_hash TEXT NOT NULL UNIQUE,
            key_hint TEXT NOT NULL,
            name TEXT NOT NULL DEFAULT '',
            namespace_id INTEGER NOT NULL REFERENCES namespaces(id) ON DELETE CASCADE,
            created_at INTEGER NOT NULL,
            last_used_at INTEGER,
            revoked_at INTEGER)",
            "CREATE INDEX api_keys_by_namespace ON api_keys(namespace_id)",
            "CREATE TABLE namespace_ownership (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            namespace_id INTEGER NOT NULL REFERENCES namespaces(id) ON DELETE CASCADE,
            owner_type TEXT NOT NULL CHECK (owner_type IN ('wallet', 'api_key')),
            owner_id TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            UNIQUE (namespace_id, owner_type, owner_id))",
            "CREATE TABLE wallet_api_keys (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            namespace_id INTEGER NOT NULL REFERENCES namespaces(id) ON DELETE CASCADE,
            wallet TEXT NOT NULL,
            api_key_id INTEGER NOT NULL REFERENCES api_keys(id) ON DELETE CASCADE,
            created_at INTEGER NOT NULL,
            UNIQUE (namespace_id, wallet))",
            "CREATE TABLE nonces (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            namespace_id INTEGER NOT NULL REFERENCES namespaces(id) ON DELETE CASCADE,
            wallet TEXT NOT NULL,
            nonce TEXT NOT NULL UNIQUE,
            purpose TEXT NOT NULL DEFAULT '',
            expires_at INTEGER NOT NULL,
            used_at INTEGER,
            created_at INTEGER NOT NULL)",
            "CREATE TABLE refresh_tokens (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            namespace_id INTEGER NOT NULL REFERENCES namespaces(id) ON DELETE CASCADE,
            subject TEXT NOT NULL,
            token_hash TEXT NOT NULL UNIQUE,
            expires_at INTEGER NOT NULL,
            revoked_at INTEGER,
            replaced_by INTEGER,
            created_at INTEGER NOT NULL)",
            "CREATE INDEX refresh_tokens_by_subject ON refresh_tokens(namespace_id, subject)",
            "INSERT INTO namespaces (name, created_at) VALUES ('default', CAST(strftime('%s', 'now') AS INTEGER))",
        ],
    },
    Migration {
        version: 2,
        name: "apps registered by wallets",
        statements: &["CREATE TABLE apps (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            namespace_id INTEGER NOT NULL REFERENCES namespaces(id) ON DELETE CASCADE,
            app_id TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL DEFAULT '',
            wallet TEXT NOT NULL,
            created_at INTEGER NOT NULL)"],
    },
    Migration {
        version: 3,
        name: "storage pins per namespace",
        statements: &[
            "CREATE TABLE storage_pins (
            namespace_id INTEGER NOT NULL REFERENCES namespaces(id) ON DELETE CASCADE,
            cid TEXT NOT NULL,
            name TEXT NOT NULL DEFAULT '',
            size INTEGER NOT NULL,
            created_at INTEGER NOT NULL,
            PRIMARY KEY (namespace_id, cid))",
            "CREATE INDEX storage_pins_by_cid ON storage_pins(cid)",
        ],
    },
];

/// Brings `db` to the newest schema; returns the schema version it is at.
pub async fn migrate(db: &dyn Database) -> Result<i64, DbError> {
    db.execute(Statement::new(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
    ))
    .await?;
    let current = current_version(db).await?;
    let newest = MIGRATIONS.last().map_or(0, |m| m.version);
    if current > newest {
        return Err(DbError::Internal(format!(
            "database schema version {current} is newer than this gateway knows ({newest}); upgrade the gateway"
        )));
    }
    for migration in MIGRATIONS.iter().filter(|m| m.version > current) {
        let mut statements: Vec<Statement> = migration.statements.iter().map(|s| Statement::new(*s)).collect();
        statements.push(
            Statement::new("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, CAST(strftime('%s', 'now') AS INTEGER))")
                .bind(migration.version)
                .bind(migration.name),
        );
        db.transaction(statements).await?;
        tracing::info!(version = migration.version, name = migration.name, "schema migration applied");
    }
    Ok(newest.max(current))
}

async fn current_version(db: &dyn Database) -> Result<i64, DbError> {
    let rows = db.query(Statement::new("SELECT COALESCE(MAX(version), 0) AS version FROM schema_migrations")).await?;
    Ok(rows.get(0, "version").and_then(|v| v.as_i64()).unwrap_or(0))
}
