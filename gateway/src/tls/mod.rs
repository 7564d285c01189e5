//! HTTPS for the public listener: rustls (TLS 1.2 and 1.3, HTTP/2 and HTTP/1.1 by ALPN) with the
//! certificate behind a resolver that can be swapped while serving, so a renewed certificate
//! takes effect without a restart. Certificates come from PEM files or, for development, a
//! self-signed one generated once and kept in the data dir.

pub mod redirect;

use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::{Arc, RwLock};

use orama_service::config::{TlsConfig, TlsMode};
use rustls::ServerConfig;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

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
}

/// The certificate currently served; replaceable at any time.
#[derive(Debug)]
pub struct LiveCertificate {
    current: RwLock<Arc<CertifiedKey>>,
}

impl LiveCertificate {
    /// Serves `key` from now on.
    pub fn replace(&self, key: CertifiedKey) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(key);
    }
}

impl ResolvesServerCert for LiveCertificate {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.read().unwrap_or_else(|p| p.into_inner()).clone())
    }
}

/// What the server needs to speak TLS.
#[derive(Clone)]
pub struct Tls {
    /// Accepts TLS connections.
    pub acceptor: TlsAcceptor,
    /// The certificate being served.
    pub certificate: Arc<LiveCertificate>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls").finish_non_exhaustive()
    }
}

/// Sets up TLS as configured; `None` when it is off. `data_dir` keeps a self-signed certificate.
pub fn setup(config: &TlsConfig, data_dir: &Path) -> Result<Option<Tls>, TlsError> {
    let (cert_pem, key_pem) = match config.mode {
        TlsMode::Off => return Ok(None),
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
    let certificate = Arc::new(LiveCertificate { current: RwLock::new(Arc::new(key)) });
    let mut server = ServerConfig::builder().with_no_client_auth().with_cert_resolver(certificate.clone());
    server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Some(Tls { acceptor: TlsAcceptor::from(Arc::new(server)), certificate }))
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
    let file_error =
        |path: &Path, e: std::io::Error| TlsError::File { path: path.display().to_string(), message: e.to_string() };
    if let (Ok(cert), Ok(key)) = (std::fs::read(&cert_path), std::fs::read(&key_path)) {
        return Ok((cert, key));
    }
    std::fs::create_dir_all(dir).map_err(|e| file_error(dir, e))?;
    let generated =
        rcgen::generate_simple_self_signed(domains.to_vec()).map_err(|e| TlsError::Certificate(e.to_string()))?;
    let (cert, key) = (generated.cert.pem(), generated.signing_key.serialize_pem());
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true).mode(0o600);
    let write = |path: &Path, text: &str| {
        let mut file = options.open(path).map_err(|e| file_error(path, e))?;
        std::io::Write::write_all(&mut file, text.as_bytes()).map_err(|e| file_error(path, e))
    };
    write(&key_path, &key)?;
    write(&cert_path, &cert)?;
    tracing::info!(path = %cert_path.display(), ?domains, "generated a self-signed certificate");
    Ok((cert.into_bytes(), key.into_bytes()))
}
