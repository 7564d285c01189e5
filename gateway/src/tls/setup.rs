//! How the public listener's TLS is set up from `gateway.tls`: PEM files, an ACME certificate
//! (with its renewal, started by [`AcmeRenewal::spawn`]) or a self-signed development one.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use orama_service::config::{TlsConfig, TlsMode};
use rustls::ServerConfig;
use rustls::sign::CertifiedKey;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use super::certificate::{LiveCertificate, TlsError, certified_key};

/// What keeps an ACME certificate current; started by [`AcmeRenewal::spawn`].
pub struct AcmeRenewal {
    issuer: super::acme::AcmeIssuer,
    cache: super::renewal::CertificateCache,
    current: Option<super::renewal::Certificate>,
    renew_before: Duration,
    /// Pending HTTP-01 challenges, for the port-80 listener to answer.
    pub challenges: super::acme::Http01Challenges,
}

impl AcmeRenewal {
    /// Runs renewal (a first order at once when nothing is cached) until `shutdown`.
    pub fn spawn(self, live: Arc<LiveCertificate>, shutdown: CancellationToken) -> tokio::task::JoinHandle<()> {
        let AcmeRenewal { issuer, cache, current, renew_before, .. } = self;
        tokio::spawn(super::renewal::maintain(issuer, cache, live, current, renew_before, shutdown))
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
    if let Ok(certificate) = super::renewal::Certificate::from_pem(&cert_pem, &key_pem) {
        super::renewal::publish_expiry(&certificate);
    }
    Ok(Some(serving(Some(key), None)))
}

/// ACME mode: the cached certificate if it still fits, and the renewal that keeps it current.
fn setup_acme(config: &TlsConfig, dir: &Path) -> Result<Tls, TlsError> {
    let challenges = super::acme::Http01Challenges::default();
    let issuer = super::acme::AcmeIssuer::new(config.acme.clone(), config.domains.clone(), dir, challenges.clone())?;
    let cache = super::renewal::CertificateCache::new(dir);
    let current = cache.load(&config.domains);
    match &current {
        Some(cert) => {
            super::renewal::publish_expiry(cert);
            tracing::info!(names = ?cert.names, "serving the cached ACME certificate");
        }
        None => tracing::info!(domains = ?config.domains, "no ACME certificate yet; ordering one"),
    }
    let key = current.as_ref().map(|c| c.key.clone());
    let renewal = AcmeRenewal { issuer, cache, current, renew_before: config.acme.renew_before, challenges };
    Ok(serving(key, Some(renewal)))
}

fn serving(key: Option<CertifiedKey>, acme: Option<AcmeRenewal>) -> Tls {
    let certificate = Arc::new(LiveCertificate::new(key));
    let mut server = ServerConfig::builder().with_no_client_auth().with_cert_resolver(certificate.clone());
    server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Tls { acceptor: TlsAcceptor::from(Arc::new(server)), certificate, acme }
}

/// The self-signed certificate kept in `dir` (`self-signed.crt`, `self-signed.key` 0600),
/// generated on first use for `domains`.
fn self_signed(domains: &[String], dir: &Path) -> Result<(Vec<u8>, Vec<u8>), TlsError> {
    let (cert_path, key_path) = (dir.join("self-signed.crt"), dir.join("self-signed.key"));
    if let (Some(cert), Some(key)) = (super::store::read_optional(&cert_path)?, super::store::read_optional(&key_path)?)
    {
        return Ok((cert, key));
    }
    let generated =
        rcgen::generate_simple_self_signed(domains.to_vec()).map_err(|e| TlsError::Certificate(e.to_string()))?;
    let (cert, key) = (generated.cert.pem(), generated.signing_key.serialize_pem());
    super::store::write_private(&key_path, key.as_bytes())?;
    super::store::write_private(&cert_path, cert.as_bytes())?;
    tracing::info!(path = %cert_path.display(), ?domains, "generated a self-signed certificate");
    Ok((cert.into_bytes(), key.into_bytes()))
}
