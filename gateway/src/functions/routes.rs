//! `/v1/functions*` and `/v1/invoke/*` in the reference's shapes (REFERENCE-API §4.9). The
//! namespace always comes from the credential (the reference's `?namespace=` and form
//! `namespace` overrides are not honoured), except that anyone may invoke a *public* function
//! of the namespace they name: `/v1/invoke/<ns>/<name>`, or `?namespace=` on the invoke route.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use serde_json::json;
use warp::filters::BoxedFilter;
use warp::http::{HeaderMap, HeaderValue, StatusCode};
use warp::reply::Response;
use warp::{Filter, Reply as _};

use super::invoke::{InvokeFailure, InvokeRequest, Invoked};
use super::service::{Functions, parse_name};
use super::triggers::definition::Trigger;
use crate::auth::request::in_namespace;
use crate::auth::{Authenticator, Principal, authenticated, optionally_authenticated};
use crate::http::error::ApiError;

/// Default and largest number of log lines one request returns.
const DEFAULT_LOGS: usize = 100;
const MAX_LOGS: usize = 1_000;

use crate::http::state::with;

/// Every functions route.
pub fn routes(auth: &Authenticator, functions: &Functions) -> BoxedFilter<(Response,)> {
    let base = warp::path("v1").and(warp::path("functions"));
    let owner = || authenticated(auth.clone());
    let list = base
        .and(warp::path::end())
        .and(warp::get())
        .and(owner())
        .and(with(functions.clone()))
        .and_then(|p: Principal, f: Functions| async move { answer(&p, list(&f, &p).await) });
    let deploy = base
        .and(warp::path::end())
        .and(warp::post())
        .and(owner())
        .and(with(functions.clone()))
        .and(super::deploy::body(functions.parts.bounds.max_module))
        .and_then(|p: Principal, f: Functions, (definition, wasm)| async move {
            let deployed = f.deploy(&p.namespace, definition, wasm).await.map(|function| {
                let body = json!({ "message": "Function deployed successfully", "function": function });
                warp::reply::with_status(warp::reply::json(&body), StatusCode::CREATED).into_response()
            });
            answer(&p, deployed)
        });
    let invoke_named = base
        .and(warp::path::param::<String>())
        .and(warp::path("invoke"))
        .and(warp::path::end())
        .and(warp::post())
        .and(optionally_authenticated(auth.clone()))
        .and(warp::query::<HashMap<String, String>>())
        .and(invocation_input(functions.clone()))
        .and_then(
            |segment: String, p: Option<Principal>, query: HashMap<String, String>, (f, headers, input)| async move {
                let namespace: Option<Arc<str>> = query.get("namespace").map(|n| n.as_str().into());
                let namespace =
                    namespace.or_else(|| p.as_ref().map(|p| p.namespace.clone())).unwrap_or_else(|| "default".into());
                Ok::<_, warp::Rejection>(invoke(&f, namespace, &segment, p, &headers, input).await)
            },
        );
    let invoke_in = warp::path!("v1" / "invoke" / String / String)
        .and(warp::post())
        .and(optionally_authenticated(auth.clone()))
        .and(invocation_input(functions.clone()))
        .and_then(|namespace: String, segment: String, p: Option<Principal>, (f, headers, input)| async move {
            Ok::<_, warp::Rejection>(invoke(&f, namespace.as_str().into(), &segment, p, &headers, input).await)
        });
    let one = base.and(warp::path::param::<String>()).and(warp::path::end());
    let get = one.and(warp::get()).and(owner()).and(with(functions.clone())).and_then(
        |segment: String, p: Principal, f: Functions| async move { answer(&p, describe(&f, &p, &segment).await) },
    );
    let delete = one.and(warp::delete()).and(owner()).and(with(functions.clone())).and_then(
        |segment: String, p: Principal, f: Functions| async move { answer(&p, delete(&f, &p, &segment).await) },
    );
    let versions = base
        .and(warp::path::param::<String>())
        .and(warp::path("versions"))
        .and(warp::path::end())
        .and(owner())
        .and(with(functions.clone()))
        .and_then(
            |segment: String, p: Principal, f: Functions| async move { answer(&p, versions(&f, &p, &segment).await) },
        );
    let logs = base
        .and(warp::path::param::<String>())
        .and(warp::path("logs"))
        .and(warp::path::end())
        .and(owner())
        .and(warp::query::<HashMap<String, String>>())
        .and(with(functions.clone()))
        .and_then(|segment: String, p: Principal, query: HashMap<String, String>, f: Functions| async move {
            answer(&p, logs(&f, &p, &segment, &query).await)
        });
    let ws = super::ws::route(auth, functions);
    list.or(deploy)
        .unify()
        .or(invoke_named)
        .unify()
        .or(invoke_in)
        .unify()
        .or(get)
        .unify()
        .or(delete)
        .unify()
        .or(versions)
        .unify()
        .or(logs)
        .unify()
        .or(ws)
        .unify()
        .boxed()
}

/// The service, the request headers and the raw body of an invocation.
fn invocation_input(
    functions: Functions,
) -> impl Filter<Extract = ((Functions, HeaderMap, Bytes),), Error = warp::Rejection> + Clone {
    with(functions)
        .and(warp::header::headers_cloned())
        .and(crate::http::body::bytes())
        .map(|f: Functions, headers: HeaderMap, input: Bytes| (f, headers, input))
}

fn answer(principal: &Principal, reply: Result<Response, ApiError>) -> Result<Response, warp::Rejection> {
    reply.map(|r| in_namespace(principal, r)).map_err(warp::reject::custom)
}

async fn list(f: &Functions, p: &Principal) -> Result<Response, ApiError> {
    let functions = f.parts.registry.list(&p.namespace).await?;
    Ok(warp::reply::json(&json!({ "count": functions.len(), "functions": functions })).into_response())
}

/// A version's record with its triggers: each one's last run, and for a topic whether this
/// node follows it now.
async fn describe(f: &Functions, p: &Principal, segment: &str) -> Result<Response, ApiError> {
    let (name, version) = parse_name(segment);
    let resolved = f.resolve(&p.namespace, &name, version).await?;
    let mut body = serde_json::to_value(&resolved.function).map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut triggers = Vec::new();
    for trigger in f.parts.trigger_store.declared(&resolved.function.id).await? {
        let mut shown = trigger.to_json();
        shown["last_run"] = json!(f.parts.trigger_store.last_run(&p.namespace, &name, &trigger).await?);
        if let Trigger::Pubsub { topic } = &trigger {
            shown["following_here"] = json!(f.parts.triggers.follows(&p.namespace, topic));
        }
        triggers.push(shown);
    }
    body["triggers"] = json!(triggers);
    Ok(warp::reply::json(&body).into_response())
}

async fn delete(f: &Functions, p: &Principal, segment: &str) -> Result<Response, ApiError> {
    let (name, version) = parse_name(segment);
    if !f.parts.registry.deactivate(&p.namespace, &name, version).await? {
        return Err(ApiError::NotFound("Function not found".into()));
    }
    f.forget(&p.namespace, &name);
    f.parts.triggers.poke();
    Ok(warp::reply::json(&json!({ "message": "Function deleted successfully" })).into_response())
}

async fn versions(f: &Functions, p: &Principal, segment: &str) -> Result<Response, ApiError> {
    let (name, _) = parse_name(segment);
    let versions = f.parts.registry.versions(&p.namespace, &name).await?;
    Ok(warp::reply::json(&json!({ "count": versions.len(), "versions": versions })).into_response())
}

async fn logs(
    f: &Functions,
    p: &Principal,
    segment: &str,
    query: &HashMap<String, String>,
) -> Result<Response, ApiError> {
    let (name, _) = parse_name(segment);
    let limit = query.get("limit").and_then(|l| l.parse::<usize>().ok()).filter(|l| *l > 0).unwrap_or(DEFAULT_LOGS);
    let logs = f.parts.records.logs(&p.namespace, &name, limit.min(MAX_LOGS)).await?;
    let body = json!({ "name": name, "namespace": &*p.namespace, "count": logs.len(), "logs": logs });
    Ok(warp::reply::json(&body).into_response())
}

async fn invoke(
    f: &Functions,
    namespace: Arc<str>,
    segment: &str,
    principal: Option<Principal>,
    headers: &HeaderMap,
    input: Bytes,
) -> Response {
    let (name, version) = parse_name(segment);
    let request_id = match headers.get("x-request-id").and_then(|v| v.to_str().ok()) {
        Some(id) => id.to_owned(),
        None => super::service::uuid_v4().unwrap_or_default(),
    };
    let request =
        InvokeRequest { namespace, name, version, input, principal, request_id: request_id.clone(), trigger: "http" };
    let marker = request.principal.clone();
    let reply = match f.invoke(request).await {
        Ok(invoked) => success(&request_id, invoked),
        Err(failure) => failed(&request_id, failure),
    };
    match marker {
        Some(principal) => in_namespace(&principal, reply),
        None => reply,
    }
}

/// The reference's success reply: raw JSON output as is, anything else wrapped.
fn success(request_id: &str, invoked: Invoked) -> Response {
    let duration_ms = invoked.duration.as_millis() as u64;
    let mut reply = match invoked.output.first() {
        Some(b'{' | b'[') => {
            warp::reply::with_header(invoked.output, "content-type", "application/json").into_response()
        }
        _ => warp::reply::json(&json!({
            "request_id": request_id,
            "output": String::from_utf8_lossy(&invoked.output),
            "status": "success",
            "duration_ms": duration_ms,
        }))
        .into_response(),
    };
    reply.headers_mut().insert("x-duration-ms", HeaderValue::from(duration_ms));
    reply
}

fn failed(request_id: &str, failure: InvokeFailure) -> Response {
    let body = json!({
        "request_id": request_id,
        "status": failure.kind,
        "error": failure.message,
        "duration_ms": failure.duration.as_millis() as u64,
    });
    let status = if failure.status == StatusCode::OK { StatusCode::INTERNAL_SERVER_ERROR } else { failure.status };
    warp::reply::with_status(warp::reply::json(&body), status).into_response()
}

#[cfg(test)]
mod tests {
    use super::super::service::parse_name;

    #[test]
    fn versions_ride_on_the_name() {
        assert_eq!(parse_name("hello"), ("hello".to_owned(), None));
        assert_eq!(parse_name("hello@2"), ("hello".to_owned(), Some(2)));
        assert_eq!(parse_name("hello%402"), ("hello".to_owned(), Some(2)));
        assert_eq!(parse_name("hello@latest"), ("hello".to_owned(), None), "non-numeric means latest");
        assert_eq!(parse_name("hello@0"), ("hello".to_owned(), None));
        assert_eq!(parse_name("hello@-3"), ("hello".to_owned(), None));
    }
}
