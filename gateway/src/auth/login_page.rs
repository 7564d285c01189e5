//! `GET /v1/auth/login?callback=<url>`: the browser sign-in page of the reference's CLI flow.
//! The page asks an Ethereum wallet (`window.ethereum`) for its address, gets a challenge,
//! has the wallet `personal_sign` the nonce, exchanges the signature for an API key at
//! `/v1/auth/api-key` and sends the browser to `<callback>?api_key=…&namespace=…&wallet=…&plan=…`.
//!
//! The reference pastes `callback` into inline JavaScript unescaped (reflected XSS) and accepts
//! any callback (an open redirect that carries the new key away). Here the callback must be an
//! `http(s)` URL on a loopback host (the CLI listens on localhost), it reaches the page only as
//! an HTML-escaped `<meta>` attribute, and a Content-Security-Policy allows nothing but the
//! page's own script and style (by hash) and requests to this origin.

use std::net::IpAddr;
use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::Uri;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::Response;

use crate::http::error::ApiError;

const SCRIPT: &str = r#"
const meta = (name) => document.querySelector(`meta[name="${name}"]`).content;
const say = (text) => { document.getElementById("status").textContent = text; };
async function post(path, body) {
  const response = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  const reply = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(reply.error || response.statusText);
  return reply;
}
async function signIn() {
  const callback = new URL(meta("orama-callback"));
  const namespace = meta("orama-namespace");
  if (!window.ethereum) throw new Error("no Ethereum wallet in this browser");
  const [wallet] = await window.ethereum.request({ method: "eth_requestAccounts" });
  say("Getting a challenge…");
  const challenge = await post("/v1/auth/challenge", { wallet, namespace, purpose: "api_key_generation" });
  say("Sign the message in your wallet…");
  const signature = await window.ethereum.request({ method: "personal_sign", params: [challenge.nonce, wallet] });
  const key = await post("/v1/auth/api-key", { wallet, namespace, nonce: challenge.nonce, signature, chain_type: "ETH" });
  for (const name of ["api_key", "namespace", "wallet", "plan"]) callback.searchParams.set(name, key[name] ?? "");
  say("Signed in; returning to the application…");
  window.location.assign(callback.toString());
}
document.getElementById("connect").addEventListener("click", () => signIn().catch((e) => say("Sign-in failed: " + e.message)));
"#;

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem}\
button{font-size:1.1rem;padding:.6rem 1.2rem}#status{margin-top:1rem;color:#444}";

/// `Content-Security-Policy` for the page: its own script and style by hash, fetches to this
/// origin, nothing else (no frames, forms, plugins or base changes).
static POLICY: LazyLock<String> = LazyLock::new(|| {
    let hash = |text: &str| STANDARD.encode(Sha256::digest(text.as_bytes()));
    format!(
        "default-src 'none'; script-src 'sha256-{}'; style-src 'sha256-{}'; connect-src 'self'; \
         base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        hash(SCRIPT),
        hash(STYLE)
    )
});

#[derive(Debug, Deserialize)]
struct LoginQuery {
    callback: Option<String>,
    #[serde(default)]
    namespace: String,
}

/// The route (public: it only serves the page; the API calls it makes are checked as usual).
pub fn route() -> BoxedFilter<(Response,)> {
    warp::path!("v1" / "auth" / "login")
        .and(warp::get())
        .and(warp::query::<LoginQuery>())
        .and_then(|query: LoginQuery| async move { page(query).map_err(warp::reject::custom) })
        .boxed()
}

fn page(query: LoginQuery) -> Result<Response, ApiError> {
    let callback = query.callback.filter(|c| !c.is_empty());
    let callback = callback.ok_or_else(|| ApiError::BadRequest("callback parameter is required".into()))?;
    if !is_loopback_callback(&callback) {
        return Err(ApiError::BadRequest("callback must be an http(s) URL on localhost or a loopback address".into()));
    }
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"orama-callback\" content=\"{}\"><meta name=\"orama-namespace\" content=\"{}\">\
         <title>Sign in to Orama</title><style>{STYLE}</style></head><body>\
         <h1>Sign in to Orama</h1><p>Connect your Ethereum wallet and sign a one-time message to get an API \
         key{}.</p><button id=\"connect\">Connect wallet</button><p id=\"status\" role=\"status\"></p>\
         <script>{SCRIPT}</script></body></html>\n",
        crate::http::wire::escape_html(&callback),
        crate::http::wire::escape_html(&query.namespace),
        if query.namespace.is_empty() {
            String::new()
        } else {
            format!(" for namespace <b>{}</b>", crate::http::wire::escape_html(&query.namespace))
        },
    );
    Ok(crate::http::wire::html_page(http::StatusCode::OK, html, &POLICY))
}

/// Whether `callback` is an absolute `http`/`https` URL without credentials whose host is
/// `localhost` or a loopback address.
pub fn is_loopback_callback(callback: &str) -> bool {
    let Ok(uri) = callback.parse::<Uri>() else { return false };
    let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
    let Some(authority) = uri.authority() else { return false };
    if !scheme_ok || authority.as_str().contains('@') {
        return false;
    }
    let host = authority.host();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_http_callbacks_are_accepted() {
        for good in
            ["http://localhost:8765/callback", "http://127.0.0.1:9/cb?x=1", "https://[::1]:4000/", "http://LOCALHOST/"]
        {
            assert!(is_loopback_callback(good), "{good}");
        }
        for bad in [
            "https://evil.example/cb",
            "http://localhost.evil.example/",
            "http://user@localhost/",
            "javascript:alert(1)",
            "//localhost/cb",
            "ftp://localhost/",
            "http://10.0.0.1/",
            "http://0x7f000001.evil/",
            "",
        ] {
            assert!(!is_loopback_callback(bad), "{bad}");
        }
    }

    #[test]
    fn html_metacharacters_are_escaped() {
        assert_eq!(
            crate::http::wire::escape_html(r#""><script>x</script>'&"#),
            "&quot;&gt;&lt;script&gt;x&lt;/script&gt;&#39;&amp;"
        );
    }
}
