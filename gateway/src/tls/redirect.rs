//! The plain-HTTP listener beside HTTPS: every request is redirected (301) to the same path on
//! HTTPS. The `Host` header is only echoed when it is a plain host name, so the redirect cannot
//! be pointed elsewhere by a crafted header.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Serves redirects on `listener` to `https://<host>[:https_port]`, until `shutdown`.
pub async fn serve(listener: TcpListener, https_port: u16, fallback_host: String, shutdown: CancellationToken) {
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
        let fallback = fallback_host.clone();
        let service = hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
            let response = redirect(&request, https_port, &fallback);
            async move { Ok::<_, Infallible>(response) }
        });
        let connection = builder.serve_connection(TokioIo::new(stream), service).into_owned();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(Duration::from_secs(30), connection).await;
        });
    }
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
}
