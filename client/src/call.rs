//! One request to the API as this crate describes it before sending: route, query, body, and
//! whether sending it twice is harmless. A body that can be rebuilt (bytes, JSON, a form made
//! from bytes) allows retries; a stream is sent once.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::Method;
use reqwest::multipart::Form;
use serde::Serialize;

use crate::error::{Error, Result};

/// What a request sends.
pub(crate) enum Payload {
    /// No body.
    Empty,
    /// Bytes with their content type.
    Bytes(Bytes, &'static str),
    /// A multipart form, rebuilt for each attempt.
    Form(Arc<dyn Fn() -> Form + Send + Sync>),
    /// A form with a stream in it, sent only once.
    Once(Mutex<Option<Form>>),
}

/// See the module docs.
pub(crate) struct Call {
    pub(crate) method: Method,
    /// The route, relative to the gateway's base (`v1/cache/get`).
    pub(crate) path: String,
    pub(crate) query: Vec<(&'static str, String)>,
    pub(crate) headers: Vec<(http::HeaderName, String)>,
    pub(crate) payload: Payload,
    /// Whether repeating the request changes nothing more than sending it once did.
    pub(crate) idempotent: bool,
    /// Whether the request carries the credential.
    pub(crate) authenticated: bool,
    /// Whether a timeout bounds the request (not for uploads that may take long).
    pub(crate) bounded: bool,
    /// The least time the request is given, whatever the config's timeout (a function may
    /// run for a minute).
    pub(crate) min_timeout: Duration,
}

impl Call {
    /// A request with no body, idempotent, authenticated.
    pub(crate) fn new(method: Method, path: impl Into<String>) -> Call {
        Call {
            idempotent: matches!(method, Method::GET | Method::HEAD | Method::PUT | Method::DELETE),
            method,
            path: path.into(),
            query: Vec::new(),
            headers: Vec::new(),
            payload: Payload::Empty,
            authenticated: true,
            bounded: true,
            min_timeout: Duration::ZERO,
        }
    }

    /// `GET path`.
    pub(crate) fn get(path: impl Into<String>) -> Call {
        Call::new(Method::GET, path)
    }

    /// `POST path` with `body` as JSON; not idempotent unless [`Call::idempotent`] says so.
    pub(crate) fn post_json(path: impl Into<String>, body: &impl Serialize) -> Result<Call> {
        let json = serde_json::to_vec(body).map_err(|e| Error::Invalid(format!("body is not JSON: {e}")))?;
        Ok(Call { payload: Payload::Bytes(json.into(), "application/json"), ..Call::new(Method::POST, path) })
    }

    /// Marks the request as safe to repeat.
    pub(crate) fn idempotent(mut self) -> Call {
        self.idempotent = true;
        self
    }

    /// Sends the request without the credential.
    pub(crate) fn public(mut self) -> Call {
        self.authenticated = false;
        self
    }

    /// Adds a query parameter.
    pub(crate) fn query(mut self, name: &'static str, value: impl Into<String>) -> Call {
        self.query.push((name, value.into()));
        self
    }

    /// Adds a header.
    pub(crate) fn header(mut self, name: http::HeaderName, value: impl Into<String>) -> Call {
        self.headers.push((name, value.into()));
        self
    }

    /// No timeout at all (long uploads).
    pub(crate) fn unbounded(mut self) -> Call {
        self.bounded = false;
        self
    }

    /// Gives the request at least `time`.
    pub(crate) fn at_least(mut self, time: Duration) -> Call {
        self.min_timeout = time;
        self
    }

    /// Whether the request can be sent again.
    pub(crate) fn replayable(&self) -> bool {
        !matches!(self.payload, Payload::Once(_))
    }

    /// The request for `url`, or `None` when its one-shot body was already spent.
    pub(crate) fn build(&self, http: &reqwest::Client, url: url::Url) -> Option<reqwest::RequestBuilder> {
        let mut request = http.request(self.method.clone(), url);
        if !self.query.is_empty() {
            request = request.query(&self.query);
        }
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        Some(match &self.payload {
            Payload::Empty => request,
            Payload::Bytes(bytes, content_type) => {
                request.header(http::header::CONTENT_TYPE, *content_type).body(bytes.clone())
            }
            Payload::Form(form) => request.multipart(form()),
            Payload::Once(form) => request.multipart(form.lock().ok()?.take()?),
        })
    }
}
