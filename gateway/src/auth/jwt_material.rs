//! The RSA signing keys behind [`super::jwt::JwtKeys`]: made, read from PKCS#8 DER (as the
//! cluster's shared keys hold them), and read from the PEM files gateways kept in their data
//! dir before keys were shared (imported once, see `JwtKeys::open`).

use std::path::{Path, PathBuf};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::KeyPair as _;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::{DecodingKey, EncodingKey};
use sha2::{Digest, Sha256};

/// One signing key, ready to sign and verify.
pub(crate) struct SigningKey {
    /// Its id: the first 8 bytes of the SHA-256 of its public key, in hex.
    pub kid: String,
    /// The private key as PKCS#8 DER, as stored.
    pub der: Vec<u8>,
    pub encoding: EncodingKey,
    pub decoding: DecodingKey,
    pub modulus: Vec<u8>,
    pub exponent: Vec<u8>,
}

/// A new RSA-2048 key.
pub(crate) fn generate() -> Result<SigningKey, String> {
    let pair = KeyPair::generate(KeySize::Rsa2048).map_err(|_| "RSA key generation failed".to_owned())?;
    let der = pair.as_der().map_err(|_| "cannot encode the key".to_owned())?;
    from_der(der.as_ref())
}

/// The key in `der` (PKCS#8).
pub(crate) fn from_der(der: &[u8]) -> Result<SigningKey, String> {
    let pair = KeyPair::from_pkcs8(der).map_err(|e| format!("not an RSA PKCS#8 key: {e}"))?;
    let components = PublicKeyComponents::<Vec<u8>>::from(pair.public_key());
    let spki = pair.public_key().as_der().map_err(|_| "cannot encode the public key".to_owned())?;
    let kid = crate::http::wire::hex(&Sha256::digest(spki.as_ref())[..8]);
    let encoding =
        EncodingKey::from_rsa_pem(to_pem(der).as_bytes()).map_err(|e| format!("unusable signing key: {e}"))?;
    let decoding = DecodingKey::from_rsa_raw_components(&components.n, &components.e);
    Ok(SigningKey { kid, der: der.to_vec(), encoding, decoding, modulus: components.n, exponent: components.e })
}

/// The keys a gateway kept in `dir` before keys were shared, oldest first; none when there is
/// no such directory.
pub(crate) fn legacy_keys(dir: &Path) -> Result<Vec<SigningKey>, String> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(format!("{}: {err}", dir.display())),
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "pem"))
        .collect();
    // Names start with a zero-padded creation time.
    files.sort();
    files
        .iter()
        .map(|file| {
            let pem = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
            let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
            let der = STANDARD.decode(body.trim()).map_err(|e| format!("{}: not PEM: {e}", file.display()))?;
            from_der(&der).map_err(|e| format!("{}: {e}", file.display()))
        })
        .collect()
}

/// `der` as a PEM `PRIVATE KEY` (what `jsonwebtoken` reads PKCS#8 from; also how legacy files
/// were written).
pub(crate) fn to_pem(der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END PRIVATE KEY-----\n");
    pem
}
