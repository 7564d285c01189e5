//! The cluster's certificate authority, for links between engines' nodes that have no password
//! of their own: the Redis Cluster bus accepts any server that sends it a `MEET`, so the bus
//! runs over TLS and trusts only certificates this CA issued.
//!
//! The CA's key is derived from the cluster secret (an Ed25519 seed), and its certificate from
//! fixed fields with a deterministic signature, so every node holding the secret makes the same
//! CA, byte for byte, and issues its own certificate without asking another node: joining needs
//! the secret and nothing else. A server without the secret cannot make a certificate the
//! others accept.

use std::path::{Path, PathBuf};

use orama_service::cluster::ClusterSecret;
use orama_service::private_files::{FileError, write_private};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};

/// The DER prefix of an Ed25519 private key in PKCS#8 v1 (RFC 8410), before its 32-byte seed.
const ED25519_PKCS8_PREFIX: [u8; 16] =
    [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];

/// Why a certificate could not be made or written.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    /// rcgen refused the key or the certificate.
    #[error("cluster CA: {0}")]
    Certificate(#[from] rcgen::Error),
    /// The system gave no randomness for a key.
    #[error("cluster CA: no randomness: {0}")]
    Random(String),
    /// A file could not be written.
    #[error("cluster CA: {0}")]
    Write(#[from] FileError),
}

/// The CA of one use of the cluster secret (`redis-bus`).
pub struct ClusterCa {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

/// Where a server finds its certificate, its key and the CA it trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The CA's certificate (PEM).
    pub ca: PathBuf,
    /// The server's certificate (PEM), for both ends of a link.
    pub certificate: PathBuf,
    /// The server's private key (PEM, owner-only).
    pub key: PathBuf,
}

impl TlsFiles {
    /// The files [`ClusterCa::write_files`] writes in `dir`.
    pub fn in_dir(dir: &Path) -> TlsFiles {
        TlsFiles { ca: dir.join("ca.crt"), certificate: dir.join("node.crt"), key: dir.join("node.key") }
    }
}

impl ClusterCa {
    /// The CA for `purpose`, derived from `secret`.
    pub fn derive(secret: &ClusterSecret, purpose: &str) -> Result<ClusterCa, CaError> {
        let key = ed25519_key(&secret.key_seed(&format!("{purpose}-ca")))?;
        let mut params = CertificateParams::default();
        params.distinguished_name.remove(DnType::CommonName);
        params.distinguished_name.push(DnType::OrganizationName, "Orama cluster");
        params.distinguished_name.push(DnType::CommonName, format!("Orama cluster CA: {purpose}"));
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let pem = params.self_signed(&key)?.pem();
        Ok(ClusterCa { issuer: Issuer::new(params, key), pem })
    }

    /// The CA's certificate, PEM.
    pub fn certificate_pem(&self) -> &str {
        &self.pem
    }

    /// A new key and a certificate for it naming `names` (host names and IP addresses; the
    /// first is its common name), good for both ends of a link (server and client
    /// authentication), as (certificate PEM, key PEM).
    pub fn issue(&self, names: &[String]) -> Result<(String, String), CaError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| CaError::Random(e.to_string()))?;
        let key = ed25519_key(&seed)?;
        let mut params = CertificateParams::new(names.to_vec())?;
        params.distinguished_name.remove(DnType::CommonName);
        params.distinguished_name.push(DnType::CommonName, names.first().map_or("", String::as_str));
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
        params.use_authority_key_identifier_extension = true;
        let certificate = params.signed_by(&key, &self.issuer)?;
        Ok((certificate.pem(), key.serialize_pem()))
    }

    /// Writes the CA's certificate and, unless `dir` has them already, a certificate and key
    /// for `name` (the key owner-only) into `dir`. A certificate the CA did not issue (the
    /// secret changed) is replaced.
    pub fn write_files(&self, dir: &Path, name: &str) -> Result<TlsFiles, CaError> {
        let files = TlsFiles::in_dir(dir);
        let write = |path: &Path, text: &str| write_private(path, text.as_bytes());
        let same_ca = std::fs::read_to_string(&files.ca).is_ok_and(|pem| pem == self.pem);
        if !same_ca || !files.certificate.is_file() || !files.key.is_file() {
            let (certificate, key) = self.issue(&[name.to_owned(), "127.0.0.1".to_owned()])?;
            write(&files.key, &key)?;
            write(&files.certificate, &certificate)?;
        }
        write(&files.ca, &self.pem)?;
        Ok(files)
    }
}

/// The Ed25519 key of `seed`, kept as PKCS#8 v1: OpenSSL 3.0 (which Redis links) cannot read
/// the v2 form (with the public key) that a generated key is written in.
fn ed25519_key(seed: &[u8; 32]) -> Result<KeyPair, CaError> {
    let mut pkcs8 = ED25519_PKCS8_PREFIX.to_vec();
    pkcs8.extend_from_slice(seed);
    Ok(KeyPair::try_from(pkcs8.as_slice())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(text: &str) -> ClusterSecret {
        ClusterSecret::parse(text).expect("secret")
    }

    #[test]
    fn every_holder_of_the_secret_derives_the_same_ca_and_no_one_else_does() {
        let a = secret("0123456789abcdef0123456789abcdef");
        let first = ClusterCa::derive(&a, "redis-bus").expect("ca");
        let again = ClusterCa::derive(&a, "redis-bus").expect("ca");
        assert_eq!(first.certificate_pem(), again.certificate_pem());
        let other = ClusterCa::derive(&secret("fedcba9876543210fedcba9876543210"), "redis-bus").expect("ca");
        assert_ne!(first.certificate_pem(), other.certificate_pem());
        let purpose = ClusterCa::derive(&a, "other").expect("ca");
        assert_ne!(first.certificate_pem(), purpose.certificate_pem());
    }

    #[test]
    fn files_are_written_once_owner_only_and_replaced_when_the_ca_changes() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = ClusterCa::derive(&secret("0123456789abcdef0123456789abcdef"), "redis-bus").expect("ca");
        let files = ca.write_files(dir.path(), "node1").expect("write");
        let mode = std::fs::metadata(&files.key).expect("key").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let certificate = std::fs::read_to_string(&files.certificate).expect("certificate");
        assert!(certificate.starts_with("-----BEGIN CERTIFICATE-----"));
        ca.write_files(dir.path(), "node1").expect("again");
        assert_eq!(std::fs::read_to_string(&files.certificate).expect("kept"), certificate);
        let other = ClusterCa::derive(&secret("fedcba9876543210fedcba9876543210"), "redis-bus").expect("ca");
        other.write_files(dir.path(), "node1").expect("other");
        assert_ne!(std::fs::read_to_string(&files.certificate).expect("replaced"), certificate);
    }
}
