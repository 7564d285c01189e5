//! The one error type of the client: what the gateway answered (status, its message, the
//! request id), or why no answer came (the transport's cause), or what was wrong on this side.

use http::StatusCode;

/// Everything a call of this crate can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The gateway answered with an error status: `{"error": message}`, as the API documents.
    #[error("{status}: {message}")]
    Api {
        /// The HTTP status.
        status: StatusCode,
        /// The server's message (its `error` field, or the body's text when it had none).
        message: String,
        /// The whole JSON body, for the routes whose errors carry more (function invocations,
        /// the anonymous proxy).
        body: Option<serde_json::Value>,
        /// The request's `X-Request-ID`, for finding it in the node's log.
        request_id: Option<String>,
    },
    /// No answer: the connection failed, timed out or broke (after the retries allowed).
    #[error("no answer from {gateway}: {source}")]
    Transport {
        /// The gateway URL last tried.
        gateway: String,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
    /// The gateway answered something this client cannot read.
    #[error("unexpected answer from the gateway: {0}")]
    Decode(String),
    /// The configuration or an argument is invalid; nothing was sent.
    #[error("invalid request: {0}")]
    Invalid(String),
    /// A local file or stream failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A pub/sub WebSocket failed.
    #[error("websocket: {0}")]
    WebSocket(String),
}

impl Error {
    /// The HTTP status the gateway answered, when it answered.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Error::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether the gateway said there is nothing there (404).
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(StatusCode::NOT_FOUND)
    }

    /// The server's message, when it answered.
    pub fn server_message(&self) -> Option<&str> {
        match self {
            Error::Api { message, .. } => Some(message),
            _ => None,
        }
    }

    pub(crate) fn decode(what: impl std::fmt::Display) -> Error {
        Error::Decode(what.to_string())
    }
}

/// The result of a call of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
