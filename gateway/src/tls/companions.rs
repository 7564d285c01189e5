//! What runs beside an HTTPS listener: the plain-HTTP listener (redirects to HTTPS, ACME
//! HTTP-01 challenges) when `gateway.tls.http_listen` is set, and the ACME renewal in ACME mode.

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::redirect::{self, Redirect};
use super::setup::Tls;

/// Starts the companions of `tls` (serving HTTPS on `https_port`) until `shutdown`; the plain
/// HTTP listener is `handed` when the supervisor holds it.
pub async fn start(
    tls: &mut Tls,
    config: &orama_service::config::TlsConfig,
    https_port: u16,
    handed: Option<std::net::TcpListener>,
    shutdown: &CancellationToken,
) -> Result<Vec<JoinHandle<()>>, (std::net::SocketAddr, std::io::Error)> {
    let acme = tls.acme.take();
    let mut tasks = Vec::new();
    if let Some(http_listen) = config.http_listen {
        let redirects = match handed {
            Some(listener) => TcpListener::from_std(listener),
            None => TcpListener::bind(http_listen).await,
        }
        .map_err(|e| (http_listen, e))?;
        let fallback_host = config.domains.first().cloned().unwrap_or_else(|| "localhost".into());
        let challenges = acme.as_ref().map(|a| a.challenges.clone()).unwrap_or_default();
        let redirect = Redirect { https_port, fallback_host, challenges };
        tasks.push(tokio::spawn(redirect::serve(redirects, redirect, shutdown.clone())));
    }
    if let Some(acme) = acme {
        tasks.push(acme.spawn(tls.certificate.clone(), shutdown.clone()));
    }
    Ok(tasks)
}
