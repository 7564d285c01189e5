//! The certificate the listener serves, replaceable while serving, and TLS errors.

use std::sync::{Arc, RwLock};

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A certificate or key file could not be read or parsed.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The certificate and key do not form a usable pair.
    #[error("certificate: {0}")]
    Certificate(String),
    /// A state file in the data dir could not be used.
    #[error(transparent)]
    Store(#[from] super::store::StoreError),
}

/// The certificate currently served; replaceable at any time. Empty only while the first ACME
/// certificate is being obtained (handshakes fail until then).
#[derive(Debug)]
pub struct LiveCertificate {
    current: RwLock<Option<Arc<CertifiedKey>>>,
}

impl LiveCertificate {
    /// Serves `key` from the start, or nothing until the first [`replace`](Self::replace).
    pub fn new(key: Option<CertifiedKey>) -> LiveCertificate {
        LiveCertificate { current: RwLock::new(key.map(Arc::new)) }
    }

    /// Serves `key` from now on.
    pub fn replace(&self, key: CertifiedKey) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(key));
    }
}

impl ResolvesServerCert for LiveCertificate {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// A certificate chain and key from PEM, checked to match.
pub fn certified_key(cert_pem: &[u8], key_pem: &[u8]) -> Result<CertifiedKey, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Certificate(format!("unreadable certificate chain: {e}")))?;
    if chain.is_empty() {
        return Err(TlsError::Certificate("no certificate in the chain file".into()));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| TlsError::Certificate(format!("unreadable private key: {e}")))?;
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    CertifiedKey::from_der(chain, key, &provider).map_err(|e| TlsError::Certificate(e.to_string()))
}
