//! The labels of the per-request metrics, as ids into fixed tables: a request's route by its
//! template (`/v1/storage/get/{cid}`), never by the raw path, so a client cannot grow the label
//! set; its method and status by small fixed sets. [`super::observe`] labels each request once,
//! [`super::request_metrics`] counts by the ids and names them when rendering.

/// Routes matched exactly.
const EXACT: [&str; 34] = [
    "/health",
    "/status",
    "/metrics",
    "/v1/health",
    "/v1/status",
    "/v1/version",
    "/v1/openapi.json",
    "/v1/auth/jwks",
    "/.well-known/jwks.json",
    "/v1/auth/login",
    "/v1/auth/challenge",
    "/v1/auth/verify",
    "/v1/auth/api-key",
    "/v1/auth/simple-key",
    "/v1/auth/register",
    "/v1/auth/refresh",
    "/v1/auth/logout",
    "/v1/auth/token",
    "/v1/auth/whoami",
    "/v1/network/status",
    "/v1/network/peers",
    "/v1/network/connect",
    "/v1/network/disconnect",
    "/v1/pubsub/ws",
    "/v1/pubsub/publish",
    "/v1/pubsub/topics",
    "/v1/pubsub/presence",
    "/v1/proxy/anon",
    "/v1/storage/upload",
    "/v1/storage/pin",
    "/v1/functions",
    "/v1/operator/status",
    "/v1/operator/sign-in",
    "/v1/operator/sign-out",
];

/// Route families with one variable part: (prefix, label).
const PREFIXED: [(&str, &str); 7] = [
    ("/v1/rqlite/", "/v1/rqlite/{op}"),
    ("/v1/cache/", "/v1/cache/{op}"),
    ("/v1/storage/status/", "/v1/storage/status/{cid}"),
    ("/v1/storage/get/", "/v1/storage/get/{cid}"),
    ("/v1/storage/unpin/", "/v1/storage/unpin/{cid}"),
    ("/v1/invoke/", "/v1/invoke/{namespace}/{name}"),
    ("/.well-known/acme-challenge/", "/.well-known/acme-challenge/{token}"),
];

/// The function routes' labels.
const FUNCTION_ROUTES: [&str; 5] = [
    "/v1/functions/{name}",
    "/v1/functions/{name}/invoke",
    "/v1/functions/{name}/versions",
    "/v1/functions/{name}/logs",
    "/v1/functions/{name}/ws",
];

/// Every route template of the public router (the labels [`route_label`] gives), except the
/// ACME challenge, which is served on the plain-HTTP companion, not the API.
pub fn route_templates() -> impl Iterator<Item = &'static str> {
    let labels = EXACT.iter().copied().chain(PREFIXED.iter().map(|(_, label)| *label));
    labels.chain(FUNCTION_ROUTES.iter().copied()).filter(|l| !l.starts_with("/.well-known/acme-challenge"))
}

/// How many route labels there are: [`route_id`] is below this.
pub const ROUTES: usize = EXACT.len() + PREFIXED.len() + FUNCTION_ROUTES.len() + 1;

/// The metrics label of `path`.
pub fn route_label(path: &str) -> &'static str {
    route_name(route_id(path))
}

/// The id of `path`'s route label: an index into the exact routes, then the prefixed ones,
/// then the function routes, then "unmatched".
pub fn route_id(path: &str) -> usize {
    if let Some(exact) = EXACT.iter().position(|r| *r == path) {
        return exact;
    }
    if let Some(prefixed) = PREFIXED.iter().position(|(prefix, _)| path.starts_with(prefix)) {
        return EXACT.len() + prefixed;
    }
    if let Some(rest) = path.strip_prefix("/v1/functions/") {
        let function = match rest.rsplit_once('/') {
            Some((_, "invoke")) => 1,
            Some((_, "versions")) => 2,
            Some((_, "logs")) => 3,
            Some((_, "ws")) => 4,
            _ => 0,
        };
        return EXACT.len() + PREFIXED.len() + function;
    }
    ROUTES - 1
}

/// The label of route id `id` ("unmatched" past the known routes).
pub fn route_name(id: usize) -> &'static str {
    let function = id.wrapping_sub(EXACT.len() + PREFIXED.len());
    match (EXACT.get(id), PREFIXED.get(id.wrapping_sub(EXACT.len())), FUNCTION_ROUTES.get(function)) {
        (Some(exact), _, _) => exact,
        (None, Some((_, label)), _) => label,
        (None, None, Some(label)) => label,
        (None, None, None) => "unmatched",
    }
}

/// The method labels, by id.
const METHOD_LABELS: [&str; 8] = ["GET", "POST", "PUT", "DELETE", "OPTIONS", "HEAD", "PATCH", "OTHER"];

/// How many method labels there are.
pub const METHODS: usize = METHOD_LABELS.len();

/// The id of `method`'s label; every method not listed is "OTHER".
pub fn method_id(method: &http::Method) -> usize {
    match *method {
        http::Method::GET => 0,
        http::Method::POST => 1,
        http::Method::PUT => 2,
        http::Method::DELETE => 3,
        http::Method::OPTIONS => 4,
        http::Method::HEAD => 5,
        http::Method::PATCH => 6,
        _ => 7,
    }
}

/// The method label of id `id`.
pub fn method_name(id: usize) -> &'static str {
    METHOD_LABELS.get(id).copied().unwrap_or("OTHER")
}

/// The statuses labelled by their code; the others by their class (`4xx`), which follow.
const STATUS_CODES: [u16; 21] =
    [200, 201, 204, 206, 301, 304, 400, 401, 403, 404, 405, 409, 413, 415, 429, 431, 500, 502, 503, 504, 507];

/// The status labels, by id: [`STATUS_CODES`]' then the classes'.
const STATUS_LABELS: [&str; 26] = [
    "200", "201", "204", "206", "301", "304", "400", "401", "403", "404", "405", "409", "413", "415", "429", "431",
    "500", "502", "503", "504", "507", "1xx", "2xx", "3xx", "4xx", "5xx",
];

/// How many status labels there are.
pub const STATUSES: usize = STATUS_LABELS.len();

/// The id of `status`'s label.
pub fn status_id(status: u16) -> usize {
    STATUS_CODES.iter().position(|code| *code == status).unwrap_or_else(|| {
        let class = usize::from(status / 100).clamp(1, 5);
        STATUS_CODES.len() + class - 1
    })
}

/// The status label of id `id`.
pub fn status_name(id: usize) -> &'static str {
    STATUS_LABELS.get(id).copied().unwrap_or("5xx")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_templates_not_paths() {
        assert_eq!(route_label("/v1/health"), "/v1/health");
        assert_eq!(route_label("/v1/storage/get/QmXyz"), "/v1/storage/get/{cid}");
        assert_eq!(route_label("/v1/functions/hello@2/invoke"), "/v1/functions/{name}/invoke");
        assert_eq!(route_label("/v1/functions/hello"), "/v1/functions/{name}");
        assert_eq!(route_label("/random/attacker/path"), "unmatched");
    }

    #[test]
    fn ids_name_their_labels_and_every_id_is_in_range() {
        let paths = ["/v1/health", "/v1/cache/get", "/v1/functions/f/logs", "/v1/invoke/ns/f", "/nope", "/v1/nope"];
        let labels = route_templates().chain(paths.iter().map(|path| route_label(path)));
        for label in labels {
            assert!(route_id(label) < ROUTES, "{label}");
            assert_eq!(route_name(route_id(label)), label);
        }
        assert_eq!(route_name(ROUTES), "unmatched");
        for (code, label) in
            [(200, "200"), (507, "507"), (102, "1xx"), (299, "2xx"), (418, "4xx"), (599, "5xx"), (0, "1xx")]
        {
            assert_eq!(status_name(status_id(code)), label, "{code}");
        }
        assert_eq!(method_name(method_id(&http::Method::PATCH)), "PATCH");
        assert_eq!(method_name(method_id(&http::Method::CONNECT)), "OTHER");
    }
}
