//! `POST /v1/proxy/anon` (REFERENCE-API §4.8): the gateway authenticates the caller and hands
//! the request, as it came, to `orama-anon-proxy` over its socket with the credential's
//! namespace; the proxy checks it, sends it through the Anyone network and says what to
//! answer. The gateway never makes the outgoing connection itself.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use orama_ipc::IpcClient;
use warp::filters::BoxedFilter;
use warp::http::Method;
use warp::reply::Response;
use warp::{Filter, Reply as _};

use crate::auth::request::in_namespace;
use crate::auth::{Authenticator, Principal, authenticated};
use crate::http::error::{ApiError, api_error_reply};

/// The header carrying the caller's namespace to the proxy (`orama_anon_proxy::NAMESPACE_HEADER`).
const NAMESPACE_HEADER: &str = "x-orama-namespace";

/// The anon proxy, when the node runs one.
#[derive(Debug, Clone)]
pub struct AnonContext {
    client: Option<IpcClient>,
    timeout: Duration,
}

impl AnonContext {
    /// The proxy on `socket` when `config` enables it.
    pub fn new(config: &orama_service::config::AnonConfig, socket: &std::path::Path) -> AnonContext {
        let timeout = config.timeout + Duration::from_secs(5);
        let client = config.child.enabled.then(|| IpcClient::with_pool(socket, 64).with_timeout(timeout));
        AnonContext { client, timeout }
    }

    /// The proxy's state for `/v1/status`, when it answers within a second.
    pub async fn status(&self) -> Option<serde_json::Value> {
        let client = self.client.as_ref()?.clone().with_timeout(Duration::from_secs(1));
        client.get_json("/v1/status").await.ok()
    }

    async fn forward(&self, namespace: &str, body: Bytes) -> Result<Response, ApiError> {
        let Some(client) = &self.client else {
            return Err(ApiError::Unavailable("the anonymous proxy is not enabled on this node (anon.enabled)".into()));
        };
        let unavailable = |e: String| ApiError::Unavailable(format!("the anonymous proxy is unavailable: {e}"));
        let request = http::Request::post("http://local/v1/fetch")
            .header(NAMESPACE_HEADER, namespace)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(body))
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        let response = client.send_request(request, self.timeout).await.map_err(|e| unavailable(e.to_string()))?;
        let status = response.status();
        let collected = tokio::time::timeout(self.timeout, response.into_body().collect()).await;
        let bytes = match collected {
            Ok(Ok(body)) => body.to_bytes(),
            Ok(Err(e)) => return Err(unavailable(e.to_string())),
            Err(_) => return Err(ApiError::Timeout("the anonymous proxy did not answer in time".into())),
        };
        let mut reply = Response::new(bytes.into());
        *reply.status_mut() = status;
        reply
            .headers_mut()
            .insert(warp::http::header::CONTENT_TYPE, warp::http::HeaderValue::from_static("application/json"));
        Ok(reply)
    }
}

/// `/v1/proxy/anon`: any method is authenticated first; only POST goes further.
pub fn routes(auth: &Authenticator, cx: &AnonContext) -> BoxedFilter<(Response,)> {
    warp::path!("v1" / "proxy" / "anon")
        .and(warp::method())
        .and(authenticated(auth.clone()))
        .and(crate::http::state::with(cx.clone()))
        .and(crate::http::body::bytes())
        .and_then(move |method: Method, principal: Principal, cx: AnonContext, body: Bytes| {
            async move {
                if method != Method::POST {
                    // Answered here, not rejected: a rejection would let the router's OPTIONS
                    // catch-all answer 204, and the reply keeps the caller's marks.
                    let refused = api_error_reply(&ApiError::MethodNotAllowed("only POST method is allowed".into()));
                    return Ok::<_, warp::Rejection>(in_namespace(&principal, refused));
                }
                let reply = cx.forward(&principal.namespace, body).await.map_err(warp::reject::custom)?;
                Ok::<_, warp::Rejection>(in_namespace(&principal, reply.into_response()))
            }
        })
        .boxed()
}
