//! Prometheus metrics of the gateway: the recorder (installed once per process) and the route
//! label, which names a route by its template (`/v1/storage/get/{cid}`), never by the raw path,
//! so a client cannot grow the label set.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Latency histogram buckets, in seconds.
const LATENCY_BUCKETS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Routes matched exactly.
static EXACT: &[&str] = &[
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
static PREFIXED: &[(&str, &str)] = &[
    ("/v1/rqlite/", "/v1/rqlite/{op}"),
    ("/v1/cache/", "/v1/cache/{op}"),
    ("/v1/storage/status/", "/v1/storage/status/{cid}"),
    ("/v1/storage/get/", "/v1/storage/get/{cid}"),
    ("/v1/storage/unpin/", "/v1/storage/unpin/{cid}"),
    ("/v1/invoke/", "/v1/invoke/{namespace}/{name}"),
    ("/.well-known/acme-challenge/", "/.well-known/acme-challenge/{token}"),
];

/// The function routes' labels.
static FUNCTION_ROUTES: &[&str] = &[
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

/// The metrics label of `path`.
pub fn route_label(path: &str) -> &'static str {
    if let Some(exact) = EXACT.iter().find(|r| **r == path) {
        return exact;
    }
    if let Some((_, label)) = PREFIXED.iter().find(|(prefix, _)| path.starts_with(prefix)) {
        return label;
    }
    if let Some(rest) = path.strip_prefix("/v1/functions/") {
        return match rest.rsplit_once('/') {
            Some((_, "invoke")) => FUNCTION_ROUTES[1],
            Some((_, "versions")) => FUNCTION_ROUTES[2],
            Some((_, "logs")) => FUNCTION_ROUTES[3],
            Some((_, "ws")) => FUNCTION_ROUTES[4],
            _ => FUNCTION_ROUTES[0],
        };
    }
    UNMATCHED
}

/// The label of paths no route serves: a `static`, so every use is one address.
static UNMATCHED: &str = "unmatched";

/// How often histogram samples are folded into their buckets. The exporter keeps raw samples
/// until this runs, so without it memory would grow with every request between scrapes.
pub const UPKEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// Folds recorded samples every [`UPKEEP_INTERVAL`] until `shutdown`.
pub async fn upkeep(shutdown: tokio_util::sync::CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(UPKEEP_INTERVAL) => handle().run_upkeep(),
        }
    }
}

/// Handles resolved once: the per-request path then touches no registry. Both maps are keyed
/// by the addresses of their labels, hashing a few words, not strings. Route labels come from
/// the `static` tables above (a `const` table may be copied per use, each copy its own
/// address); a label text at another address finds no histogram, and its counter only shares
/// its Prometheus series.
pub struct Handles {
    in_flight: metrics::Gauge,
    latency: AddressMap<usize, metrics::Histogram>,
    requests: std::sync::RwLock<AddressMap<(usize, usize, usize), metrics::Counter>>,
}

/// A map keyed by label addresses.
type AddressMap<K, V> = std::collections::HashMap<K, V, std::hash::BuildHasherDefault<AddressHasher>>;

/// Where a static label lives.
fn address(label: &'static str) -> usize {
    label.as_ptr() as usize
}

/// Hashes machine words (label addresses) with a rotate, xor and multiply per word: no
/// attacker picks these keys, and every request looks two of them up.
#[derive(Debug, Default)]
pub struct AddressHasher(u64);

impl std::hash::Hasher for AddressHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.write_u64(u64::from(*byte));
        }
    }

    fn write_u64(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_usize(&mut self, word: usize) {
        self.write_u64(word as u64);
    }
}

impl Handles {
    /// The process-wide handles (the recorder is installed first).
    pub fn get() -> &'static Handles {
        static HANDLES: OnceLock<Handles> = OnceLock::new();
        HANDLES.get_or_init(|| {
            handle();
            let labels =
                EXACT.iter().copied().chain(PREFIXED.iter().map(|(_, l)| *l)).chain(FUNCTION_ROUTES.iter().copied());
            let latency = labels
                .chain([UNMATCHED])
                .map(|route| {
                    (address(route), metrics::histogram!("orama_http_request_duration_seconds", "route" => route))
                })
                .collect();
            Handles {
                in_flight: metrics::gauge!("orama_http_requests_in_flight"),
                latency,
                requests: Default::default(),
            }
        })
    }

    /// The in-flight gauge.
    pub fn in_flight(&self) -> &metrics::Gauge {
        &self.in_flight
    }

    /// Records one finished request.
    pub fn record(&self, route: &'static str, method: &'static str, status: &'static str, seconds: f64) {
        if let Some(histogram) = self.latency.get(&address(route)) {
            histogram.record(seconds);
        }
        let key = (address(route), address(method), address(status));
        let known = self.requests.read().unwrap_or_else(|p| p.into_inner()).get(&key).cloned();
        let counter = known.unwrap_or_else(|| {
            let counter = metrics::counter!("orama_http_requests_total", "route" => route, "method" => method, "status" => status);
            self.requests.write().unwrap_or_else(|p| p.into_inner()).insert(key, counter.clone());
            counter
        });
        counter.increment(1);
    }
}

/// The method as a static label value (no allocation per request).
pub fn method_label(method: &http::Method) -> &'static str {
    match *method {
        http::Method::GET => "GET",
        http::Method::POST => "POST",
        http::Method::PUT => "PUT",
        http::Method::DELETE => "DELETE",
        http::Method::OPTIONS => "OPTIONS",
        http::Method::HEAD => "HEAD",
        http::Method::PATCH => "PATCH",
        _ => "OTHER",
    }
}

/// The status as a static label value (no allocation per request).
pub fn status_label(status: u16) -> &'static str {
    const CODES: &[(u16, &str)] = &[
        (200, "200"),
        (201, "201"),
        (204, "204"),
        (206, "206"),
        (301, "301"),
        (304, "304"),
        (400, "400"),
        (401, "401"),
        (403, "403"),
        (404, "404"),
        (405, "405"),
        (409, "409"),
        (413, "413"),
        (415, "415"),
        (429, "429"),
        (431, "431"),
        (500, "500"),
        (502, "502"),
        (503, "503"),
        (504, "504"),
        (507, "507"),
    ];
    CODES.iter().find(|(code, _)| *code == status).map_or(
        match status / 100 {
            1 => "1xx",
            2 => "2xx",
            3 => "3xx",
            4 => "4xx",
            _ => "5xx",
        },
        |(_, label)| label,
    )
}

/// The process-wide Prometheus handle (the recorder is installed on first use).
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("duration_seconds".into()), LATENCY_BUCKETS)
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was already installed; /metrics may be empty");
        }
        describe();
        handle
    })
}

fn describe() {
    metrics::describe_counter!("orama_http_requests_total", "HTTP requests by route, method and status");
    metrics::describe_histogram!("orama_http_request_duration_seconds", "HTTP request latency by route");
    metrics::describe_gauge!("orama_http_requests_in_flight", "HTTP requests being served");
    metrics::describe_counter!("orama_http_rate_limited_total", "Requests refused by rate limits");
    metrics::describe_gauge!("orama_backend_up", "1 when a backend answers its health check, by backend");
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
    fn every_label_route_label_gives_has_its_histogram() {
        let handles = Handles::get();
        let paths = ["/v1/health", "/v1/cache/get", "/v1/functions/f/logs", "/v1/invoke/ns/f", "/nope", "/v1/nope"];
        let labels = route_templates().chain(paths.iter().map(|path| route_label(path)));
        for label in labels {
            assert!(handles.latency.contains_key(&address(label)), "{label}");
        }
    }
}
