//! The Rust client of an Orama node's HTTP API.
//!
//! One [`NetworkClient`] per application, cheap to clone, with a sub-client per API:
//! [`auth`](NetworkClient::auth), [`database`](NetworkClient::database) (with an ORM),
//! [`cache`](NetworkClient::cache), [`storage`](NetworkClient::storage),
//! [`pubsub`](NetworkClient::pubsub), [`serverless`](NetworkClient::serverless) and
//! [`network`](NetworkClient::network). Every call answers [`Result`]; a failure is one
//! [`Error`]: the gateway's status and message, or the transport's cause.
//!
//! Requests go to the configured gateways in turn (a cluster's nodes): the one that answered
//! last first, the next when it cannot be reached or is unavailable. Requests that are safe to
//! repeat are retried with backoff and jitter on 429, 502, 503, 504 and transport errors; any
//! request is retried when its connection never opened.
//!
//! ```no_run
//! use orama_client::{ClientConfig, NetworkClient};
//!
//! # async fn run() -> orama_client::Result<()> {
//! let config = ClientConfig::new("http://127.0.0.1:6001")?.api_key("ak_X32jj2fiin8zzv0hmBKTC5b5:demo");
//! let client = NetworkClient::new(config)?;
//! client.cache().put("sessions", "u1", &serde_json::json!({"n": 1}), None).await?;
//! let n: Option<serde_json::Value> = client.cache().get("sessions", "u1").await?;
//! # Ok(()) }
//! ```

pub mod auth;
mod cache;
mod call;
mod config;
pub mod database;
mod error;
mod function_socket;
mod network;
pub mod pubsub;
mod serverless;
mod session;
pub mod storage;
mod transport;
mod wallet;
mod websocket;

pub use cache::CacheClient;
pub use config::{ClientConfig, Credential};
pub use error::{Error, Result};
pub use function_socket::{FunctionSocket, SocketReply};
pub use network::{AnonRequest, AnonResponse, Health, NetworkApi, NetworkStatus, Version};
pub use serverless::{Function, FunctionSpec, Invocation, LogLine, ServerlessClient, Trigger};

use transport::Transport;

/// The client: see the crate docs. Clones share connections and the credential.
#[derive(Clone)]
pub struct NetworkClient {
    transport: Transport,
}

impl NetworkClient {
    /// A client for `config`. Nothing is sent until a call.
    pub fn new(config: ClientConfig) -> Result<NetworkClient> {
        Ok(NetworkClient { transport: Transport::new(config)? })
    }

    /// Sign-in, tokens, API keys.
    pub fn auth(&self) -> auth::AuthClient {
        auth::AuthClient { transport: self.transport.clone() }
    }

    /// The namespace's SQL database and its ORM.
    pub fn database(&self) -> database::DatabaseClient {
        database::DatabaseClient { transport: self.transport.clone() }
    }

    /// The namespace's cache.
    pub fn cache(&self) -> CacheClient {
        CacheClient { transport: self.transport.clone() }
    }

    /// Content-addressed storage.
    pub fn storage(&self) -> storage::StorageClient {
        storage::StorageClient { transport: self.transport.clone() }
    }

    /// The namespace's pub/sub topics.
    pub fn pubsub(&self) -> pubsub::PubSubClient {
        pubsub::PubSubClient { transport: self.transport.clone() }
    }

    /// The namespace's functions.
    pub fn serverless(&self) -> ServerlessClient {
        ServerlessClient { transport: self.transport.clone() }
    }

    /// The node's health and status.
    pub fn network(&self) -> NetworkApi {
        NetworkApi { transport: self.transport.clone() }
    }

    /// The configuration the client was made with.
    pub fn config(&self) -> &ClientConfig {
        &self.transport.config
    }
}
