//! The API key store on a real SQLite file: created keys authenticate, only hashes are stored,
//! the namespace comes from the store, revocation is immediate, last use is recorded.

use std::sync::Arc;

use orama_gateway::auth::api_keys::ApiKeys;
use orama_gateway::database::{Database, SqliteDb, Statement, migrate};

async fn store(dir: &tempfile::TempDir) -> (ApiKeys, Arc<dyn Database>) {
    let db = SqliteDb::open(&dir.path().join("system.db"), 2, Default::default()).expect("open");
    migrate(&db).await.expect("migrate");
    let db: Arc<dyn Database> = Arc::new(db);
    (ApiKeys::new(db.clone()), db)
}

#[tokio::test]
async fn keys_authenticate_in_their_own_namespace_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (keys, db) = store(&dir).await;
    let key = keys.create("alpha", "ci").await.expect("create");
    assert!(key.api_key.starts_with("ak_") && key.api_key.ends_with(":alpha"), "{}", key.api_key);
    let secret = key.api_key.split(':').next().expect("secret");
    assert_eq!(secret.len(), 27);

    let holder = keys.authenticate(&key.api_key).await.expect("lookup").expect("valid");
    assert_eq!(&*holder.namespace, "alpha");
    let widened = keys.authenticate(&format!("{secret}:beta")).await.expect("lookup").expect("valid");
    assert_eq!(&*widened.namespace, "alpha", "the suffix cannot choose the namespace");
    assert!(keys.authenticate("ak_AAAAAAAAAAAAAAAAAAAAAAAA:alpha").await.expect("lookup").is_none());
    assert!(keys.authenticate("not-a-key").await.expect("lookup").is_none());

    let stored = db.query(Statement::new("SELECT key_hash, key_hint FROM api_keys")).await.expect("rows");
    let hash = stored.get(0, "key_hash").and_then(|v| v.as_str()).expect("hash");
    assert_eq!(hash.len(), 64, "a SHA-256 hex digest");
    assert!(!hash.contains(&secret[3..]), "the secret is not stored");
    assert!(
        secret.starts_with(stored.get(0, "key_hint").and_then(|v| v.as_str()).expect("hint").trim_end_matches('…'))
    );
}

#[tokio::test]
async fn revocation_is_immediate_and_use_is_recorded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (keys, _) = store(&dir).await;
    let key = keys.create("alpha", "").await.expect("create");
    let other = keys.create("beta", "").await.expect("create");
    assert!(keys.authenticate(&key.api_key).await.expect("lookup").is_some());
    keys.flush_usage().await.expect("flush");
    let listed = keys.list(Some("alpha")).await.expect("list");
    assert_eq!(listed.len(), 1);
    assert!(listed[0].last_used_at.is_some(), "{listed:?}");
    assert!(keys.list(Some("beta")).await.expect("list")[0].last_used_at.is_none());

    assert!(keys.revoke(key.id).await.expect("revoke"));
    assert!(!keys.revoke(key.id).await.expect("revoke twice"), "already revoked");
    assert!(keys.authenticate(&key.api_key).await.expect("lookup").is_none(), "no stale cache after revoke");
    assert!(keys.authenticate(&other.api_key).await.expect("lookup").is_some());
    assert_eq!(keys.list(None).await.expect("list").len(), 2);
}
