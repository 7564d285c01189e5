//! `GET /v1/openapi.json`: the OpenAPI 3.1 document of the public API (`docs/openapi.json`,
//! compiled in), public and cacheable. `routes.rs`'s tests hold it to the router: every route
//! it lists is served, every route the router serves is listed, and `docs/API.md` names them all.

use warp::filters::BoxedFilter;
use warp::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use warp::reply::Response;
use warp::{Filter, Reply};

/// The document, as shipped in the repository.
pub const DOCUMENT: &str = include_str!("../../../docs/openapi.json");

/// The route serving [`DOCUMENT`].
pub fn route() -> BoxedFilter<(Response,)> {
    warp::path!("v1" / "openapi.json")
        .and(warp::get())
        .map(|| {
            let reply = warp::reply::with_header(DOCUMENT, CONTENT_TYPE, "application/json");
            warp::reply::with_header(reply, CACHE_CONTROL, "public, max-age=3600").into_response()
        })
        .boxed()
}
