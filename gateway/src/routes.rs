//! The public router, built by a function so tests can drive it without a socket
//! (`warp::test::request()`), and the one place rejections become `{"error"}` replies.

use std::convert::Infallible;

use warp::http::StatusCode;
use warp::{Filter, Rejection, Reply};

use crate::status::{self, Started};

/// Every public route, with errors mapped to the node's JSON error shape.
pub fn routes(started: Started) -> impl Filter<Extract = (impl Reply,), Error = Infallible> + Clone {
    let with_started = warp::any().map(move || started.clone());
    let health = warp::path("health")
        .or(warp::path!("v1" / "health"))
        .unify()
        .and(warp::path::end())
        .and(with_started.clone())
        .map(|s: Started| warp::reply::json(&status::health(&s)));
    let version = warp::path!("v1" / "version")
        .and(with_started.clone())
        .map(|s: Started| warp::reply::json(&status::version(&s)));
    let status = warp::path("status")
        .and(warp::path::end())
        .or(warp::path!("v1" / "status"))
        .unify()
        .and(with_started)
        .map(|s: Started| warp::reply::json(&status::status(&s)));
    health.or(version).or(status).recover(rejection_reply)
}

/// Maps a rejection to its status and `{"error": "..."}` body.
async fn rejection_reply(rejection: Rejection) -> Result<warp::reply::Response, Infallible> {
    let (status, message) = if rejection.is_not_found() {
        (StatusCode::NOT_FOUND, "not found".to_owned())
    } else if rejection.find::<warp::reject::MethodNotAllowed>().is_some() {
        (StatusCode::METHOD_NOT_ALLOWED, "method not allowed".to_owned())
    } else {
        tracing::warn!(?rejection, "unhandled rejection");
        (StatusCode::BAD_REQUEST, "bad request".to_owned())
    };
    Ok(error_reply(status, &message))
}

/// `{"error": message}` with `status`.
pub fn error_reply(status: StatusCode, message: &str) -> warp::reply::Response {
    warp::reply::with_status(warp::reply::json(&serde_json::json!({ "error": message })), status).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn get(path: &str) -> (StatusCode, serde_json::Value) {
        let response = warp::test::request().path(path).reply(&routes(Started::now())).await;
        let body = serde_json::from_slice(response.body()).unwrap_or(serde_json::Value::Null);
        (response.status(), body)
    }

    #[tokio::test]
    async fn health_routes_answer_in_the_reference_shape() {
        for path in ["/health", "/v1/health"] {
            let (status, body) = get(path).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(body["status"], "ok");
            assert_eq!(body["server"]["status"], "ok");
            assert!(body["server"]["uptime"].as_str().is_some_and(|u| u.ends_with('s')));
            assert!(body["client"].is_null());
        }
    }

    #[tokio::test]
    async fn version_and_status_have_their_fields() {
        let (status, body) = get("/v1/version").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["version"], crate::status::VERSION);
        for key in ["commit", "build_time", "started_at", "uptime"] {
            assert!(body[key].is_string(), "{key}");
        }
        for path in ["/status", "/v1/status"] {
            let (status, body) = get(path).await;
            assert_eq!(status, StatusCode::OK);
            assert!(body["network"]["uptime"].is_u64());
            assert!(body["server"]["started_at"].is_string());
        }
    }

    #[tokio::test]
    async fn unknown_paths_get_a_json_404() {
        let (status, body) = get("/v1/nope").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["error"], "not found");
    }
}
