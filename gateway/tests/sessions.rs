//! Wallet sessions on a real SQLite store: nonces expire and are single-use even under
//! concurrent use; refresh tokens rotate exactly once under concurrent refreshes.

use std::sync::Arc;

use orama_gateway::auth::api_keys::ApiKeys;
use orama_gateway::auth::sessions::{SessionError, Sessions};
use orama_gateway::database::{Database, SqliteDb, Statement, migrate};

/// A challenge that is just its random nonce.
fn plain(nonce: &str, _issued: i64, _expires: i64) -> String {
    nonce.to_owned()
}

async fn sessions(dir: &tempfile::TempDir) -> (Sessions, Arc<dyn Database>) {
    let db = SqliteDb::open(&dir.path().join("system.db"), 4, Default::default()).expect("open");
    migrate(&db).await.expect("migrate");
    let db: Arc<dyn Database> = Arc::new(db);
    (Sessions::new(db.clone(), ApiKeys::new(db.clone())), db)
}

#[tokio::test]
async fn nonces_expire_and_belong_to_their_wallet() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (sessions, db) = sessions(&dir).await;
    let issued = sessions.challenge("0xaaa", "ns", "login", plain).await.expect("challenge");
    assert!(matches!(sessions.consume_nonce("0xbbb", "ns", &issued.nonce).await, Err(SessionError::BadNonce)));
    db.execute(Statement::new("UPDATE nonces SET expires_at = 0")).await.expect("age the nonce");
    assert!(
        matches!(sessions.consume_nonce("0xaaa", "ns", &issued.nonce).await, Err(SessionError::BadNonce)),
        "expired"
    );
}

#[tokio::test]
async fn a_nonce_is_used_once_even_by_concurrent_verifies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (sessions, _) = sessions(&dir).await;
    let nonce = sessions.challenge("0xaaa", "ns", "", plain).await.expect("challenge").nonce;
    let attempts: Vec<_> = (0..16)
        .map(|_| {
            let (sessions, nonce) = (sessions.clone(), nonce.clone());
            tokio::spawn(async move { sessions.consume_nonce("0xaaa", "ns", &nonce).await.is_ok() })
        })
        .collect();
    let mut successes = 0;
    for attempt in attempts {
        successes += usize::from(attempt.await.expect("task"));
    }
    assert_eq!(successes, 1);
}

#[tokio::test]
async fn concurrent_refreshes_rotate_a_token_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (sessions, _) = sessions(&dir).await;
    let token = sessions.issue_refresh("0xaaa", "ns").await.expect("issue");
    let attempts: Vec<_> = (0..8)
        .map(|_| {
            let (sessions, token) = (sessions.clone(), token.clone());
            tokio::spawn(async move { sessions.refresh(&token, "ns").await.ok() })
        })
        .collect();
    let mut successors = Vec::new();
    for attempt in attempts {
        successors.extend(attempt.await.expect("task"));
    }
    assert_eq!(successors.len(), 1, "exactly one refresh wins: {successors:?}");
    assert!(
        matches!(sessions.refresh(&token, "other-ns").await, Err(SessionError::BadRefreshToken)),
        "namespace-scoped"
    );
}

#[tokio::test]
async fn namespaces_are_claimed_by_their_first_wallet() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (sessions, _) = sessions(&dir).await;
    sessions.claim_namespace("0xaaa", "dapp").await.expect("first owner");
    sessions.claim_namespace("0xaaa", "dapp").await.expect("owner again");
    assert!(matches!(sessions.claim_namespace("0xbbb", "dapp").await, Err(SessionError::NamespaceTaken(_))));
    let first = sessions.first_wallet_key("0xaaa", "dapp").await.expect("key").expect("a first key");
    assert!(sessions.first_wallet_key("0xaaa", "dapp").await.expect("again").is_none(), "signing in again mints none");
    let second = sessions.new_wallet_key("0xaaa", "dapp").await.expect("key again");
    assert_ne!(first.api_key, second.key.api_key);
    assert!(second.revoked.is_empty(), "the first key is kept");
    assert!(sessions.wallet_owned("dapp").await.expect("owned"));
    assert!(!sessions.wallet_owned("nobody").await.expect("not owned"));
}

#[tokio::test]
async fn a_wallet_holds_at_most_ten_live_keys_and_is_told_which_went() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (sessions, _) = sessions(&dir).await;
    let first = sessions.new_wallet_key("0xaaa", "dapp").await.expect("key").key;
    for _ in 1..orama_gateway::auth::wallet_keys::MAX_WALLET_KEYS {
        assert!(sessions.new_wallet_key("0xaaa", "dapp").await.expect("key").revoked.is_empty());
    }
    let eleventh = sessions.new_wallet_key("0xaaa", "dapp").await.expect("key");
    assert_eq!(eleventh.revoked, vec![first.id], "the oldest goes, and the answer says so");
}
