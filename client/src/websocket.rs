//! Opening a WebSocket to a gateway (pub/sub subscriptions, function sockets): TCP, TLS for
//! `https` gateways (the system's roots and the config's extra ones), then the upgrade with
//! the credential in a header.

use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use url::Url;

use crate::error::{Error, Result};
use crate::transport::Transport;

/// Any byte stream a socket runs over.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// An open socket.
pub(crate) type Socket = WebSocketStream<Box<dyn Io>>;

/// Why a connection attempt failed: worth retrying, or not.
pub(crate) enum Refused {
    /// The network, or the gateway busy or restarting.
    Transient(Error),
    /// The gateway said no for good (a bad credential, topic or request).
    Permanent(Error),
}

/// Opens `path?query` on `gateway` as a WebSocket, with the client's credential: a JWT about
/// to expire is renewed first, and one refused (401) is renewed and tried once more.
pub(crate) async fn open(
    transport: &Transport,
    gateway: &Url,
    path: &str,
    query: &[(&str, String)],
) -> Result<Socket, Refused> {
    if transport.session.expiring() {
        transport.refresh().await.map_err(refusal)?;
    }
    match attempt(transport, gateway, path, query).await {
        Err(Refused::Permanent(error))
            if error.status() == Some(http::StatusCode::UNAUTHORIZED)
                && transport.session.refresh_token().is_some() =>
        {
            transport.refresh().await.map_err(refusal)?;
            attempt(transport, gateway, path, query).await
        }
        outcome => outcome,
    }
}

/// Opens `path?query` on the first gateway that takes it, in the config's order; the socket
/// and that gateway's index. A refusal for good ends the search; otherwise the last error.
pub(crate) async fn open_first(transport: &Transport, path: &str, query: &[(&str, String)]) -> Result<(Socket, usize)> {
    let mut last = None;
    for (index, gateway) in transport.config.gateways.iter().enumerate() {
        match open(transport, gateway, path, query).await {
            Ok(socket) => return Ok((socket, index)),
            Err(Refused::Permanent(error)) => return Err(error),
            Err(Refused::Transient(error)) => last = Some(error),
        }
    }
    Err(last.unwrap_or_else(|| Error::Invalid("no gateway".into())))
}

/// A failed renewal: for good when the gateway refused it, else worth trying again.
fn refusal(error: Error) -> Refused {
    match error.status() {
        Some(status) if status.is_client_error() && status != http::StatusCode::TOO_MANY_REQUESTS => {
            Refused::Permanent(error)
        }
        _ => Refused::Transient(error),
    }
}

/// One connection and handshake.
async fn attempt(
    transport: &Transport,
    gateway: &Url,
    path: &str,
    query: &[(&str, String)],
) -> Result<Socket, Refused> {
    let mut url = gateway.join(path).map_err(|e| Refused::Permanent(Error::Invalid(e.to_string())))?;
    url.query_pairs_mut().extend_pairs(query);
    let host = url.host_str().unwrap_or_default().to_owned();
    let port = url.port_or_known_default().unwrap_or(80);
    let connect = async {
        let tcp = TcpStream::connect((host.trim_start_matches('[').trim_end_matches(']'), port))
            .await
            .map_err(|e| transient(format!("connecting to {host}:{port}: {e}")))?;
        let _ = tcp.set_nodelay(true);
        Ok::<Box<dyn Io>, Refused>(match url.scheme() {
            "https" => Box::new(tls(transport, &host, tcp).await?),
            _ => Box::new(tcp),
        })
    };
    let io = tokio::time::timeout(transport.config.connect_timeout, connect)
        .await
        .map_err(|_| transient(format!("connecting to {host}:{port} timed out")))??;
    let scheme = if url.scheme() == "https" { "wss" } else { "ws" };
    let _ = url.set_scheme(scheme);
    let mut request =
        url.as_str().into_client_request().map_err(|e| Refused::Permanent(Error::WebSocket(e.to_string())))?;
    if let Some((name, value)) = transport.session.header() {
        request.headers_mut().insert(name, value);
    }
    let handshake = tokio_tungstenite::client_async(request, io);
    match tokio::time::timeout(transport.config.timeout, handshake).await {
        Err(_) => Err(transient("the WebSocket handshake timed out".into())),
        Ok(Ok((socket, _))) => Ok(socket),
        Ok(Err(tokio_tungstenite::tungstenite::Error::Http(response))) => {
            let status = response.status();
            let body = response.body().as_deref().unwrap_or_default();
            let message = serde_json::from_slice::<serde_json::Value>(body)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_owned))
                .unwrap_or_else(|| status.to_string());
            Err(refusal(Error::Api { status, message, body: None, request_id: None }))
        }
        Ok(Err(e)) => Err(transient(e.to_string())),
    }
}

fn transient(message: String) -> Refused {
    Refused::Transient(Error::WebSocket(message))
}

/// TLS over `tcp` to `host`, verified against the system's roots and the config's extra ones.
async fn tls(
    transport: &Transport,
    host: &str,
    tcp: TcpStream,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, Refused> {
    let config = tls_config(&transport.config.extra_roots_pem).map_err(Refused::Permanent)?;
    let name = ServerName::try_from(host.to_owned()).map_err(|e| Refused::Permanent(Error::Invalid(e.to_string())))?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    connector.connect(name, tcp).await.map_err(|e| transient(format!("TLS with {host}: {e}")))
}

fn tls_config(extra_pem: &[Vec<u8>]) -> Result<rustls::ClientConfig> {
    let mut roots = Vec::new();
    for pem in extra_pem {
        for certificate in CertificateDer::pem_slice_iter(pem) {
            roots.push(certificate.map_err(|e| Error::Invalid(format!("extra root certificate: {e}")))?);
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = rustls_platform_verifier::Verifier::new_with_extra_roots(roots, provider.clone())
        .map_err(|e| Error::Invalid(format!("TLS roots: {e}")))?;
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Invalid(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(config)
}
