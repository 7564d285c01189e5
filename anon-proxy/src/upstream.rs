//! Where connections to targets come from: the SOCKS5 server of an Anyone/Tor client (the
//! default, found at the usual ports when not configured), or arti in process (cargo feature
//! `arti`). Each namespace gets its own isolation: distinct SOCKS5 credentials, which an
//! Anyone/Tor client (`IsolateSOCKSAuth`, on by default) never puts on a shared circuit; the
//! credentials are a keyed hash of the namespace, so the upstream never learns tenant names.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::dial::{BoxIo, DialError};
use crate::socks::{self, Credentials, SocksError};
use crate::target::TargetHost;

/// The usual SOCKS5 ports of an existing installation, in the order they are tried: the
/// Anyone (and Tor) client's `127.0.0.1:9050`, then Tor Browser's `127.0.0.1:9150`.
pub const USUAL_SOCKS: [&str; 2] = ["127.0.0.1:9050", "127.0.0.1:9150"];
/// The usual control port, followed when the SOCKS server was found rather than configured
/// and none of [`USUAL_CONTROL_SOCKETS`] exists.
pub const USUAL_CONTROL: &str = "127.0.0.1:9051";
/// The control sockets packaged clients create (the Anyone `anon` package, Debian's tor).
pub const USUAL_CONTROL_SOCKETS: [&str; 2] = ["/run/anon/control", "/run/tor/control"];

/// The SOCKS5 upstream.
#[derive(Debug)]
pub struct SocksUpstream {
    server: RwLock<SocketAddr>,
    candidates: Vec<SocketAddr>,
    fixed: Option<Credentials>,
    isolation_key: Option<[u8; 32]>,
}

impl SocksUpstream {
    /// An upstream at `configured`, or found among `candidates` (the first is assumed until
    /// one answers); `fixed` credentials, or per-namespace ones when `isolate`.
    pub fn new(
        configured: Option<SocketAddr>,
        candidates: Vec<SocketAddr>,
        fixed: Option<Credentials>,
        isolate: bool,
    ) -> SocksUpstream {
        let candidates = match configured {
            Some(addr) => vec![addr],
            None => candidates,
        };
        let first = candidates.first().copied().unwrap_or(SocketAddr::from(([127, 0, 0, 1], 9050)));
        let isolation_key = (isolate && fixed.is_none()).then(random_key);
        SocksUpstream { server: RwLock::new(first), candidates, fixed, isolation_key }
    }

    /// The SOCKS5 server in use.
    pub fn server(&self) -> SocketAddr {
        *self.server.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether namespaces get distinct credentials.
    pub fn isolates(&self) -> bool {
        self.isolation_key.is_some()
    }

    /// The credentials `namespace`'s connections use.
    pub fn credentials(&self, namespace: &str) -> Option<Credentials> {
        if let Some(fixed) = &self.fixed {
            return Some(fixed.clone());
        }
        let key = self.isolation_key?;
        let digest = Sha256::new().chain_update(key).chain_update(namespace.as_bytes()).finalize();
        let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
        Some(Credentials { username: format!("orama-{hex}"), password: "orama".into() })
    }

    /// Checks the server in use answers; when it does not and there are other candidates,
    /// moves to the first that does. The error is about the server in use.
    pub async fn check(&self) -> Result<SocketAddr, SocksError> {
        let current = self.server();
        let credentials = self.credentials("");
        let outcome = socks::probe(current, credentials.as_ref()).await;
        if outcome.is_ok() || self.candidates.len() < 2 {
            return outcome.map(|()| current);
        }
        for candidate in self.candidates.iter().copied().filter(|c| *c != current) {
            let quick = tokio::time::timeout(Duration::from_millis(500), socks::probe(candidate, credentials.as_ref()));
            if let Ok(Ok(())) = quick.await {
                tracing::info!(socks = %candidate, "found a SOCKS5 server at a usual port");
                *self.server.write().unwrap_or_else(|e| e.into_inner()) = candidate;
                return Ok(candidate);
            }
        }
        outcome.map(|()| current)
    }

    /// A connection to `host`:`port` for `namespace`.
    pub async fn dial(&self, namespace: &str, host: &TargetHost, port: u16) -> Result<BoxIo, DialError> {
        let server = self.server();
        let credentials = self.credentials(namespace);
        match socks::connect(server, credentials.as_ref(), host, port).await {
            Ok(stream) => Ok(Box::new(stream)),
            Err(err @ (SocksError::Unreachable { .. } | SocksError::Auth(_) | SocksError::Protocol(_))) => {
                Err(DialError::Unavailable { addr: server.to_string(), reason: err.to_string() })
            }
            Err(err @ SocksError::Connect(_)) => Err(DialError::Failed(err.to_string())),
        }
    }
}

fn random_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    if getrandom::fill(&mut key).is_err() {
        // Without the OS's randomness the key is still distinct per process start.
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        key = Sha256::digest(format!("{}-{nanos:?}", std::process::id())).into();
    }
    key
}

/// Where connections come from.
#[derive(Debug, Clone)]
pub enum Upstream {
    /// A SOCKS5 server.
    Socks(Arc<SocksUpstream>),
    /// arti in process.
    #[cfg(feature = "arti")]
    Arti(Arc<crate::arti::ArtiUpstream>),
}

impl Upstream {
    /// A connection to `host`:`port` for `namespace`.
    pub async fn dial(&self, namespace: &str, host: &TargetHost, port: u16) -> Result<BoxIo, DialError> {
        match self {
            Upstream::Socks(socks) => socks.dial(namespace, host, port).await,
            #[cfg(feature = "arti")]
            Upstream::Arti(arti) => arti.dial(namespace, host, port).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_get_distinct_stable_credentials_unless_fixed() {
        let isolated = SocksUpstream::new(None, vec![], None, true);
        let a = isolated.credentials("alpha").expect("isolated");
        assert_eq!(Some(&a), isolated.credentials("alpha").as_ref());
        assert_ne!(Some(a.clone()), isolated.credentials("beta"));
        assert!(!a.username.contains("alpha"), "the upstream must not learn namespace names");
        let other_process = SocksUpstream::new(None, vec![], None, true);
        assert_ne!(Some(a), other_process.credentials("alpha"), "keys differ per process");
        let fixed = Credentials { username: "alice".into(), password: "secret".into() };
        let shared = SocksUpstream::new(None, vec![], Some(fixed.clone()), true);
        assert_eq!(shared.credentials("alpha"), Some(fixed.clone()));
        assert_eq!(shared.credentials("beta"), Some(fixed));
        assert!(!shared.isolates());
        assert_eq!(SocksUpstream::new(None, vec![], None, false).credentials("alpha"), None);
    }
}
