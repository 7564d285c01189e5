//! Which URLs an anonymous request may go to. The proxy never resolves a name (the exit does,
//! so no DNS query leaves this machine), so what can be checked here is the URL itself:
//! http or https only; a literal address in any spelling the WHATWG parser accepts (decimal
//! `2130706433`, octal `0177.0.0.1`, hex `0x7f.1`, short `127.1`, bracketed IPv6 and its
//! IPv4-mapped forms) judged by [`orama_service::egress`]; and names that only a local
//! resolver answers (`localhost` and `*.localhost`, `ip6-localhost`, `*.local`,
//! `*.internal`, `*.home.arpa`, names without a dot) refused. A name that public DNS points
//! at a private address is the exit's to refuse (Anyone/Tor exits reject private targets).

use std::net::IpAddr;

use orama_service::egress::EgressPolicy;
use url::{Host, Url};

/// A checked destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The whole URL (normalised: literal addresses in their canonical form).
    pub url: Url,
    /// `true` for https.
    pub tls: bool,
    /// The host as the exit should see it: a name, or a literal address.
    pub host: TargetHost,
    /// The port (the scheme's default when the URL has none).
    pub port: u16,
}

/// The host part of a [`Target`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TargetHost {
    /// A DNS name (or `.onion`), resolved by the exit.
    Name(String),
    /// A literal address.
    Ip(IpAddr),
}

impl std::fmt::Display for TargetHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TargetHost::Name(name) => f.write_str(name),
            TargetHost::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

/// Why a URL may not be requested.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// Not a URL.
    #[error("invalid URL: {0}")]
    Invalid(String),
    /// Not http or https.
    #[error("only http/https schemes are allowed")]
    Scheme,
    /// A local or private destination.
    #[error("requests to private/local addresses are not allowed: {host} is {why}")]
    Private {
        /// The host as written after normalisation.
        host: String,
        /// What kind of address or name it is.
        why: &'static str,
    },
}

/// Parses and checks `text` under `policy`.
pub fn check_url(text: &str, policy: &EgressPolicy) -> Result<Target, TargetError> {
    let url = Url::parse(text.trim()).map_err(|e| TargetError::Invalid(e.to_string()))?;
    check(url, policy)
}

/// Checks an already parsed URL (a redirect's target) under `policy`.
pub fn check(url: Url, policy: &EgressPolicy) -> Result<Target, TargetError> {
    let tls = match url.scheme() {
        "http" => false,
        "https" => true,
        _ => return Err(TargetError::Scheme),
    };
    let host = match url.host() {
        None => return Err(TargetError::Invalid("the URL has no host".into())),
        Some(Host::Ipv4(ip)) => TargetHost::Ip(IpAddr::V4(ip)),
        Some(Host::Ipv6(ip)) => TargetHost::Ip(ip.to_canonical()),
        Some(Host::Domain(name)) => TargetHost::Name(name.trim_end_matches('.').to_ascii_lowercase()),
    };
    let refusal = match &host {
        TargetHost::Ip(ip) => policy.refusal(*ip),
        TargetHost::Name(name) => local_name(name),
    };
    if let Some(why) = refusal {
        return Err(TargetError::Private { host: host.to_string(), why });
    }
    let port = url.port_or_known_default().unwrap_or(if tls { 443 } else { 80 });
    Ok(Target { url, tls, host, port })
}

/// What kind of locally answered name `name` (lower case, no trailing dot) is, if it is one.
fn local_name(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("an empty name");
    }
    if name == "localhost" || name.ends_with(".localhost") || name.starts_with("ip6-") && !name.contains('.') {
        return Some("a loopback name");
    }
    const LOCAL_SUFFIXES: [&str; 4] = [".local", ".internal", ".home.arpa", ".lan"];
    if LOCAL_SUFFIXES.iter().any(|suffix| name.ends_with(suffix) || name == &suffix[1..]) {
        return Some("a local-network name");
    }
    if !name.contains('.') {
        return Some("a name without a dot (resolved by a local search path)");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(url: &str) -> bool {
        matches!(check_url(url, &EgressPolicy::default()), Err(TargetError::Private { .. }))
    }

    #[test]
    fn every_spelling_of_a_local_address_is_refused() {
        for url in [
            "http://127.0.0.1/",
            "http://2130706433/",
            "http://0x7f000001/",
            "http://0177.0.0.1/",
            "http://0x7f.1/",
            "http://127.1/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:7f00:1]/",
            "http://[0:0:0:0:0:ffff:a9fe:a9fe]/",
            "http://169.254.169.254/latest/meta-data/",
            "http://10.0.0.1/",
            "http://172.16.5.4:8080/",
            "http://192.168.1.1/",
            "http://100.64.0.1/",
            "http://0.0.0.0/",
            "http://[fd00::1]/",
            "http://[fe80::1]/",
            "http://localhost/",
            "http://LOCALHOST./",
            "http://api.localhost/",
            "http://ip6-localhost/",
            "http://printer.local/",
            "http://metadata.google.internal/",
            "http://router/",
        ] {
            assert!(refused(url), "{url} must be refused");
        }
    }

    #[test]
    fn public_targets_pass_and_keep_their_names() {
        let target = check_url("https://Example.COM./a?b=c", &EgressPolicy::default()).expect("public");
        assert_eq!((target.host, target.port, target.tls), (TargetHost::Name("example.com".into()), 443, true));
        let onion = check_url("http://abcdefghijklmnop.onion:8080/", &EgressPolicy::default()).expect("onion");
        assert_eq!(onion.port, 8080);
        let ip = check_url("http://8.8.8.8/", &EgressPolicy::default()).expect("public address");
        assert_eq!(ip.host, TargetHost::Ip("8.8.8.8".parse().expect("ip")));
    }

    #[test]
    fn other_schemes_and_garbage_are_refused() {
        let policy = EgressPolicy::default();
        assert_eq!(check_url("ftp://example.com/", &policy), Err(TargetError::Scheme));
        assert_eq!(check_url("file:///etc/passwd", &policy), Err(TargetError::Scheme));
        assert_eq!(check_url("gopher://example.com/", &policy), Err(TargetError::Scheme));
        assert!(matches!(check_url("not a url", &policy), Err(TargetError::Invalid(_))));
        assert!(matches!(check_url("http://", &policy), Err(TargetError::Invalid(_))));
    }

    #[test]
    fn allowed_networks_open_only_themselves() {
        let policy = EgressPolicy { allow: vec!["127.0.0.2/32".parse().expect("net")] };
        assert!(check_url("http://127.0.0.2:9/", &policy).is_ok());
        assert!(matches!(check_url("http://127.0.0.1:9/", &policy), Err(TargetError::Private { .. })));
        assert!(matches!(check_url("http://localhost:9/", &policy), Err(TargetError::Private { .. })));
    }
}
