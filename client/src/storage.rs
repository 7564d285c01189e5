//! `/v1/storage/*`: content-addressed files. Uploads stream from bytes, a file or any
//! `AsyncRead`; downloads stream back, whole or a byte range.

use std::ops::RangeInclusive;
use std::path::Path;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::{Stream, TryStreamExt};
use reqwest::multipart::{Form, Part};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::io::AsyncRead;

use crate::call::{Call, Payload};
use crate::error::{Error, Result};
use crate::transport::Transport;

/// An upload's answer.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct Uploaded {
    /// The content's address.
    pub cid: String,
    /// The name it was uploaded with.
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
}

/// A pin's status in the caller's namespace.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct PinStatus {
    /// The content's address.
    pub cid: String,
    /// The pin's name.
    #[serde(default)]
    pub name: String,
    /// `pinned`, or the IPFS Cluster's state (`pinning`, `pin_queued`, …).
    pub status: String,
    /// The size, when known.
    #[serde(default)]
    pub size: u64,
    /// Peers holding it (IPFS Cluster).
    #[serde(default)]
    pub peers: Vec<String>,
}

/// Options of an upload.
#[derive(Debug, Clone, Default)]
pub struct UploadOptions {
    /// CIDv1 (raw leaves, base32) instead of the default CIDv0.
    pub cid_v1: bool,
    /// Upload without pinning.
    pub no_pin: bool,
}

/// A download under way: its size and the stream of its bytes.
pub struct Download {
    /// The bytes this answer carries (the range's length for a range), when the gateway said.
    pub length: Option<u64>,
    /// The whole file's size, from `Content-Range`, for a range.
    pub total: Option<u64>,
    gateway: String,
    response: reqwest::Response,
}

impl Download {
    /// The bytes, as they arrive.
    pub fn stream(self) -> impl Stream<Item = Result<Bytes>> + Send {
        let gateway = self.gateway;
        self.response.bytes_stream().map_err(move |source| Error::Transport { gateway: gateway.clone(), source })
    }

    /// The bytes as an `AsyncRead`.
    pub fn reader(self) -> impl AsyncRead + Send + Unpin {
        let stream = self.response.bytes_stream().map_err(std::io::Error::other);
        tokio_util::io::StreamReader::new(Box::pin(stream))
    }

    /// All the bytes in memory.
    pub async fn bytes(self) -> Result<Bytes> {
        let gateway = self.gateway;
        self.response.bytes().await.map_err(|source| Error::Transport { gateway, source })
    }
}

/// `/v1/storage/*`. Get one from [`crate::NetworkClient::storage`].
#[derive(Clone)]
pub struct StorageClient {
    pub(crate) transport: Transport,
}

impl StorageClient {
    /// Uploads `data` as a file named `name` (retried on failure: content is addressed, so
    /// sending it twice stores it once).
    pub async fn upload(&self, name: &str, data: impl Into<Bytes>, options: &UploadOptions) -> Result<Uploaded> {
        let (data, name, pin) = (data.into(), name.to_owned(), !options.no_pin);
        let form = move || form(Part::stream_with_length(data.clone(), data.len() as u64), &name, pin);
        let call = upload_call(options, Payload::Form(Arc::new(form))).idempotent();
        self.transport.json(call).await
    }

    /// Uploads the file at `path`, streamed, under its file name.
    pub async fn upload_file(&self, path: &Path, options: &UploadOptions) -> Result<Uploaded> {
        let file = tokio::fs::File::open(path).await?;
        let length = file.metadata().await?.len();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        self.upload_reader(&name, file, Some(length), options).await
    }

    /// Uploads what `reader` gives, streamed (sent once: a stream cannot be replayed).
    /// `length`, when known, is announced up front.
    pub async fn upload_reader(
        &self,
        name: &str,
        reader: impl AsyncRead + Send + 'static,
        length: Option<u64>,
        options: &UploadOptions,
    ) -> Result<Uploaded> {
        let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::new(reader));
        let part = match length {
            Some(length) => Part::stream_with_length(body, length),
            None => Part::stream(body),
        };
        let form = form(part, name, !options.no_pin);
        self.transport.json(upload_call(options, Payload::Once(Mutex::new(Some(form))))).await
    }

    /// Downloads the file at `cid`.
    pub async fn get(&self, cid: &str) -> Result<Download> {
        self.download(cid, None).await
    }

    /// Downloads the bytes `range` (inclusive, as HTTP ranges are) of the file at `cid`.
    pub async fn get_range(&self, cid: &str, range: RangeInclusive<u64>) -> Result<Download> {
        if range.start() > range.end() {
            return Err(Error::Invalid(format!("empty range {range:?}")));
        }
        self.download(cid, Some(format!("bytes={}-{}", range.start(), range.end()))).await
    }

    /// Pins `cid` (already on the node) in the caller's namespace under `name`.
    pub async fn pin(&self, cid: &str, name: &str) -> Result<()> {
        let call = Call::post_json("v1/storage/pin", &json!({ "cid": cid, "name": name }))?.idempotent();
        let _: Value = self.transport.json(call).await?;
        Ok(())
    }

    /// Unpins `cid` from the caller's namespace.
    pub async fn unpin(&self, cid: &str) -> Result<()> {
        let _: Value =
            self.transport.json(Call::new(http::Method::DELETE, format!("v1/storage/unpin/{}", segment(cid)?))).await?;
        Ok(())
    }

    /// The pin of `cid` in the caller's namespace.
    pub async fn status(&self, cid: &str) -> Result<PinStatus> {
        self.transport.json(Call::get(format!("v1/storage/status/{}", segment(cid)?))).await
    }

    async fn download(&self, cid: &str, range: Option<String>) -> Result<Download> {
        // Only the answer's head is bounded by the timeout: the bytes stream as they come.
        let mut call = Call::get(format!("v1/storage/get/{}", segment(cid)?));
        let ranged = range.is_some();
        if let Some(range) = range {
            call = call.header(http::header::RANGE, range);
        }
        let response = self.transport.send(call).await?;
        if ranged && response.status() != http::StatusCode::PARTIAL_CONTENT {
            return Err(Error::decode(format!("asked for a range, the gateway answered {}", response.status())));
        }
        let gateway = response.url().origin().ascii_serialization();
        let total = response
            .headers()
            .get(http::header::CONTENT_RANGE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit('/').next())
            .and_then(|size| size.parse().ok());
        Ok(Download { length: response.content_length(), total, gateway, response })
    }
}

fn upload_call(options: &UploadOptions, payload: Payload) -> Call {
    let call = Call { payload, ..Call::new(http::Method::POST, "v1/storage/upload") }.unbounded();
    if options.cid_v1 { call.query("cid_version", "1") } else { call }
}

fn form(part: Part, name: &str, pin: bool) -> Form {
    let form = Form::new().part("file", part.file_name(name.to_owned()));
    if pin { form } else { form.text("pin", "false") }
}

/// A CID as one path segment: only the characters CIDs are made of.
fn segment(cid: &str) -> Result<&str> {
    if cid.is_empty() || !cid.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(Error::Invalid(format!("not a CID: {cid:?}")));
    }
    Ok(cid)
}
