//! How a [`crate::NetworkClient`] reaches the network: which gateways, with which credential,
//! how long it waits and how often it retries.

use std::time::Duration;

use url::Url;

use crate::error::{Error, Result};

/// The credential every authenticated request carries.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// An API key (`ak_…:namespace`), sent as `X-API-Key`.
    ApiKey(String),
    /// A JWT access token, sent as `Authorization: Bearer`; with a refresh token the client
    /// renews it before it expires.
    Jwt {
        /// The access token.
        access_token: String,
        /// The refresh token (it rotates: the client keeps the newest).
        refresh_token: Option<String>,
        /// The namespace the refresh token belongs to.
        namespace: String,
    },
}

impl std::fmt::Debug for Credential {
    // Secrets are never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::ApiKey(_) => f.write_str("ApiKey(…)"),
            Credential::Jwt { namespace, .. } => write!(f, "Jwt {{ namespace: {namespace:?}, .. }}"),
        }
    }
}

/// The client's settings. [`ClientConfig::new`] gives the defaults for one gateway.
///
/// ```
/// use std::time::Duration;
/// let config = orama_client::ClientConfig::new("http://127.0.0.1:6001")?
///     .api_key("ak_X32jj2fiin8zzv0hmBKTC5b5:demo")
///     .gateway("http://127.0.0.1:6002")?
///     .retries(5)
///     .timeout(Duration::from_secs(10));
/// assert_eq!(config.gateways.len(), 2);
/// # Ok::<(), orama_client::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The gateways, tried in turn: one node's URL, or a cluster's nodes.
    pub gateways: Vec<Url>,
    /// The credential, if any (public routes need none).
    pub credential: Option<Credential>,
    /// The longest a request may take, from sending to the end of its answer's head (default
    /// 30 s). Streams (downloads, subscriptions) are not cut by it once they started.
    pub timeout: Duration,
    /// The longest a connection may take to open (default 5 s).
    pub connect_timeout: Duration,
    /// How many times a request is tried again (default 3): idempotent requests on a transport
    /// error, 429, 502, 503 or 504; any request whose connection never opened.
    pub retries: u32,
    /// The first wait before a retry (default 100 ms); doubled each time, with jitter.
    pub backoff: Duration,
    /// The longest wait before a retry (default 5 s).
    pub max_backoff: Duration,
    /// PEM certificates trusted besides the system's roots: a dev node's self-signed one.
    pub extra_roots_pem: Vec<Vec<u8>>,
    /// The largest answer read into memory (default 256 MiB); downloads stream and are not
    /// bounded by it.
    pub max_response_bytes: usize,
}

impl ClientConfig {
    /// The defaults, for the gateway at `url` (`http://` or `https://`).
    pub fn new(url: &str) -> Result<ClientConfig> {
        Ok(ClientConfig {
            gateways: vec![parse_gateway(url)?],
            credential: None,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            retries: 3,
            backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            extra_roots_pem: Vec::new(),
            max_response_bytes: 256 << 20,
        })
    }

    /// Adds another gateway, tried when the ones before it fail.
    pub fn gateway(mut self, url: &str) -> Result<ClientConfig> {
        self.gateways.push(parse_gateway(url)?);
        Ok(self)
    }

    /// Authenticates with an API key.
    pub fn api_key(mut self, key: impl Into<String>) -> ClientConfig {
        self.credential = Some(Credential::ApiKey(key.into()));
        self
    }

    /// Authenticates with a JWT, renewed with `refresh_token` when given.
    pub fn jwt(
        mut self,
        access_token: impl Into<String>,
        refresh_token: Option<String>,
        namespace: &str,
    ) -> ClientConfig {
        let (access_token, namespace) = (access_token.into(), namespace.to_owned());
        self.credential = Some(Credential::Jwt { access_token, refresh_token, namespace });
        self
    }

    /// Sets the request timeout.
    pub fn timeout(mut self, timeout: Duration) -> ClientConfig {
        self.timeout = timeout;
        self
    }

    /// Sets how many times a request is retried.
    pub fn retries(mut self, retries: u32) -> ClientConfig {
        self.retries = retries;
        self
    }

    /// Trusts the PEM certificate(s) in `pem` besides the system's roots.
    pub fn trust_pem(mut self, pem: impl Into<Vec<u8>>) -> ClientConfig {
        self.extra_roots_pem.push(pem.into());
        self
    }
}

/// A gateway URL: http(s), with a host; a path is kept as the API's base.
fn parse_gateway(url: &str) -> Result<Url> {
    let mut parsed = Url::parse(url).map_err(|e| Error::Invalid(format!("gateway URL {url:?}: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return Err(Error::Invalid(format!("gateway URL {url:?}: expected http(s)://host[:port]")));
    }
    if !parsed.path().ends_with('/') {
        let path = format!("{}/", parsed.path());
        parsed.set_path(&path);
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateways_must_be_http_urls_and_keep_their_base_path() {
        assert!(ClientConfig::new("ftp://x").is_err());
        assert!(ClientConfig::new("not a url").is_err());
        let config = ClientConfig::new("https://node.example/orama").expect("valid");
        assert_eq!(
            config.gateways[0].join("v1/health").expect("join").as_str(),
            "https://node.example/orama/v1/health"
        );
    }

    #[test]
    fn credentials_are_not_printed() {
        let config = ClientConfig::new("http://127.0.0.1:1").expect("valid").api_key("ak_secret:demo");
        assert!(!format!("{config:?}").contains("secret"));
    }
}
