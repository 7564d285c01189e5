//! Access tokens as the reference issues them (REFERENCE-API §3.2-3.3): RS256 JWTs with
//! `iss = debros-gateway`, `aud = gateway`, a `namespace` claim and a 15-minute life.
//!
//! Unlike the reference, the signing key is generated once and kept in the data dir (PKCS#8
//! PEM, mode 0600, in a 0700 directory), so tokens survive restarts. Rotation makes a new
//! current key and keeps the previous one for verification; JWKS publishes both. Verification
//! accepts RS256 only (`alg: none` and HMAC confusion are refused by construction), checks
//! `iss` and `aud` exactly and allows 60 s of clock skew.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::KeyPair as _;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::api_keys::unix_now;

/// The `iss` of every token.
pub const ISSUER: &str = "debros-gateway";
/// The `aud` of every token.
pub const AUDIENCE: &str = "gateway";
/// Life of an access token, in seconds.
pub const TOKEN_TTL_SECS: i64 = 15 * 60;
/// Clock skew allowed on `exp`, `nbf`, `iat`.
const LEEWAY_SECS: u64 = 60;
/// Keys kept: the current one and the one before it.
const KEYS_KEPT: usize = 2;

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer.
    pub iss: String,
    /// Subject: a wallet address, or `apikey:<id>` for tokens exchanged for an API key.
    pub sub: String,
    /// Audience.
    pub aud: String,
    /// Issued at (unix seconds).
    pub iat: i64,
    /// Not before (unix seconds).
    pub nbf: i64,
    /// Expires at (unix seconds).
    pub exp: i64,
    /// The namespace the token acts in.
    #[serde(default)]
    pub namespace: String,
}

/// Why a key could not be loaded or a token issued or verified.
#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    /// Reading or writing the key files failed.
    #[error("signing keys in {path}: {message}")]
    Keys {
        /// The key directory.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The token is not one of ours, or no longer valid.
    #[error("invalid token: {0}")]
    Invalid(String),
}

struct SigningKey {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    modulus: Vec<u8>,
    exponent: Vec<u8>,
}

/// The gateway's signing keys, newest first.
#[derive(Clone)]
pub struct JwtKeys {
    dir: PathBuf,
    keys: Arc<RwLock<Vec<SigningKey>>>,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtKeys").field("dir", &self.dir).field("kids", &self.kids()).finish()
    }
}

impl JwtKeys {
    /// Loads the keys kept in `dir`, generating the first one if there is none.
    pub fn load_or_create(dir: &Path) -> Result<JwtKeys, JwtError> {
        let fail = |message: String| JwtError::Keys { path: dir.to_path_buf(), message };
        std::fs::create_dir_all(dir).map_err(|e| fail(e.to_string()))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| fail(e.to_string()))?;
        let mut files = key_files(dir).map_err(|e| fail(e.to_string()))?;
        files.truncate(KEYS_KEPT);
        let mut keys = files
            .iter()
            .map(|file| std::fs::read(file).map_err(|e| e.to_string()).and_then(|pem| load_key(&pem)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(fail)?;
        if keys.is_empty() {
            keys.push(generate(dir).map_err(fail)?);
            tracing::info!(kid = %keys[0].kid, "generated the JWT signing key");
        }
        Ok(JwtKeys { dir: dir.to_path_buf(), keys: Arc::new(RwLock::new(keys)) })
    }

    /// Makes a new current key; the previous one keeps verifying until the next rotation.
    pub fn rotate(&self) -> Result<String, JwtError> {
        let fail = |message: String| JwtError::Keys { path: self.dir.clone(), message };
        let key = generate(&self.dir).map_err(fail)?;
        let kid = key.kid.clone();
        let mut keys = self.keys.write().unwrap_or_else(|p| p.into_inner());
        keys.insert(0, key);
        keys.truncate(KEYS_KEPT);
        for stale in key_files(&self.dir).map_err(|e| fail(e.to_string()))?.iter().skip(KEYS_KEPT) {
            let _ = std::fs::remove_file(stale);
        }
        tracing::info!(%kid, "rotated the JWT signing key");
        Ok(kid)
    }

    /// Issues a token for `subject` in `namespace`; returns it and its life in seconds.
    pub fn issue(&self, subject: &str, namespace: &str) -> Result<(String, i64), JwtError> {
        let now = unix_now();
        let claims = Claims {
            iss: ISSUER.into(),
            sub: subject.into(),
            aud: AUDIENCE.into(),
            iat: now,
            nbf: now,
            exp: now + TOKEN_TTL_SECS,
            namespace: namespace.into(),
        };
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
        let current = keys.first().ok_or_else(|| JwtError::Invalid("no signing key".into()))?;
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(current.kid.clone());
        let token =
            jsonwebtoken::encode(&header, &claims, &current.encoding).map_err(|e| JwtError::Invalid(e.to_string()))?;
        Ok((token, TOKEN_TTL_SECS))
    }

    /// Verifies `token`: our signature (by `kid`, or any kept key without one), RS256, issuer,
    /// audience, and the time claims with 60 s of skew.
    pub fn verify(&self, token: &str) -> Result<Claims, JwtError> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| JwtError::Invalid(e.to_string()))?;
        if header.alg != Algorithm::RS256 {
            return Err(JwtError::Invalid(format!("algorithm {:?} is not accepted", header.alg)));
        }
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
        let candidates = keys.iter().filter(|k| header.kid.as_deref().is_none_or(|kid| kid == k.kid));
        let mut last_error = JwtError::Invalid("unknown signing key".into());
        for key in candidates {
            match jsonwebtoken::decode::<Claims>(token, &key.decoding, &validation) {
                Ok(data) => return Ok(data.claims),
                Err(err) => last_error = JwtError::Invalid(err.to_string()),
            }
        }
        Err(last_error)
    }

    /// The JSON Web Key Set of the kept keys, newest first.
    pub fn jwks(&self) -> serde_json::Value {
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
        let jwks: Vec<serde_json::Value> = keys
            .iter()
            .map(|k| {
                serde_json::json!({
                    "kty": "RSA", "use": "sig", "alg": "RS256", "kid": k.kid,
                    "n": URL_SAFE_NO_PAD.encode(&k.modulus), "e": URL_SAFE_NO_PAD.encode(&k.exponent),
                })
            })
            .collect();
        serde_json::json!({ "keys": jwks })
    }

    /// Key ids, newest first.
    pub fn kids(&self) -> Vec<String> {
        self.keys.read().unwrap_or_else(|p| p.into_inner()).iter().map(|k| k.kid.clone()).collect()
    }
}

/// Key files in `dir`, newest first (names start with a zero-padded creation time).
fn key_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "pem"))
        .collect();
    files.sort();
    files.reverse();
    Ok(files)
}

/// Generates an RSA-2048 key and stores it as `<created>-<kid>.pem`, mode 0600.
fn generate(dir: &Path) -> Result<SigningKey, String> {
    let pair = KeyPair::generate(KeySize::Rsa2048).map_err(|_| "RSA key generation failed".to_owned())?;
    let der = pair.as_der().map_err(|_| "cannot encode the key".to_owned())?;
    let pem = to_pem(der.as_ref());
    let key = load_key(pem.as_bytes())?;
    let path = dir.join(format!("{:012}-{}.pem", unix_now(), key.kid));
    let mut options = std::fs::OpenOptions::new();
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.write(true).create_new(true).open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    std::io::Write::write_all(&mut file, pem.as_bytes()).map_err(|e| format!("{}: {e}", path.display()))?;
    file.sync_all().map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(key)
}

fn load_key(pem: &[u8]) -> Result<SigningKey, String> {
    let text = std::str::from_utf8(pem).map_err(|_| "key file is not PEM".to_owned())?;
    let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = STANDARD.decode(body.trim()).map_err(|e| format!("key file is not PEM: {e}"))?;
    let pair = KeyPair::from_pkcs8(&der).map_err(|e| format!("not an RSA PKCS#8 key: {e}"))?;
    let components = PublicKeyComponents::<Vec<u8>>::from(pair.public_key());
    let spki = pair.public_key().as_der().map_err(|_| "cannot encode the public key".to_owned())?;
    let kid = crate::http::wire::hex(&Sha256::digest(spki.as_ref())[..8]);
    let encoding = EncodingKey::from_rsa_pem(pem).map_err(|e| format!("unusable signing key: {e}"))?;
    let decoding = DecodingKey::from_rsa_raw_components(&components.n, &components.e);
    Ok(SigningKey { kid, encoding, decoding, modulus: components.n, exponent: components.e })
}

fn to_pem(der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END PRIVATE KEY-----\n");
    pem
}

#[cfg(test)]
#[path = "jwt_tests.rs"]
mod tests;
