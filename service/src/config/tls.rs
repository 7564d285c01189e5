//! The `gateway.tls` section: where the public listener's certificate comes from (files, a
//! self-signed development certificate, or an ACME CA) and how it is read from the YAML tree.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use super::durations::{HOUR, MS, humantime_serde};
use super::read::{Field, Problems};

const DAY: Duration = Duration::from_secs(24 * 3600);

/// Let's Encrypt's production directory, the default ACME CA.
pub const LETS_ENCRYPT_DIRECTORY: &str = "https://acme-v02.api.letsencrypt.org/directory";

/// Where the public listener's certificate comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsMode {
    /// Plain HTTP.
    #[default]
    Off,
    /// PEM certificate chain and key files.
    Files,
    /// A self-signed certificate for `domains`, generated once and kept in the data dir (dev).
    SelfSigned,
    /// A certificate for `domains` issued by an ACME CA (HTTP-01 on `http_listen`), cached in
    /// the data dir and renewed ahead of expiry while serving.
    Acme,
}

/// The `gateway.tls` section.
#[derive(Debug, Clone, Serialize)]
pub struct TlsConfig {
    /// Certificate source.
    pub mode: TlsMode,
    /// PEM certificate chain (`files` mode).
    pub cert_file: Option<PathBuf>,
    /// PEM private key (`files` mode).
    pub key_file: Option<PathBuf>,
    /// Names the certificate covers (`self_signed` and `acme` modes).
    pub domains: Vec<String>,
    /// A plain-HTTP listener that redirects to HTTPS (usually `0.0.0.0:80`) and answers ACME
    /// HTTP-01 challenges; none by default, required by `acme`.
    pub http_listen: Option<SocketAddr>,
    /// Time a client gets to complete the TLS handshake.
    #[serde(with = "humantime_serde")]
    pub handshake_timeout: Duration,
    /// The ACME client (`acme` mode).
    pub acme: AcmeConfig,
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            mode: TlsMode::Off,
            cert_file: None,
            key_file: None,
            domains: vec!["localhost".into(), "127.0.0.1".into()],
            http_listen: None,
            handshake_timeout: Duration::from_secs(10),
            acme: AcmeConfig::default(),
        }
    }
}

/// The `gateway.tls.acme` section.
#[derive(Debug, Clone, Serialize)]
pub struct AcmeConfig {
    /// The CA's directory URL.
    pub directory_url: String,
    /// Account contacts (`mailto:` URLs).
    pub contact: Vec<String>,
    /// PEM root that the CA's own HTTPS is checked against, instead of the system roots
    /// (test CAs such as Pebble).
    pub ca_file: Option<PathBuf>,
    /// Renew when the certificate has this little time left; capped at a third of its lifetime
    /// so a short-lived certificate is not renewed over and over.
    #[serde(with = "humantime_serde")]
    pub renew_before: Duration,
}

impl Default for AcmeConfig {
    fn default() -> Self {
        AcmeConfig {
            directory_url: LETS_ENCRYPT_DIRECTORY.into(),
            contact: Vec::new(),
            ca_file: None,
            renew_before: 30 * DAY,
        }
    }
}

/// Reads the `gateway.tls` section.
pub(super) fn tls_section(f: &Field, p: &mut Problems) -> TlsConfig {
    let mut t = f.table(p);
    let mut tls = TlsConfig::default();
    if let Some(field) = t.take("mode") {
        tls.mode = match field.one_of(p, &["off", "files", "self_signed", "acme"]) {
            Some("files") => TlsMode::Files,
            Some("self_signed") => TlsMode::SelfSigned,
            Some("acme") => TlsMode::Acme,
            _ => TlsMode::Off,
        };
    }
    tls.cert_file = t.take("cert_file").and_then(|f| f.absolute_path(p));
    tls.key_file = t.take("key_file").and_then(|f| f.absolute_path(p));
    let domains = t.take("domains").and_then(|f| f.string_list(p));
    let domains_given = domains.is_some();
    if let Some(domains) = domains {
        tls.domains = domains;
    }
    tls.http_listen = t.take("http_listen").and_then(|f| f.socket_addr(p));
    if let Some(d) = t.take("handshake_timeout").and_then(|f| f.duration_in(p, 10 * MS, HOUR)) {
        tls.handshake_timeout = d;
    }
    if let Some(f) = t.take("acme") {
        tls.acme = acme_section(&f, p);
    }
    t.finish(p);
    let problem = |p: &mut Problems, message: &str| p.add(&f.path, f.node.line, message);
    match tls.mode {
        TlsMode::Files if tls.cert_file.is_none() || tls.key_file.is_none() => {
            problem(p, "mode files needs cert_file and key_file");
        }
        TlsMode::SelfSigned if tls.domains.is_empty() => problem(p, "mode self_signed needs at least one domain"),
        TlsMode::Acme if !domains_given || tls.domains.is_empty() => {
            problem(p, "mode acme needs the domains the certificate is for");
        }
        TlsMode::Acme if tls.domains.iter().any(|d| !is_dns_name(d)) => {
            problem(p, "mode acme needs DNS names in domains (no addresses, wildcards or localhost)");
        }
        TlsMode::Acme if tls.http_listen.is_none() => {
            problem(p, "mode acme needs http_listen (HTTP-01 challenges are answered there, usually on port 80)");
        }
        _ => {}
    }
    tls
}

fn acme_section(f: &Field, p: &mut Problems) -> AcmeConfig {
    let mut t = f.table(p);
    let mut acme = AcmeConfig::default();
    if let Some(field) = t.take("directory_url")
        && let Some(url) = field.non_empty_string(p)
    {
        if url.starts_with("https://") {
            acme.directory_url = url;
        } else {
            field.problem(p, "must be an https:// URL");
        }
    }
    if let Some(contact) = t.take("contact").and_then(|f| f.string_list(p)) {
        acme.contact = contact;
    }
    acme.ca_file = t.take("ca_file").and_then(|f| f.absolute_path(p));
    if let Some(d) = t.take("renew_before").and_then(|f| f.duration_in(p, Duration::from_secs(1), 365 * DAY)) {
        acme.renew_before = d;
    }
    t.finish(p);
    acme
}

/// A name an ACME CA can validate over HTTP-01: dotted labels of letters, digits and hyphens.
fn is_dns_name(name: &str) -> bool {
    let labels_ok = name.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    });
    labels_ok && name.contains('.') && name.len() <= 253 && name.parse::<std::net::IpAddr>().is_err()
}
