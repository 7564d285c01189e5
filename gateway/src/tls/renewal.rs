//! Keeps an ACME certificate current: the cached one from the data dir is served at start when
//! it still covers the domains; a new one is ordered when there is none or when renewal is due,
//! swapped into the live resolver (no restart, open connections keep theirs) and cached.
//! Failures are retried with backoff while the old certificate keeps being served.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls::sign::CertifiedKey;
use tokio_util::sync::CancellationToken;

use super::acme::{AcmeIssuer, IssuedPem};
use super::store;
use super::{certificate::LiveCertificate, certificate::TlsError, certificate::certified_key};

/// First wait after a failed issuance; doubled per failure up to [`RETRY_MAX`].
const RETRY_FIRST: Duration = Duration::from_secs(5);
const RETRY_MAX: Duration = Duration::from_secs(3600);

/// A certificate ready to serve, with what renewal needs to know of it.
pub struct Certificate {
    /// The chain and key in rustls form.
    pub key: CertifiedKey,
    /// Start of validity.
    pub not_before: SystemTime,
    /// End of validity.
    pub not_after: SystemTime,
    /// DNS names the leaf covers.
    pub names: Vec<String>,
}

impl Certificate {
    /// Parses a PEM chain and key, reading validity and names from the leaf.
    pub fn from_pem(chain: &[u8], key: &[u8]) -> Result<Self, TlsError> {
        let key = certified_key(chain, key)?;
        let leaf = key.end_entity_cert().map_err(|e| TlsError::Certificate(e.to_string()))?;
        let (_, parsed) = x509_parser::parse_x509_certificate(leaf.as_ref())
            .map_err(|e| TlsError::Certificate(format!("unreadable leaf certificate: {e}")))?;
        let at = |t: i64| UNIX_EPOCH + Duration::from_secs(u64::try_from(t).unwrap_or(0));
        let validity = parsed.validity();
        let names = match parsed.subject_alternative_name() {
            Ok(Some(san)) => san
                .value
                .general_names
                .iter()
                .filter_map(|name| match name {
                    x509_parser::extensions::GeneralName::DNSName(dns) => Some(dns.to_ascii_lowercase()),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        let (not_before, not_after) = (at(validity.not_before.timestamp()), at(validity.not_after.timestamp()));
        Ok(Certificate { key, not_before, not_after, names })
    }

    /// Whether this certificate names every one of `domains`.
    pub fn covers(&self, domains: &[String]) -> bool {
        domains.iter().all(|d| self.names.contains(&d.to_ascii_lowercase()))
    }

    /// When to renew: `renew_before` ahead of expiry, but no earlier than two thirds into the
    /// lifetime, so a short-lived certificate is not renewed over and over.
    pub fn renew_at(&self, renew_before: Duration) -> SystemTime {
        let lifetime = self.not_after.duration_since(self.not_before).unwrap_or_default();
        let margin = renew_before.min(lifetime / 3);
        self.not_after.checked_sub(margin).unwrap_or(self.not_before)
    }
}

/// The certificate cache: `certificate.pem` and `key.pem` (0600) in one directory.
#[derive(Debug, Clone)]
pub struct CertificateCache {
    dir: PathBuf,
}

impl CertificateCache {
    /// The cache in `dir`.
    pub fn new(dir: &Path) -> Self {
        CertificateCache { dir: dir.to_owned() }
    }

    /// The cached certificate, if there is one that covers `domains` and has not expired.
    pub fn load(&self, domains: &[String]) -> Option<Certificate> {
        let chain = store::read_optional(&self.dir.join("certificate.pem")).ok()??;
        let key = store::read_optional(&self.dir.join("key.pem")).ok()??;
        match Certificate::from_pem(&chain, &key) {
            Ok(cert) if cert.covers(domains) && cert.not_after > SystemTime::now() => Some(cert),
            Ok(_) => None,
            Err(err) => {
                tracing::warn!(error = %err, "ignoring the cached ACME certificate");
                None
            }
        }
    }

    /// Keeps `issued` (the key first, so a chain on disk always has its key).
    fn save(&self, issued: &IssuedPem) -> Result<(), store::StoreError> {
        store::write_private(&self.dir.join("key.pem"), issued.key.as_bytes())?;
        store::write_private(&self.dir.join("certificate.pem"), issued.chain.as_bytes())
    }
}

/// Renews the live certificate whenever due until `shutdown`, starting from `current`
/// (the cached certificate, already live) or ordering one at once when there is none.
pub async fn maintain(
    issuer: AcmeIssuer,
    cache: CertificateCache,
    live: Arc<LiveCertificate>,
    mut current: Option<Certificate>,
    renew_before: Duration,
    shutdown: CancellationToken,
) {
    let mut failures = 0u32;
    loop {
        let due = current.as_ref().map_or(SystemTime::now(), |c| c.renew_at(renew_before));
        let wait = match failures {
            0 => due.duration_since(SystemTime::now()).unwrap_or_default(),
            n => (RETRY_FIRST * 2u32.saturating_pow(n - 1)).min(RETRY_MAX),
        };
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        let renewed = tokio::select! {
            _ = shutdown.cancelled() => return,
            renewed = renew(&issuer, &cache) => renewed,
        };
        match renewed {
            Ok(certificate) => {
                failures = 0;
                publish_expiry(&certificate);
                tracing::info!(
                    names = ?certificate.names,
                    expires = %humantime::format_rfc3339_seconds(certificate.not_after),
                    "serving a new ACME certificate"
                );
                live.replace(certificate.key.clone());
                current = Some(certificate);
            }
            Err(err) => {
                failures = failures.saturating_add(1);
                tracing::warn!(error = %err, failures, "could not obtain an ACME certificate; will retry");
            }
        }
    }
}

async fn renew(issuer: &AcmeIssuer, cache: &CertificateCache) -> Result<Certificate, TlsError> {
    let issued = issuer.issue().await.map_err(|e| TlsError::Certificate(e.to_string()))?;
    let certificate = Certificate::from_pem(issued.chain.as_bytes(), issued.key.as_bytes())?;
    cache.save(&issued).map_err(|e| TlsError::Certificate(e.to_string()))?;
    Ok(certificate)
}

/// The served certificate's expiry (unix seconds; 0 before one is served).
static EXPIRY: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Sets `orama_tls_certificate_expiry_seconds` (unix time) for alerting on failed renewals,
/// and what [`certificate_expiry`] answers.
pub fn publish_expiry(certificate: &Certificate) {
    let expiry = certificate.not_after.duration_since(UNIX_EPOCH).unwrap_or_default();
    metrics::gauge!("orama_tls_certificate_expiry_seconds").set(expiry.as_secs_f64());
    EXPIRY.store(expiry.as_secs(), std::sync::atomic::Ordering::Relaxed);
}

/// When the served certificate expires; none while none is served.
pub fn certificate_expiry() -> Option<SystemTime> {
    match EXPIRY.load(std::sync::atomic::Ordering::Relaxed) {
        0 => None,
        secs => Some(UNIX_EPOCH + Duration::from_secs(secs)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn certificate(not_before: u64, not_after: u64) -> Certificate {
        let generated = rcgen::generate_simple_self_signed(vec!["a.example".into()]).expect("generate");
        let mut cert =
            Certificate::from_pem(generated.cert.pem().as_bytes(), generated.signing_key.serialize_pem().as_bytes())
                .expect("parse");
        cert.not_before = UNIX_EPOCH + Duration::from_secs(not_before);
        cert.not_after = UNIX_EPOCH + Duration::from_secs(not_after);
        cert
    }

    #[test]
    fn renewal_is_due_at_the_margin_but_not_before_two_thirds_of_the_lifetime() {
        const DAY: u64 = 86_400;
        let at = |s: u64| UNIX_EPOCH + Duration::from_secs(s);
        let ninety_days = certificate(0, 90 * DAY);
        assert_eq!(ninety_days.renew_at(Duration::from_secs(30 * DAY)), at(60 * DAY));
        assert_eq!(ninety_days.renew_at(Duration::from_secs(10 * DAY)), at(80 * DAY));
        assert_eq!(ninety_days.renew_at(Duration::from_secs(45 * DAY)), at(60 * DAY));
        let short = certificate(1_000, 1_030);
        assert_eq!(short.renew_at(Duration::from_secs(30 * DAY)), at(1_020));
        assert_eq!(short.renew_at(Duration::from_secs(1)), at(1_029));
    }

    #[test]
    fn names_come_from_the_leaf_and_coverage_ignores_case() {
        let cert = certificate(0, 1);
        assert_eq!(cert.names, ["a.example"]);
        assert!(cert.covers(&["A.Example".into()]));
        assert!(!cert.covers(&["a.example".into(), "b.example".into()]));
    }
}
