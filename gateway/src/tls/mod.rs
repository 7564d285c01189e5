//! HTTPS for the public listener: rustls (TLS 1.2 and 1.3, HTTP/2 and HTTP/1.1 by ALPN) with the
//! certificate behind a resolver that can be swapped while serving, so a renewed certificate
//! takes effect without a restart. Certificates come from PEM files, from an ACME CA
//! ([`acme`], kept current by [`renewal`]) or, for development, a self-signed one generated
//! once and kept in the data dir.

pub mod acme;
pub mod acme_http;
pub mod redirect;
pub mod renewal;
pub mod store;

use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use orama_service::config::{TlsConfig, TlsMode};
use rustls::ServerConfig;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

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
    Store(#[from] store::StoreError),
}

/// The certificate currently served; replaceable at any time. Empty only while the first ACME
/// certificate is being obtained (handshakes fail until then).
#[derive(Debug)]
pub struct LiveCertificate {
    current: RwLock<Option<Arc<CertifiedKey>>>,
}

impl LiveCertificate {
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

/// What keeps an ACME certificate current; started by [`AcmeRenewal::spawn`].
pub struct AcmeRenewal {
    issuer: acme::AcmeIssuer,
    cache: renewal::CertificateCache,
    current: Option<renewal::Certificate>,
    renew_before: Duration,
    /// Pending HTTP-01 challenges, for the port-80 listener to answer.
    pub challenges: acme::Http01Challenges,
}

impl AcmeRenewal {
    /// Runs renewal (a first order at once when nothing is cached) until `shutdown`.
    pub fn spawn(self, live: Arc<LiveCertificate>, shutdown: CancellationToken) -> tokio::task::JoinHandle<()> {
        let AcmeRenewal { issuer, cache, current, renew_before, .. } = self;
        tokio::spawn(renewal::maintain(issuer, cache, live, current, renew_before, shutdown))
    }
}

/// What the server needs to speak TLS.
pub struct Tls {
    /// Accepts TLS connections.
    pub acceptor: TlsAcceptor,
    /// The certificate being served.
    pub certificate: Arc<LiveCertificate>,
    /// Set in ACME mode: the renewal to start once the port-80 listener is up.
    pub acme: Option<AcmeRenewal>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls").finish_non_exhaustive()
    }
}

/// Sets up TLS as configured; `None` when it is off. `data_dir` keeps a self-signed
/// certificate, or the ACME account and certificate.
pub fn setup(config: &TlsConfig, data_dir: &Path) -> Result<Option<Tls>, TlsError> {
    let (cert_pem, key_pem) = match config.mode {
        TlsMode::Off => return Ok(None),
        TlsMode::Acme => return Ok(Some(setup_acme(config, &data_dir.join("tls/acme"))?)),
        TlsMode::Files => {
            let read = |path: &Option<std::path::PathBuf>| {
                let path = path.as_deref().unwrap_or(Path::new(""));
                std::fs::read(path)
                    .map_err(|e| TlsError::File { path: path.display().to_string(), message: e.to_string() })
            };
            (read(&config.cert_file)?, read(&config.key_file)?)
        }
        TlsMode::SelfSigned => self_signed(&config.domains, &data_dir.join("tls"))?,
    };
    let key = certified_key(&cert_pem, &key_pem)?;
    Ok(Some(serving(Some(key), None)))
}

/// ACME mode: the cached certificate if it still fits, and the renewal that keeps it current.
fn setup_acme(config: &TlsConfig, dir: &Path) -> Result<Tls, TlsError> {
    let challenges = acme::Http01Challenges::default();
    let issuer = acme::AcmeIssuer::new(config.acme.clone(), config.domains.clone(), dir, challenges.clone())?;
    let cache = renewal::CertificateCache::new(dir);
    let current = cache.load(&config.domains);
    match &current {
        Some(cert) => {
            renewal::publish_expiry(cert);
            tracing::info!(names = ?cert.names, "serving the cached ACME certificate");
        }
        None => tracing::info!(domains = ?config.domains, "no ACME certificate yet; ordering one"),
    }
    let key = current.as_ref().map(|c| c.key.clone());
    let renewal = AcmeRenewal { issuer, cache, current, renew_before: config.acme.renew_before, challenges };
    Ok(serving(key, Some(renewal)))
}

fn serving(key: Option<CertifiedKey>, acme: Option<AcmeRenewal>) -> Tls {
    let certificate = Arc::new(LiveCertificate { current: RwLock::new(key.map(Arc::new)) });
    let mut server = ServerConfig::builder().with_no_client_auth().with_cert_resolver(certificate.clone());
    server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Tls { acceptor: TlsAcceptor::from(Arc::new(server)), certificate, acme }
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

/// The self-signed certificate kept in `dir` (`self-signed.crt`, `self-signed.key` 0600),
/// generated on first use for `domains`.
fn self_signed(domains: &[String], dir: &Path) -> Result<(Vec<u8>, Vec<u8>), TlsError> {
    let (cert_path, key_path) = (dir.join("self-signed.crt"), dir.join("self-signed.key"));
    if let (Some(cert), Some(key)) = (store::read_optional(&cert_path)?, store::read_optional(&key_path)?) {
        return Ok((cert, key));
    }
    let generated =
        rcgen::generate_simple_self_signed(domains.to_vec()).map_err(|e| TlsError::Certificate(e.to_string()))?;
    let (cert, key) = (generated.cert.pem(), generated.signing_key.serialize_pem());
    store::write_private(&key_path, key.as_bytes())?;
    store::write_private(&cert_path, cert.as_bytes())?;
    tracing::info!(path = %cert_path.display(), ?domains, "generated a self-signed certificate");
    Ok((cert.into_bytes(), key.into_bytes()))
}
