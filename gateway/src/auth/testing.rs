//! An [`Authenticator`] over a fresh embedded store, for the tests of the modules that take one.

use std::sync::Arc;

use super::authenticate::Authenticator;
use crate::database::Database;

/// An authenticator over a new SQLite store in `dir` (default rate limits, no sign-in domain),
/// and the store.
pub async fn authenticator(dir: &std::path::Path) -> (Authenticator, Arc<dyn Database>) {
    let db = crate::database::SqliteDb::open(&dir.join("t.db"), 1, Default::default()).expect("db");
    crate::database::migrate(&db).await.expect("migrate");
    let db: Arc<dyn Database> = Arc::new(db);
    let api_keys = super::api_keys::ApiKeys::new(db.clone());
    let secret = orama_service::cluster::ClusterSecret::parse(&"s".repeat(40)).expect("secret");
    let shared = super::shared_keys::SharedKeys::new(db.clone(), &secret);
    let jwt = super::jwt::JwtKeys::open(shared, &dir.join("jwt")).await.expect("jwt");
    let auth = Authenticator {
        sessions: super::sessions::Sessions::new(db.clone(), api_keys.clone()),
        api_keys,
        jwt,
        limits: crate::http::rate_limit::RateLimits::new(&Default::default()),
        site: super::sign_in::SignInSite { domain: None, https: false },
    };
    (auth, db)
}
