//! Unit tests of token issue and verification, including forged and confused tokens.

use std::os::unix::fs::PermissionsExt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::*;

fn keys() -> (tempfile::TempDir, JwtKeys) {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = JwtKeys::load_or_create(&dir.path().join("jwt")).expect("keys");
    (dir, keys)
}

fn part(value: serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

#[test]
fn tokens_round_trip_and_survive_a_reload() {
    let (dir, keys) = keys();
    let (token, ttl) = keys.issue("0xabc", "alpha").expect("issue");
    assert_eq!(ttl, 900);
    let claims = keys.verify(&token).expect("verify");
    assert_eq!((claims.sub.as_str(), claims.namespace.as_str(), claims.iss.as_str()), ("0xabc", "alpha", ISSUER));
    assert_eq!(claims.exp - claims.iat, 900);

    let reloaded = JwtKeys::load_or_create(&dir.path().join("jwt")).expect("reload");
    assert_eq!(reloaded.kids(), keys.kids(), "the key persists");
    assert!(reloaded.verify(&token).is_ok());
    let file = key_files(&dir.path().join("jwt")).expect("files").remove(0);
    assert_eq!(std::fs::metadata(&file).expect("meta").permissions().mode() & 0o777, 0o600);
}

#[test]
fn rotation_keeps_the_previous_key_for_verification_only() {
    let (dir, keys) = keys();
    let (old_token, _) = keys.issue("s", "ns").expect("issue");
    let first = keys.kids()[0].clone();
    let second = keys.rotate().expect("rotate");
    assert_eq!(keys.kids(), [second.clone(), first.clone()]);
    assert!(keys.verify(&old_token).is_ok(), "tokens of the previous key still verify");
    let (new_token, _) = keys.issue("s", "ns").expect("issue");
    assert_eq!(jsonwebtoken::decode_header(&new_token).expect("header").kid, Some(second));
    keys.rotate().expect("rotate again");
    assert!(keys.verify(&old_token).is_err(), "two rotations retire a key");
    assert_eq!(key_files(&dir.path().join("jwt")).expect("files").len(), 2);
    assert_eq!(keys.jwks()["keys"].as_array().map(Vec::len), Some(2));
}

#[test]
fn forged_and_confused_tokens_are_refused() {
    let (_dir, keys) = keys();
    let (_other_dir, other) = self::keys();
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

#[test]
fn expired_and_wrong_audience_tokens_are_refused() {
    let (_dir, keys) = keys();
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
