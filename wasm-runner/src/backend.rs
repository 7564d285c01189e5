//! Host calls that need a backend, sent to the gateway's internal socket. Each call carries
//! the invocation's token; the gateway answers in the namespace the token was issued for.
//! Calls come from the blocking threads guests run on, so they block on the runner's async
//! runtime for their answer, within the time the invocation has left.

use std::time::Duration;

use http::Method;
use orama_ipc::IpcClient;
use serde_json::{Value, json};

use crate::host::HostBackend;

/// The gateway, reached over its internal socket.
#[derive(Debug, Clone)]
pub struct GatewayBackend {
    client: IpcClient,
    runtime: tokio::runtime::Handle,
}

impl GatewayBackend {
    /// Calls to the gateway's socket at `socket`, driven by `runtime`.
    pub fn new(socket: &std::path::Path, runtime: tokio::runtime::Handle) -> Self {
        GatewayBackend { client: IpcClient::new(socket), runtime }
    }
}

impl HostBackend for GatewayBackend {
    fn call(&self, name: &str, token: &str, body: &Value, timeout: Duration) -> Result<Value, String> {
        let client = self.client.clone().with_timeout(timeout);
        let path = format!("/v1/host/{name}");
        let request = json!({ "token": token, "args": body });
        let bytes = serde_json::to_vec(&request).map_err(|e| e.to_string())?;
        self.runtime.block_on(async move {
            let response = client.send(Method::POST, &path, Some(bytes.into())).await.map_err(|e| e.to_string())?;
            client.read_json::<Value>(response).await.map_err(|e| match e {
                orama_ipc::IpcError::Status { message, .. } => message,
                other => other.to_string(),
            })
        })
    }
}
