//! Prometheus metrics of the gateway: [`super::request_metrics`] counts what every request
//! updates, by the label ids of [`super::labels`]; the exporter (installed once per process)
//! holds the other, rarer metrics. The exporter keeps no histogram: one would need its raw
//! samples folded periodically (`run_upkeep`).

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// The process-wide Prometheus handle (the recorder is installed on first use).
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was already installed; /metrics may be empty");
        }
        describe();
        handle
    })
}

/// Every metric of this process in the Prometheus text format: the exporter's, then the
/// per-request table's.
pub fn render() -> String {
    let mut text = handle().render();
    super::request_metrics::render(&mut text);
    text
}

fn describe() {
    metrics::describe_counter!("orama_http_rate_limited_total", "Requests refused by rate limits");
    metrics::describe_gauge!("orama_backend_up", "1 when a backend answers its health check, by backend");
}
