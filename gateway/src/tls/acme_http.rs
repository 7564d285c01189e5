//! The ACME client's HTTP transport, on the reqwest client the gateway already uses (one TLS
//! stack): every request bounded in time, the CA's own certificate checked against the system
//! roots or the configured `ca_file` only, and the CA's nonce refusals counted in
//! `orama_acme_bad_nonce_total` (they are routine: instant-acme and [`super::acme`] resend).

use std::path::Path;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use instant_acme::{BodyWrapper, BytesResponse, HttpClient};

use super::store::{self, StoreError};

/// The longest one request to the CA may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// [`HttpClient`] for instant-acme over reqwest.
#[derive(Debug, Clone)]
pub struct AcmeHttp {
    client: reqwest::Client,
}

impl AcmeHttp {
    /// A transport trusting only the PEM roots in `ca_file` when given, else the system's.
    pub fn new(ca_file: Option<&Path>) -> Result<Self, StoreError> {
        let mut builder = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("orama-gateway/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = ca_file {
            let pem = store::read_optional(path)?.ok_or_else(|| StoreError::corrupt(path, "no such file"))?;
            let roots = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| StoreError::corrupt(path, e))?;
            builder = builder.tls_certs_only(roots);
        }
        let client = builder.build().map_err(|e| StoreError::corrupt(ca_file.unwrap_or(Path::new("")), e))?;
        Ok(AcmeHttp { client })
    }

    async fn send(client: reqwest::Client, request: http::Request<BodyWrapper<Bytes>>) -> Result<BytesResponse, Error> {
        let (parts, body) = request.into_parts();
        let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        let response = client
            .request(parts.method, parts.uri.to_string())
            .headers(parts.headers)
            .body(body)
            .send()
            .await
            .map_err(boxed)?;
        let mut head = http::Response::builder().status(response.status());
        if let Some(headers) = head.headers_mut() {
            headers.extend(response.headers().iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        let body = response.bytes().await.map_err(boxed)?;
        if is_bad_nonce(&body) {
            metrics::counter!("orama_acme_bad_nonce_total").increment(1);
            tracing::debug!("the ACME server refused a nonce");
        }
        let response = head.body(Full::new(body)).map_err(|e| Error::Other(Box::new(e)))?;
        Ok(BytesResponse::from(response))
    }
}

type Error = instant_acme::Error;

fn boxed(err: reqwest::Error) -> Error {
    Error::Other(Box::new(err))
}

fn is_bad_nonce(body: &[u8]) -> bool {
    body.windows(b":badNonce".len()).any(|w| w == b":badNonce")
}

impl HttpClient for AcmeHttp {
    fn request(
        &self,
        request: http::Request<BodyWrapper<Bytes>>,
    ) -> Pin<Box<dyn Future<Output = Result<BytesResponse, Error>> + Send>> {
        Box::pin(Self::send(self.client.clone(), request))
    }
}
