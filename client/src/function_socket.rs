//! `/v1/functions/{name}/ws`: a function kept at hand over one WebSocket. Each input sent is
//! one invocation, answered in order, without a new request per call.

use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message as Frame;

use crate::error::{Error, Result};
use crate::transport::Transport;
use crate::websocket::{self, Socket};

/// One invocation's answer on a function socket.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct SocketReply {
    /// The invocation's id.
    pub request_id: String,
    /// `success`, `error` or `timeout`.
    pub status: String,
    /// How long it ran, ms.
    #[serde(default)]
    pub duration_ms: u64,
    /// Its output (parsed when it is JSON, else a string); absent when empty.
    #[serde(default)]
    pub output: Option<Value>,
    /// Why it failed.
    #[serde(default)]
    pub error: Option<String>,
}

/// See the module docs. Get one from [`crate::ServerlessClient::connect`].
pub struct FunctionSocket {
    socket: Socket,
    /// The longest an answer is waited for.
    limit: Duration,
}

impl FunctionSocket {
    /// Opens the socket of `name` on the first gateway that takes it.
    pub(crate) async fn open(transport: &Transport, name: &str, limit: Duration) -> Result<FunctionSocket> {
        let (socket, _) = websocket::open_first(transport, &format!("v1/functions/{name}/ws"), &[]).await?;
        Ok(FunctionSocket { socket, limit })
    }

    /// Invokes the function with `input` and waits for its answer.
    pub async fn call(&mut self, input: impl Into<Bytes>) -> Result<SocketReply> {
        self.socket.send(Frame::Binary(input.into())).await.map_err(|e| Error::WebSocket(e.to_string()))?;
        let answer = async {
            loop {
                match self.socket.next().await {
                    Some(Ok(Frame::Text(text))) => {
                        return serde_json::from_str(text.as_str())
                            .map_err(|e| Error::decode(format!("a socket reply: {e}")));
                    }
                    Some(Ok(Frame::Close(_))) | None => {
                        return Err(Error::WebSocket("the gateway closed the socket".into()));
                    }
                    Some(Err(e)) => return Err(Error::WebSocket(e.to_string())),
                    Some(Ok(_)) => {} // pings are answered by the socket itself
                }
            }
        };
        tokio::time::timeout(self.limit, answer)
            .await
            .map_err(|_| Error::WebSocket(format!("no answer within {:?}", self.limit)))?
    }

    /// Closes the socket.
    pub async fn close(mut self) -> Result<()> {
        self.socket.close(None).await.map_err(|e| Error::WebSocket(e.to_string()))
    }
}
