//! The metrics every request updates (requests by route, method and status; latency by route;
//! requests in flight), kept in one fixed table of atomics indexed by label ids rather than in
//! the Prometheus exporter's registry. The table is sized by the label sets of
//! [`super::metrics`] (a client cannot grow it), so recording a request is a handful of
//! relaxed atomic additions: no lookup, no lock, no allocation, and latency goes straight into
//! its bucket instead of being kept as a raw sample until the next fold. [`render`] writes the
//! table in the Prometheus text format, only the series that have counted something.

use std::fmt::Write;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use super::labels::{METHODS, ROUTES, STATUSES, method_name, route_name, status_name};

/// Latency bucket bounds in nanoseconds (0.5 ms to 10 s); `+Inf` is the count.
const BUCKET_NANOS: [u64; 14] = [
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
    10_000_000_000,
];

/// The bounds as Prometheus writes them (`le` label values).
const BUCKET_LABELS: [&str; 14] =
    ["0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10"];

/// One route's series.
struct RouteSeries {
    /// Requests per bucket (not cumulative: a request counts in the first bucket that holds it).
    buckets: [AtomicU64; BUCKET_NANOS.len()],
    /// Requests answered, also those slower than the last bound.
    count: AtomicU64,
    /// Their latencies added up, in microseconds (nanoseconds would wrap after 584 years of
    /// latency: 213 days of 1 s requests at 1000 a second).
    sum_micros: AtomicU64,
    /// Requests by method id, then status id.
    requests: [[AtomicU64; STATUSES]; METHODS],
}

/// The request metrics of this process.
struct RequestMetrics {
    in_flight: AtomicI64,
    routes: Box<[RouteSeries]>,
}

static TABLE: LazyLock<RequestMetrics> = LazyLock::new(|| RequestMetrics {
    in_flight: AtomicI64::new(0),
    routes: (0..ROUTES)
        .map(|_| RouteSeries {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            count: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
            requests: std::array::from_fn(|_| std::array::from_fn(|_| AtomicU64::new(0))),
        })
        .collect(),
});

/// Counts a request as begun (in flight).
pub fn begin() {
    TABLE.in_flight.fetch_add(1, Ordering::Relaxed);
}

/// Counts a request as gone (answered or dropped).
pub fn gone() {
    TABLE.in_flight.fetch_sub(1, Ordering::Relaxed);
}

/// Records one answered request by label ids (out-of-range ids are ignored).
pub fn record(route: usize, method: usize, status: usize, elapsed: Duration) {
    let Some(series) = TABLE.routes.get(route) else { return };
    let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
    if let Some(bucket) = BUCKET_NANOS.iter().position(|bound| nanos <= *bound) {
        series.buckets[bucket].fetch_add(1, Ordering::Relaxed);
    }
    series.count.fetch_add(1, Ordering::Relaxed);
    series.sum_micros.fetch_add(nanos / 1_000, Ordering::Relaxed);
    if let Some(counter) = series.requests.get(method).and_then(|by_status| by_status.get(status)) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Appends the table to `out` in the Prometheus text format.
pub fn render(out: &mut String) {
    let table = &*TABLE;
    let counters = "orama_http_requests_total";
    let _ = writeln!(out, "# HELP {counters} HTTP requests by route, method and status\n# TYPE {counters} counter");
    for (route, series) in table.routes.iter().enumerate() {
        for (method, by_status) in series.requests.iter().enumerate() {
            for (status, counter) in by_status.iter().enumerate() {
                let n = counter.load(Ordering::Relaxed);
                if n > 0 {
                    let (route, method, status) = (route_name(route), method_name(method), status_name(status));
                    let _ =
                        writeln!(out, "{counters}{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {n}");
                }
            }
        }
    }
    let latency = "orama_http_request_duration_seconds";
    let _ = writeln!(out, "# HELP {latency} HTTP request latency by route\n# TYPE {latency} histogram");
    for (route, series) in table.routes.iter().enumerate() {
        let count = series.count.load(Ordering::Relaxed);
        if count == 0 {
            continue;
        }
        let route = route_name(route);
        let mut cumulative = 0;
        for (bucket, le) in series.buckets.iter().zip(BUCKET_LABELS) {
            cumulative += bucket.load(Ordering::Relaxed);
            let _ = writeln!(out, "{latency}_bucket{{route=\"{route}\",le=\"{le}\"}} {cumulative}");
        }
        // Requests recorded while this was read may be in the buckets and not in the count:
        // `+Inf` and `_count` must agree, so both say the larger.
        let count = cumulative.max(count);
        let sum = series.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{latency}_bucket{{route=\"{route}\",le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{latency}_sum{{route=\"{route}\"}} {sum}\n{latency}_count{{route=\"{route}\"}} {count}");
    }
    let gauge = "orama_http_requests_in_flight";
    let in_flight = table.in_flight.load(Ordering::Relaxed).max(0);
    let _ = writeln!(out, "# HELP {gauge} HTTP requests being served\n# TYPE {gauge} gauge\n{gauge} {in_flight}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::labels::{method_id, route_id, status_id};

    /// The rendered line that starts with `prefix`, its value.
    fn value(text: &str, prefix: &str) -> Option<f64> {
        text.lines().find_map(|line| line.strip_prefix(prefix)?.trim().parse().ok())
    }

    #[test]
    fn a_request_is_counted_by_its_labels_and_its_latency_bucket() {
        let route = route_id("/v1/functions/f/logs");
        let (method, status) = (method_id(&http::Method::PATCH), status_id(409));
        let mut before = String::new();
        render(&mut before);
        record(route, method, status, Duration::from_millis(3));
        record(route, method, status, Duration::from_secs(60));
        let mut after = String::new();
        render(&mut after);
        let counter = r#"orama_http_requests_total{route="/v1/functions/{name}/logs",method="PATCH",status="409"}"#;
        assert_eq!(value(&after, counter).unwrap_or(0.0) - value(&before, counter).unwrap_or(0.0), 2.0);
        let bucket = |text: &str, le: &str| {
            let line = format!(
                r#"orama_http_request_duration_seconds_bucket{{route="/v1/functions/{{name}}/logs",le="{le}"}}"#
            );
            value(text, &line).unwrap_or(0.0)
        };
        assert_eq!(bucket(&after, "0.0025") - bucket(&before, "0.0025"), 0.0, "3 ms is above 2.5 ms");
        assert_eq!(bucket(&after, "0.005") - bucket(&before, "0.005"), 1.0, "buckets are cumulative");
        assert_eq!(bucket(&after, "10") - bucket(&before, "10"), 1.0, "60 s is in no bound");
        assert_eq!(bucket(&after, "+Inf") - bucket(&before, "+Inf"), 2.0);
        let sum = r#"orama_http_request_duration_seconds_sum{route="/v1/functions/{name}/logs"}"#;
        assert!(value(&after, sum).unwrap_or(0.0) - value(&before, sum).unwrap_or(0.0) >= 60.003 - 1e-6);
    }

    #[test]
    fn unknown_ids_are_ignored() {
        record(usize::MAX, 0, 0, Duration::ZERO);
        record(0, usize::MAX, usize::MAX, Duration::ZERO);
    }
}
