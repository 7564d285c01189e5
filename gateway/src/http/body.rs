//! Reading request bodies: warp's own body filters turn every read failure into a generic 400,
//! so an over-limit body (cut off by the body-limit layer while streaming) would not read as
//! 413. These filters classify the failure and parse JSON with a message that says what is wrong.

use bytes::{Buf, Bytes, BytesMut};
use futures_util::TryStreamExt;
use serde::de::DeserializeOwned;
use warp::Filter;

use crate::http::error::ApiError;

/// The whole body as bytes (bounded by the route's body limit).
pub fn bytes() -> impl Filter<Extract = (Bytes,), Error = warp::Rejection> + Clone {
    warp::body::stream()
        .and_then(|stream| async move { collect_within(stream, usize::MAX).await.map(BytesMut::freeze) })
}

fn append(mut acc: BytesMut, mut chunk: impl Buf) -> BytesMut {
    while chunk.has_remaining() {
        let part = chunk.chunk();
        let n = part.len();
        acc.extend_from_slice(part);
        chunk.advance(n);
    }
    acc
}

/// The body parsed as JSON into `T`.
pub fn json<T: DeserializeOwned + Send>() -> impl Filter<Extract = (T,), Error = warp::Rejection> + Clone {
    bytes().and_then(|bytes: Bytes| async move { parse_json(&bytes).map_err(warp::reject::custom) })
}

/// Reads at most `max` bytes of an internal request's `body` as strict JSON (the internal
/// sockets' management routes); the error is the status and message to answer with.
pub async fn collect_json<T: DeserializeOwned>(
    body: hyper::body::Incoming,
    max: usize,
) -> Result<T, (http::StatusCode, String)> {
    use http_body_util::BodyExt as _;
    let bytes = match http_body_util::Limited::new(body, max).collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => return Err((http::StatusCode::PAYLOAD_TOO_LARGE, "request body too large".to_owned())),
    };
    parse_json(&bytes).map_err(|e| (http::StatusCode::BAD_REQUEST, e.to_string()))
}

/// Parses `bytes` as JSON into `T`, with a message that names the problem: text that is not
/// JSON says where it breaks; a field the body type does not have (every body type refuses
/// them, `deny_unknown_fields`) is named with the accepted ones; a value of the wrong type is
/// named by its path (`ops[0].args`) with the type expected; a missing required field is named.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::BadRequest("request body is empty; expected JSON".into()));
    }
    let mut reader = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut reader).map_err(|err| ApiError::BadRequest(body_error(&err)))?;
    reader.end().map_err(|err| ApiError::BadRequest(format!("invalid JSON body: {err}")))?;
    Ok(value)
}

/// The message for a body that did not parse.
fn body_error(err: &serde_path_to_error::Error<serde_json::Error>) -> String {
    let inner = err.inner();
    if inner.is_syntax() || inner.is_eof() || inner.is_io() {
        return format!("invalid JSON body: {inner}");
    }
    let message = inner.to_string();
    // serde_json ends a data error with its position; the field path says more.
    let message = message.split(" at line ").next().unwrap_or(&message);
    let path = err.path().to_string();
    let at_top = path == "." || path.is_empty();
    if message.starts_with("unknown field") || message.starts_with("missing field") {
        let parent = path.rsplit_once('.').map_or("", |(parent, _)| parent);
        let parent = if message.starts_with("missing field") { path.as_str() } else { parent };
        return match parent {
            "" | "." => format!("invalid body: {message}"),
            parent => format!("invalid body: in `{parent}`: {message}"),
        };
    }
    if at_top {
        return format!("invalid body: {message}");
    }
    format!("invalid body: field `{path}`: {message}")
}

/// The body, at most `limit` bytes (413 beyond), parsed as JSON into `T`: for routes whose
/// body limit is large (uploads) but whose JSON form must stay small, as it is held in memory.
pub fn json_within<T: DeserializeOwned + Send>(
    limit: usize,
) -> impl Filter<Extract = (T,), Error = warp::Rejection> + Clone {
    warp::body::stream()
        .and_then(move |stream| collect_within(stream, limit))
        .and_then(|bytes: BytesMut| async move { parse_json::<T>(&bytes).map_err(warp::reject::custom) })
}

async fn collect_within<S, B>(stream: S, limit: usize) -> Result<BytesMut, warp::Rejection>
where
    S: futures_util::Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    let mut stream = std::pin::pin!(stream);
    let mut collected = BytesMut::new();
    while let Some(chunk) = stream.try_next().await.map_err(|err| warp::reject::custom(classify(&err)))? {
        collected = append(collected, chunk);
        if collected.len() > limit {
            return Err(warp::reject::custom(ApiError::PayloadTooLarge));
        }
    }
    Ok(collected)
}

/// The whole of `body` (bounded by the route's body limit) parsed as JSON into `T`, for routes
/// served without warp; failures as [`json`]'s.
pub async fn read_json<T, B>(body: B) -> Result<T, ApiError>
where
    T: DeserializeOwned,
    B: http_body::Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    use http_body_util::BodyExt as _;
    let collected = body.collect().await.map_err(|err| classify(&*err.into()))?;
    parse_json(&collected.to_bytes())
}

/// A body read failure: over the limit (413) or a broken upload (400).
pub fn classify(err: &(dyn std::error::Error + 'static)) -> ApiError {
    let mut source = Some(err);
    while let Some(current) = source {
        if current.is::<http_body_util::LengthLimitError>() {
            return ApiError::PayloadTooLarge;
        }
        source = current.source();
    }
    ApiError::BadRequest(format!("cannot read request body: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Sample {
        name: String,
        #[serde(default)]
        items: Vec<Item>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Item {
        id: u32,
    }

    fn problem(body: &str) -> String {
        parse_json::<Sample>(body.as_bytes()).expect_err(body).to_string()
    }

    #[test]
    fn json_problems_are_named() {
        assert_eq!(
            problem("{\"name\": 3}"),
            "invalid body: field `name`: invalid type: integer `3`, expected a string"
        );
        assert_eq!(problem("  "), "request body is empty; expected JSON");
        assert_eq!(problem("{}"), "invalid body: missing field `name`");
        assert_eq!(problem("{\"nam\": \"x\"}"), "invalid body: unknown field `nam`, expected `name` or `items`");
        assert_eq!(
            problem("{\"name\": \"x\", \"items\": [{\"id\": 1}, {\"id\": \"2\"}]}"),
            "invalid body: field `items[1].id`: invalid type: string \"2\", expected u32"
        );
        assert_eq!(
            problem("{\"name\": \"x\", \"items\": [{\"id\": 1, \"size\": 2}]}"),
            "invalid body: in `items[0]`: unknown field `size`, expected `id`"
        );
        assert_eq!(problem("{\"name\": \"x\", \"items\": [{}]}"), "invalid body: in `items[0]`: missing field `id`");
        assert!(problem("{\"name\": ").starts_with("invalid JSON body: EOF"), "{}", problem("{\"name\": "));
        assert!(problem("{\"name\": \"x\"} trailing").starts_with("invalid JSON body: trailing"));
        assert_eq!(problem("\"x\""), "invalid body: invalid type: string \"x\", expected struct Sample");
    }
}
