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
    Migration {
        version: 7,
        name: "the dead-letter topic of each function version",
        statements: &["ALTER TABLE serverless_functions ADD COLUMN dlq_topic TEXT NOT NULL DEFAULT ''"],
    },
    Migration {
        version: 8,
        name: "function triggers, and the runs each claimed once across the cluster",
        statements: &[
            "CREATE TABLE serverless_triggers (
            function_id TEXT NOT NULL REFERENCES serverless_functions(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('pubsub', 'cron')),
            spec TEXT NOT NULL,
            PRIMARY KEY (function_id, position))",
            "CREATE TABLE serverless_trigger_runs (
            namespace_id INTEGER NOT NULL REFERENCES namespaces(id) ON DELETE CASCADE,
            function_name TEXT NOT NULL,
            kind TEXT NOT NULL,
            spec TEXT NOT NULL,
            event TEXT NOT NULL,
            request_id TEXT NOT NULL,
            status TEXT NOT NULL,
            claimed_at INTEGER NOT NULL,
            PRIMARY KEY (namespace_id, function_name, kind, spec, event))",
            "CREATE INDEX serverless_trigger_runs_by_age ON serverless_trigger_runs(claimed_at)",
        ],
    },
];

/// Brings `db` to the newest schema; returns the schema version it is at. A database that
/// holds another schema (the Go reference's, whose `schema_migrations` numbers its own
/// migrations) is refused before anything is written, naming its tables.
pub async fn migrate(db: &dyn Database) -> Result<i64, DbError> {
    refuse_foreign_schema(db).await?;
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

/// Refuses a database whose `schema_migrations` is not ours (it has no `name` column), or
/// that has none but already holds tables our migrations create. Every question answers one
/// row: a shared RQLite store also holds every namespace's tables.
async fn refuse_foreign_schema(db: &dyn Database) -> Result<(), DbError> {
    let columns = "SELECT COUNT(*) AS n FROM pragma_table_info('schema_migrations')";
    let ours = if count(db, Statement::new(columns)).await? > 0 {
        count(db, Statement::new(format!("{columns} WHERE name = 'name'"))).await? > 0
    } else {
        let tables: Vec<&str> = our_tables().collect();
        let marks = vec!["?"; tables.len()].join(", ");
        let sql = format!("SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name IN ({marks})");
        let statement = tables.into_iter().fold(Statement::new(sql), Statement::bind);
        count(db, statement).await? == 0
    };
    if ours {
        return Ok(());
    }
    let listed = "SELECT GROUP_CONCAT(name, ', ') AS names FROM (SELECT name FROM sqlite_master \
                  WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name LIMIT 40)";
    let rows = db.query(Statement::new(listed)).await?;
    let tables = rows.get(0, "names").and_then(|v| v.as_str()).unwrap_or("?").to_owned();
    Err(DbError::Internal(format!(
        "the SQL database holds another schema, not this node's (its tables: {tables}); point backends.sql at a \
         database of its own (an RQLite cluster the Go gateway uses cannot be shared)"
    )))
}

/// The `n` a counting `statement` answers.
async fn count(db: &dyn Database, statement: Statement) -> Result<i64, DbError> {
    let rows = db.query(statement).await?;
    Ok(rows.get(0, "n").and_then(|v| v.as_i64()).unwrap_or(0))
}

/// The tables our migrations create.
fn our_tables() -> impl Iterator<Item = &'static str> {
    MIGRATIONS.iter().flat_map(|m| m.statements.iter()).filter_map(|s| {
        let rest = s.trim_start().strip_prefix("CREATE TABLE ")?;
        rest.split(|c: char| c.is_whitespace() || c == '(').next()
    })
}

async fn current_version(db: &dyn Database) -> Result<i64, DbError> {
    let rows = db.query(Statement::new("SELECT COALESCE(MAX(version), 0) AS version FROM schema_migrations")).await?;
    Ok(rows.get(0, "version").and_then(|v| v.as_i64()).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::database::SqliteDb;

    async fn database(dir: &std::path::Path) -> SqliteDb {
        SqliteDb::open(&dir.join("system.db"), 2, Default::default()).expect("db")
    }

    #[tokio::test]
    async fn the_go_references_schema_is_refused_by_name_and_left_as_it_was() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = database(dir.path()).await;
        for table in [
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMP)",
            "CREATE TABLE namespaces (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE NOT NULL, created_at)",
            "CREATE TABLE functions (id TEXT PRIMARY KEY, name TEXT)",
            "INSERT INTO schema_migrations (version, applied_at) VALUES (1, 0), (2, 0), (3, 0), (4, 0)",
        ] {
            db.execute(Statement::new(table)).await.expect("the reference's schema");
        }
        let refused = migrate(&db).await.expect_err("another schema");
        let message = refused.to_string();
        assert!(message.contains("another schema") && message.contains("functions, namespaces, schema_migrations"));
        let count = db
            .query(Statement::new(
                "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            ))
            .await;
        assert_eq!(count.expect("count").get(0, "n").and_then(|v| v.as_i64()), Some(3), "nothing was created");
    }

    #[tokio::test]
    async fn our_own_schema_migrates_again_and_a_stranger_table_without_migrations_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = database(dir.path()).await;
        let newest = migrate(&db).await.expect("a fresh database");
        assert_eq!(migrate(&db).await.expect("again"), newest);
        assert!(our_tables().any(|t| t == "serverless_functions") && our_tables().any(|t| t == "node_keys"));
        let second = tempfile::tempdir().expect("tempdir");
        let stranger = database(second.path()).await;
        stranger.execute(Statement::new("CREATE TABLE api_keys (id INTEGER PRIMARY KEY, key TEXT)")).await.expect("t");
        assert!(migrate(&stranger).await.is_err(), "a table of ours, made by someone else");
    }
}
