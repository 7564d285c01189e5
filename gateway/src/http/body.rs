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

/// Parses `bytes` as JSON, with a message naming the problem and where it is.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::BadRequest("request body is empty; expected JSON".into()));
    }
    serde_json::from_slice(bytes).map_err(|err| ApiError::BadRequest(format!("invalid JSON body: {err}")))
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

/// A body read failure: over the limit (413) or a broken upload (400).
pub fn classify(err: &warp::Error) -> ApiError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
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
    struct Sample {
        #[allow(dead_code)]
        name: String,
    }

    #[test]
    fn json_problems_are_named() {
        let err = parse_json::<Sample>(b"{\"name\": 3}").expect_err("wrong type");
        assert!(err.to_string().starts_with("invalid JSON body: invalid type: integer `3`"), "{err}");
        let err = parse_json::<Sample>(b"  ").expect_err("empty");
        assert_eq!(err.to_string(), "request body is empty; expected JSON");
        let err = parse_json::<Sample>(b"{}").expect_err("missing");
        assert!(err.to_string().contains("missing field `name`"), "{err}");
    }
}
