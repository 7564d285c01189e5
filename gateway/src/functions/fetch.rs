//! `http_fetch` for functions, under the egress rules of [`orama_service::egress`]: the name is
//! resolved by our own resolver, which refuses the whole request when any address it finds is
//! not allowed, and hands the HTTP client only the addresses it checked (so the connection
//! goes where the check looked, and a DNS answer cannot change in between); literal addresses
//! are checked before sending; redirects are followed by hand, each target checked again. No
//! proxy from the environment is used. TLS is verified against the system roots. Bodies and
//! time are bounded; the answer is the reference's `{"status", "headers", "body"}`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use futures_util::StreamExt;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::{Method, Url};
use serde::Deserialize;
use serde_json::{Value, json};

use orama_service::egress::EgressPolicy;

/// Largest request body a function may send.
const MAX_REQUEST: usize = 10 * 1024 * 1024;

/// A function's request, as the runner forwards it.
#[derive(Debug, Clone, Deserialize)]
pub struct FetchRequest {
    /// HTTP method (default GET).
    #[serde(default)]
    pub method: String,
    /// Target URL.
    pub url: String,
    /// Request headers.
    #[serde(default)]
    pub headers: Option<BTreeMap<String, String>>,
    /// Body, base64.
    #[serde(default)]
    pub body: String,
}

/// The egress client.
#[derive(Clone, Debug)]
pub struct Fetcher {
    client: reqwest::Client,
    policy: Arc<EgressPolicy>,
    max_response: usize,
    max_redirects: u32,
}

/// Resolves names and refuses those that lead anywhere but allowed addresses.
#[derive(Debug)]
struct CheckedResolver {
    policy: Arc<EgressPolicy>,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if found.is_empty() {
                return Err(format!("{host} has no address").into());
            }
            if let Some((addr, why)) = found.iter().find_map(|a| policy.refusal(a.ip()).map(|why| (a, why))) {
                return Err(format!("{host} resolves to {} ({why}), which functions may not reach", addr.ip()).into());
            }
            Ok(Box::new(found.into_iter()) as Addrs)
        })
    }
}

impl Fetcher {
    /// A client within `config`'s bounds.
    pub fn new(config: &orama_service::config::HttpFetchConfig) -> Result<Fetcher, String> {
        let policy = Arc::new(EgressPolicy { allow: config.allow_networks.clone() });
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(CheckedResolver { policy: policy.clone() })
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("orama-functions/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| e.to_string())?;
        let max_response = usize::try_from(config.max_response).unwrap_or(usize::MAX);
        Ok(Fetcher { client, policy, max_response, max_redirects: config.max_redirects })
    }

    /// Performs `request`: the reference's answer object, or `{"error", "status": 0}`.
    pub async fn fetch(&self, request: FetchRequest) -> Value {
        match self.try_fetch(request).await {
            Ok(answer) => answer,
            Err(error) => json!({ "error": error, "status": 0 }),
        }
    }

    async fn try_fetch(&self, request: FetchRequest) -> Result<Value, String> {
        let mut method = parse_method(&request.method)?;
        let mut url = Url::parse(&request.url).map_err(|e| format!("invalid URL {:?}: {e}", request.url))?;
        let mut body =
            base64::engine::general_purpose::STANDARD.decode(&request.body).map_err(|_| "body must be base64")?;
        if body.len() > MAX_REQUEST {
            return Err(format!("request body larger than {MAX_REQUEST} bytes"));
        }
        let headers = request.headers.unwrap_or_default();
        let origin = url.origin();
        for hop in 0..=self.max_redirects {
            self.check(&url)?;
            let mut builder = self.client.request(method.clone(), url.clone());
            for (name, value) in &headers {
                let cross_origin = url.origin() != origin;
                if cross_origin && (name.eq_ignore_ascii_case("authorization") || name.eq_ignore_ascii_case("cookie")) {
                    continue;
                }
                builder = builder.header(name.as_str(), value.as_str());
            }
            if !body.is_empty() {
                builder = builder.body(body.clone());
            }
            let response = builder.send().await.map_err(|e| describe(&e))?;
            let status = response.status();
            let location = response.headers().get(reqwest::header::LOCATION).and_then(|l| l.to_str().ok());
            if let (true, Some(location)) = (status.is_redirection(), location) {
                if hop == self.max_redirects {
                    return Err(format!("more than {} redirects", self.max_redirects));
                }
                url = url.join(location).map_err(|e| format!("bad redirect to {location:?}: {e}"))?;
                if status == 303 || ((status == 301 || status == 302) && method == Method::POST) {
                    (method, body) = (Method::GET, Vec::new());
                }
                continue;
            }
            return self.answer(response).await;
        }
        Err(format!("more than {} redirects", self.max_redirects))
    }

    /// Refuses other schemes and literal addresses outside the policy (names are checked as
    /// they are resolved).
    fn check(&self, url: &Url) -> Result<(), String> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("scheme {:?} is not allowed (http and https only)", url.scheme()));
        }
        let ip = match url.host() {
            Some(url::Host::Ipv4(ip)) => std::net::IpAddr::V4(ip),
            Some(url::Host::Ipv6(ip)) => std::net::IpAddr::V6(ip),
            Some(url::Host::Domain(_)) => return Ok(()),
            None => return Err("the URL has no host".into()),
        };
        match self.policy.refusal(ip) {
            Some(why) => Err(format!("{ip} is {why}, which functions may not reach")),
            None => Ok(()),
        }
    }

    async fn answer(&self, response: reqwest::Response) -> Result<Value, String> {
        let status = response.status().as_u16();
        let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (name, value) in response.headers() {
            headers.entry(name.as_str().to_owned()).or_default().push(String::from_utf8_lossy(value.as_bytes()).into());
        }
        let mut stream = response.bytes_stream();
        let mut body = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| describe(&e))?;
            if body.len() + chunk.len() > self.max_response {
                return Err(format!("response larger than {} bytes", self.max_response));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(json!({ "status": status, "headers": headers, "body": String::from_utf8_lossy(&body) }))
    }
}

fn parse_method(text: &str) -> Result<Method, String> {
    if text.is_empty() {
        return Ok(Method::GET);
    }
    Method::from_bytes(text.to_ascii_uppercase().as_bytes()).map_err(|_| format!("invalid method {text:?}"))
}

/// The error with its causes (reqwest's own message hides the resolver's refusal).
fn describe(err: &reqwest::Error) -> String {
    let mut message = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}
