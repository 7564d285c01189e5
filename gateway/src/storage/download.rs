//! `GET /v1/storage/get/{cid}`: a file by address, from memory when it is hot
//! ([`hot`](super::hot)), else streamed from the engine. Content never changes under its
//! address, so every answer carries `ETag: "<cid>"` and an immutable, year-long
//! `Cache-Control`; `If-None-Match` naming the content (as CIDv0 or CIDv1) is answered 304,
//! a single `Range` 206 (416 past the end), and `If-Range` with another tag gets the whole file.

use std::ops::Range;

use warp::Reply as _;
use warp::http::{HeaderMap, HeaderValue, StatusCode, header};
use warp::reply::Response;

use super::cid::{Cid, parse_cid};
use super::hot::Held;
use super::setup::StorageContext;
use crate::auth::Principal;
use crate::auth::request::in_namespace;
use crate::http::error::ApiError;

/// How long a client or shared cache may keep content: a year, and it never changes.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// The conditional and range headers of a download.
#[derive(Debug, Default)]
pub struct Conditions {
    /// `Range`.
    pub range: Option<String>,
    /// `If-None-Match`.
    pub if_none_match: Option<String>,
    /// `If-Range`.
    pub if_range: Option<String>,
}

/// What a `Range` header asks of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wanted {
    /// The whole file (no header, or one not served, such as several ranges).
    Whole,
    /// These bytes.
    Part(Range<u64>),
    /// Nothing the file has (416).
    Unsatisfiable,
}

/// What `header` asks of a file of `size` bytes.
pub fn requested_range(header: Option<&str>, size: u64) -> Wanted {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else { return Wanted::Whole };
    let Some((first, last)) = spec.split_once('-').filter(|_| !spec.contains(',')) else { return Wanted::Whole };
    let (first, last) = (first.trim(), last.trim());
    let range = match (first.parse::<u64>(), last.parse::<u64>()) {
        (Ok(start), Ok(end)) if start <= end => start..end.saturating_add(1).min(size),
        (Ok(start), Err(_)) if last.is_empty() => start..size,
        (Err(_), Ok(suffix)) if first.is_empty() && suffix > 0 => size.saturating_sub(suffix)..size,
        _ => return Wanted::Whole,
    };
    if range.start >= size { Wanted::Unsatisfiable } else { Wanted::Part(range) }
}

/// Whether an `If-None-Match` or `If-Range` list names `cid` (either version, weak or strong).
pub fn names(tags: &str, cid: &Cid) -> bool {
    tags.split(',').map(str::trim).any(|tag| {
        tag == "*"
            || Cid::parse(tag.trim_start_matches("W/").trim_matches('"'))
                .is_some_and(|c| (c.codec, c.hash) == (cid.codec, cid.hash))
    })
}

/// Answers a download of `text` (the CID as the caller wrote it).
pub async fn get(
    cx: StorageContext,
    principal: Principal,
    text: String,
    conditions: Conditions,
) -> Result<Response, ApiError> {
    let cid = parse_cid(&text)?;
    let held = cx.hot.lookup(&cx.engine, cid).await?;
    let held = held.ok_or_else(|| ApiError::NotFound(format!("content not found: {text}")))?;
    if conditions.if_none_match.as_deref().is_some_and(|tags| names(tags, &cid)) {
        let mut response = Response::new(bytes::Bytes::new().into());
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        validators(response.headers_mut(), &text);
        return Ok(in_namespace(&principal, response));
    }
    let size = match &held {
        Held::Hot(bytes) => bytes.len() as u64,
        Held::Cold { size } => *size,
    };
    let range_applies = conditions.if_range.as_deref().is_none_or(|tag| names(tag, &cid));
    let wanted = if range_applies { requested_range(conditions.range.as_deref(), size) } else { Wanted::Whole };
    let range = match &wanted {
        Wanted::Unsatisfiable => return Ok(in_namespace(&principal, unsatisfiable(size))),
        Wanted::Part(range) => range.clone(),
        Wanted::Whole => 0..size,
    };
    let mut response = match held {
        Held::Hot(bytes) => Response::new(bytes.slice(range.start as usize..range.end as usize).into()),
        Held::Cold { .. } => warp::reply::stream(cx.engine.read(cid, range.clone()).await?).into_response(),
    };
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    set(headers, header::CONTENT_DISPOSITION, &format!("attachment; filename={text}"));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(range.end - range.start));
    validators(headers, &text);
    if matches!(wanted, Wanted::Part(_)) {
        set(headers, header::CONTENT_RANGE, &format!("bytes {}-{}/{size}", range.start, range.end.saturating_sub(1)));
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
    }
    Ok(in_namespace(&principal, response))
}

/// `ETag` and `Cache-Control`, on every answer about content.
fn validators(headers: &mut HeaderMap, cid: &str) {
    set(headers, header::ETAG, &format!("\"{cid}\""));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE));
}

fn unsatisfiable(size: u64) -> Response {
    let mut response = crate::http::error::error_reply(StatusCode::RANGE_NOT_SATISFIABLE, "range not satisfiable");
    set(response.headers_mut(), header::CONTENT_RANGE, &format!("bytes */{size}"));
    response
}

fn set(headers: &mut HeaderMap, name: header::HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(name, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_read_as_http_says() {
        let r = |h: &str| requested_range(Some(h), 100);
        assert_eq!(r("bytes=0-9"), Wanted::Part(0..10));
        assert_eq!(r("bytes=90-"), Wanted::Part(90..100));
        assert_eq!(r("bytes=-5"), Wanted::Part(95..100));
        assert_eq!(r("bytes=50-500"), Wanted::Part(50..100));
        assert_eq!(r("bytes=100-"), Wanted::Unsatisfiable);
        assert_eq!(r("bytes=0-1,5-6"), Wanted::Whole);
        assert_eq!(r("bytes=9-3"), Wanted::Whole);
        assert_eq!(r("items=0-1"), Wanted::Whole);
        assert_eq!(requested_range(None, 100), Wanted::Whole);
        assert_eq!(requested_range(Some("bytes=0-0"), 0), Wanted::Unsatisfiable);
    }

    #[test]
    fn entity_tags_name_the_content_in_either_version() {
        let cid = Cid::parse("QmWfVY9y3xjsixTgbd9AorQxH7VtMpzfx2HaWtsoUYecaX").expect("cid");
        assert!(names("\"QmWfVY9y3xjsixTgbd9AorQxH7VtMpzfx2HaWtsoUYecaX\"", &cid));
        assert!(names("W/\"x\", \"bafybeid3weurg3gvyoi7nisadzolomlvoxoppe2sesktnpvdve3256n5tq\"", &cid));
        assert!(names("*", &cid));
        assert!(!names("\"QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH\"", &cid));
        assert!(!names("", &cid));
    }
}
