//! The plain-HTTP listener beside HTTPS: pending ACME HTTP-01 challenges are answered at
//! `/.well-known/acme-challenge/<token>`; every other request is redirected (301) to the same
//! path on HTTPS. The `Host` header is only echoed when it is a plain host name, so the redirect
//! cannot be pointed elsewhere by a crafted header.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::acme::Http01Challenges;

const CHALLENGE_PREFIX: &str = "/.well-known/acme-challenge/";

/// What the plain-HTTP listener answers.
#[derive(Debug, Clone)]
pub struct Redirect {
    /// The HTTPS port redirected to.
    pub https_port: u16,
    /// The host redirected to when the request's `Host` is missing or unusable.
    pub fallback_host: String,
    /// Pending ACME challenges.
    pub challenges: Http01Challenges,
}

/// Serves `redirect` on `listener` until `shutdown`.
pub async fn serve(listener: TcpListener, redirect: Redirect, shutdown: CancellationToken) {
    let mut builder = Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(Duration::from_secs(10));
    loop {
        let stream = tokio::select! {
            _ = shutdown.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let redirect = redirect.clone();
        let service = hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
            let response = redirect.answer(&request);
            async move { Ok::<_, Infallible>(response) }
        });
        let connection = builder.serve_connection(TokioIo::new(stream), service).into_owned();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(Duration::from_secs(30), connection).await;
        });
    }
}

impl Redirect {
    /// The challenge answer or the redirect for `request`.
    pub fn answer<B>(&self, request: &Request<B>) -> Response<Full<Bytes>> {
        match request.uri().path().strip_prefix(CHALLENGE_PREFIX) {
            Some(token) => challenge_answer(self.challenges.answer(token)),
            None => redirect(request, self.https_port, &self.fallback_host),
        }
    }
}

/// The key authorization as `text/plain`, or 404 when no such challenge is pending.
fn challenge_answer(key_authorization: Option<String>) -> Response<Full<Bytes>> {
    let (status, body, content_type) = match key_authorization {
        Some(answer) => (StatusCode::OK, Bytes::from(answer), "text/plain"),
        None => (StatusCode::NOT_FOUND, Bytes::from_static(b"{\"error\":\"no such challenge\"}\n"), "application/json"),
    };
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static(content_type));
    response
}

/// The redirect for `request`.
pub fn redirect<B>(request: &Request<B>, https_port: u16, fallback_host: &str) -> Response<Full<Bytes>> {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(|h| {
            h.rsplit_once(':').map_or(h, |(name, port)| if port.chars().all(|c| c.is_ascii_digit()) { name } else { h })
        })
        .filter(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'))
        .unwrap_or(fallback_host);
    let port = if https_port == 443 { String::new() } else { format!(":{https_port}") };
    let target = request.uri().path_and_query().map_or("/", |p| p.as_str());
    let location = format!("https://{host}{port}{target}");
    let mut response = Response::new(Full::new(Bytes::from_static(b"{\"error\":\"use https\"}\n")));
    *response.status_mut() = StatusCode::MOVED_PERMANENTLY;
    if let Ok(value) = header::HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/json"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn location(host: Option<&str>, path: &str, port: u16) -> String {
        let mut request = Request::builder().uri(path);
        if let Some(host) = host {
            request = request.header(header::HOST, host);
        }
        let response = redirect(&request.body(()).expect("request"), port, "node.example");
        assert_eq!(response.status(), StatusCode::MOVED_PERMANENTLY);
        response.headers()[header::LOCATION].to_str().expect("location").to_owned()
    }

    #[test]
    fn redirects_keep_the_path_and_refuse_crafted_hosts() {
        assert_eq!(location(Some("api.example:80"), "/v1/health?x=1", 443), "https://api.example/v1/health?x=1");
        assert_eq!(location(Some("api.example"), "/", 8443), "https://api.example:8443/");
        assert_eq!(location(Some("evil.example/@x"), "/a", 443), "https://node.example/a");
        assert_eq!(location(None, "/a", 443), "https://node.example/a");
    }

    #[test]
    fn pending_challenges_are_answered_and_nothing_else_is() {
        let challenges = Http01Challenges::default();
        challenges.insert("tok-1".into(), "tok-1.thumbprint".into());
        let redirect = Redirect { https_port: 443, fallback_host: "node.example".into(), challenges };
        let get = |path: &str| redirect.answer(&Request::builder().uri(path).body(()).expect("request"));
        let answered = get("/.well-known/acme-challenge/tok-1");
        assert_eq!(answered.status(), StatusCode::OK);
        assert_eq!(answered.headers()[header::CONTENT_TYPE], "text/plain");
        assert_eq!(get("/.well-known/acme-challenge/tok-2").status(), StatusCode::NOT_FOUND);
        assert_eq!(get("/.well-known/acme-challenge/").status(), StatusCode::NOT_FOUND);
        assert_eq!(get("/.well-known/other").status(), StatusCode::MOVED_PERMANENTLY);
    }
}
