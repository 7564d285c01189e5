//! Versioned migrations of the system tables, applied once each, in order, each in one
//! transaction with its row in `schema_migrations`. Running them again is a no-op; a database
//! migrated by a newer gateway is refused rather than misread.

use super::{engine::Database, engine::DbError, value::Statement};

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
    Migration {
        version: 4,
        name: "serverless functions: versions, env vars, sealed secrets, invocations, logs",
        statements: &[
            "CREATE TABLE serverless_functions (
            id TEXT PRIMARY KEY,
            namespace_id INTEGER NOT NULL REFERENCES namespaces(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            version INTEGER NOT NULL,
            wasm_cid TEXT NOT NULL,
            wasm_hash TEXT NOT NULL,
            memory_limit_mb INTEGER NOT NULL,
            timeout_seconds INTEGER NOT NULL,
            is_public INTEGER NOT NULL DEFAULT 0,
            retry_count INTEGER NOT NULL DEFAULT 0,
            retry_delay_seconds INTEGER NOT NULL DEFAULT 5,
            status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive', 'error')),
            created_by TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            UNIQUE (namespace_id, name, version))",
            "CREATE TABLE serverless_env_vars (
            function_id TEXT NOT NULL REFERENCES serverless_functions(id) ON DELETE CASCADE,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (function_id, key))",
            "CREATE TABLE serverless_secrets (
            namespace_id INTEGER NOT NULL REFERENCES namespaces(id) ON DELETE CASCADE,
            function_name TEXT NOT NULL,
            name TEXT NOT NULL,
            sealed TEXT NOT NULL,
            updated_at INTEGER NOT NULL,
            PRIMARY KEY (namespace_id, function_name, name))",
            "CREATE TABLE serverless_invocations (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            namespace_id INTEGER NOT NULL REFERENCES namespaces(id) ON DELETE CASCADE,
            function_name TEXT NOT NULL,
            version INTEGER NOT NULL,
            request_id TEXT NOT NULL,
            trigger_type TEXT NOT NULL,
            caller TEXT NOT NULL DEFAULT '',
            input_size INTEGER NOT NULL,
            output_size INTEGER NOT NULL,
            started_at INTEGER NOT NULL,
            duration_us INTEGER NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('success', 'error', 'timeout')),
            error_message TEXT,
            memory_used_bytes INTEGER NOT NULL DEFAULT 0)",
            "CREATE INDEX serverless_invocations_by_function ON serverless_invocations(namespace_id, function_name, id)",
            "CREATE TABLE serverless_logs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            namespace_id INTEGER NOT NULL REFERENCES namespaces(id) ON DELETE CASCADE,
            function_name TEXT NOT NULL,
            request_id TEXT NOT NULL,
            level TEXT NOT NULL CHECK (level IN ('info', 'warn', 'error', 'debug')),
            message TEXT NOT NULL,
            timestamp INTEGER NOT NULL)",
            "CREATE INDEX serverless_logs_by_function ON serverless_logs(namespace_id, function_name, id)",
        ],
    },
    Migration {
        version: 5,
        name: "storage upload reservations; functions' modules found by CID",
        statements: &[
            "CREATE TABLE storage_uploads (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            namespace_id INTEGER NOT NULL REFERENCES namespaces(id) ON DELETE CASCADE,
            bytes INTEGER NOT NULL,
            created_at INTEGER NOT NULL)",
            "CREATE INDEX storage_uploads_by_namespace ON storage_uploads(namespace_id, created_at)",
            "CREATE INDEX serverless_functions_by_cid ON serverless_functions(wasm_cid)",
        ],
    },
    Migration {
        version: 6,
        name: "keys the nodes of a cluster share, sealed by the cluster secret",
        statements: &["CREATE TABLE node_keys (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            purpose TEXT NOT NULL,
            kid TEXT NOT NULL,
            sealed TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            UNIQUE (purpose, kid))"],
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
