//! Unit tests of token issue and verification, including forged and confused tokens.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::*;
use crate::auth::shared_keys::tests::shared_keys;

async fn keys() -> (tempfile::TempDir, JwtKeys) {
    let (dir, shared) = shared_keys("a").await;
    let keys = JwtKeys::open(shared, &dir.path().join("jwt")).await.expect("keys");
    (dir, keys)
}

fn part(value: serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

#[tokio::test]
async fn tokens_round_trip_and_survive_a_reload() {
    let (dir, keys) = keys().await;
    let (token, ttl) = keys.issue("0xabc", "alpha").expect("issue");
    assert_eq!(ttl, 900);
    let claims = keys.verify(&token).expect("verify");
    assert_eq!((claims.sub.as_str(), claims.namespace.as_str(), claims.iss.as_str()), ("0xabc", "alpha", ISSUER));
    assert_eq!(claims.exp - claims.iat, 900);

    let reloaded = JwtKeys::open(keys.shared.clone(), &dir.path().join("jwt")).await.expect("reload");
    assert_eq!(reloaded.kids(), keys.kids(), "the key persists");
    assert!(reloaded.verify(&token).is_ok());
}

#[tokio::test]
async fn rotation_keeps_the_previous_key_for_verification_only() {
    let (_dir, keys) = keys().await;
    let (old_token, _) = keys.issue("s", "ns").expect("issue");
    let first = keys.kids()[0].clone();
    let second = keys.rotate().await.expect("rotate");
    assert_eq!(keys.kids(), [second.clone(), first.clone()]);
    assert!(keys.verify(&old_token).is_ok(), "tokens of the previous key still verify");
    let (new_token, _) = keys.issue("s", "ns").expect("issue");
    assert_eq!(jsonwebtoken::decode_header(&new_token).expect("header").kid, Some(second));
    keys.rotate().await.expect("rotate again");
    assert!(keys.verify(&old_token).is_err(), "two rotations retire a key");
    assert_eq!(keys.shared.list(KeyPurpose::Jwt).await.expect("list").len(), 2);
    assert_eq!(keys.jwks()["keys"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn a_rotation_on_another_node_is_followed_when_its_token_arrives() {
    let (dir, here) = keys().await;
    let elsewhere = JwtKeys::open(here.shared.clone(), &dir.path().join("jwt")).await.expect("second node");
    assert_eq!(here.kids(), elsewhere.kids(), "nodes of a cluster start with the same key");
    let rotated = elsewhere.rotate().await.expect("rotate");
    let (token, _) = elsewhere.issue("s", "ns").expect("issue");
    assert!(here.verify(&token).is_err(), "not reloaded yet");
    assert!(here.verify_current(&token).await.is_ok(), "an unknown kid reloads the keys");
    assert_eq!(here.kids()[0], rotated, "and this node now signs with the new key");
}

#[tokio::test]
async fn a_flood_of_unknown_kids_costs_one_reload_per_period() {
    let (_dir, keys) = keys().await;
    let header = part(serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": "0000"}));
    let forged = format!("{header}.{}.AAAA", part(serde_json::json!({"sub": "s"})));
    let started = std::time::Instant::now();
    let attempts = (0..200).map(|_| keys.verify_current(&forged));
    let results = futures_util::future::join_all(attempts).await;
    assert!(results.iter().all(Result::is_err));
    // All 200 arrived before the first reload began: they share it (and at most the next).
    assert!(started.elapsed() < RELOAD_AT_MOST_EVERY * 3, "{:?}", started.elapsed());
}

#[tokio::test]
async fn keys_of_a_node_from_before_sharing_become_the_clusters() {
    let (dir, shared) = shared_keys("a").await;
    let legacy = dir.path().join("jwt");
    std::fs::create_dir_all(&legacy).expect("dir");
    let old = generate().expect("key");
    let current = generate().expect("key");
    for (name, key) in [("000000000001-a.pem", &old), ("000000000002-b.pem", &current)] {
        std::fs::write(legacy.join(name), crate::auth::jwt_material::to_pem(&key.der)).expect("write");
    }
    let keys = JwtKeys::open(shared, &legacy).await.expect("keys");
    assert_eq!(keys.kids(), [current.kid.clone(), old.kid.clone()], "both imported, the newest current");
    assert_eq!(std::fs::read_dir(&legacy).expect("dir").count(), 0, "no clear copy left behind");
}

#[tokio::test]
async fn forged_and_confused_tokens_are_refused() {
    let (_dir, keys) = keys().await;
    let (_other_dir, other) = self::keys().await;
    let (token, _) = keys.issue("s", "alpha").expect("issue");
    let (foreign, _) = other.issue("s", "alpha").expect("issue");
    assert!(keys.verify(&foreign).is_err(), "another gateway's key");

    let now = unix_now();
    let claims = serde_json::json!({"iss": ISSUER, "sub": "s", "aud": AUDIENCE, "iat": now, "nbf": now, "exp": now + 60, "namespace": "alpha"});
    let unsigned = format!("{}.{}.", part(serde_json::json!({"alg": "none", "typ": "JWT"})), part(claims.clone()));
    assert!(keys.verify(&unsigned).is_err(), "alg none");
    let hmac = format!("{}.{}.AAAA", part(serde_json::json!({"alg": "HS256", "typ": "JWT"})), part(claims));
    assert!(keys.verify(&hmac).is_err(), "algorithm confusion");

    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut payload: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).expect("b64")).expect("json");
    payload["namespace"] = "beta".into();
    parts[1] = part(payload);
    assert!(keys.verify(&parts.join(".")).is_err(), "a tampered namespace breaks the signature");
    assert!(keys.verify("not.a.jwt").is_err());
}

#[tokio::test]
async fn expired_and_wrong_audience_tokens_are_refused() {
    let (_dir, keys) = keys().await;
    let sign = |claims: &Claims| {
        let guard = keys.keys.read().expect("lock");
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(guard[0].kid.clone());
        jsonwebtoken::encode(&header, claims, &guard[0].encoding).expect("sign")
    };
    let now = unix_now();
    let base = Claims {
        iss: ISSUER.into(),
        sub: "s".into(),
        aud: AUDIENCE.into(),
        iat: now,
        nbf: now,
        exp: now + 60,
        namespace: "n".into(),
    };
    assert!(keys.verify(&sign(&base)).is_ok());
    assert!(keys.verify(&sign(&Claims { exp: now - 120, ..base.clone() })).is_err(), "expired beyond the skew");
    assert!(keys.verify(&sign(&Claims { exp: now - 30, ..base.clone() })).is_ok(), "within the 60 s skew");
    assert!(keys.verify(&sign(&Claims { nbf: now + 300, ..base.clone() })).is_err(), "not yet valid");
    assert!(keys.verify(&sign(&Claims { aud: "other".into(), ..base.clone() })).is_err());
    assert!(keys.verify(&sign(&Claims { iss: "someone".into(), ..base })).is_err());
}
