//! The last hour of this gateway, kept in memory for the operator page's plots: every
//! [`INTERVAL`] the counts of the interval just ended become one [`Sample`] (requests per
//! second, p50 and p99 latency, server errors, function invocations, pub/sub deliveries), and
//! an hour of samples is kept. Recording is a few relaxed atomic additions on the request path
//! (latency into a fixed log-scale histogram), so it costs no lock and no allocation.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio_util::sync::CancellationToken;

/// How long one sample covers.
pub const INTERVAL: Duration = Duration::from_secs(10);

/// Samples kept: one hour.
pub const KEPT: usize = 360;

/// Latency buckets: bucket `i` holds latencies up to `FIRST_BUCKET_MICROS * 2^(i/4)`; the last
/// one everything slower (about 22 s and up).
const BUCKETS: usize = 80;
const FIRST_BUCKET_MICROS: f64 = 25.0;

/// One interval of the gateway's life.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// When the interval ended (unix seconds).
    pub at: u64,
    /// Requests answered per second.
    pub requests_per_sec: f64,
    /// Median latency in milliseconds (0 without requests).
    pub p50_ms: f64,
    /// 99th-percentile latency in milliseconds (0 without requests).
    pub p99_ms: f64,
    /// Requests answered with a 5xx status.
    pub errors: u64,
    /// Function invocations finished.
    pub invocations: u64,
    /// Pub/sub messages delivered to WebSocket subscribers.
    pub deliveries: u64,
}

/// The counts of the interval in progress.
struct Counts {
    requests: AtomicU64,
    errors: AtomicU64,
    invocations: AtomicU64,
    deliveries: AtomicU64,
    latency: [AtomicU64; BUCKETS],
}

/// The gateway's history: the interval in progress and the samples of the last hour.
pub struct History {
    counts: Counts,
    samples: Mutex<VecDeque<Sample>>,
}

static HISTORY: LazyLock<History> = LazyLock::new(|| History {
    counts: Counts {
        requests: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        invocations: AtomicU64::new(0),
        deliveries: AtomicU64::new(0),
        latency: std::array::from_fn(|_| AtomicU64::new(0)),
    },
    samples: Mutex::new(VecDeque::with_capacity(KEPT)),
});

/// Counts one answered request of `status` that took `elapsed`.
pub fn record_request(status: u16, elapsed: Duration) {
    let counts = &HISTORY.counts;
    counts.requests.fetch_add(1, Ordering::Relaxed);
    if status >= 500 {
        counts.errors.fetch_add(1, Ordering::Relaxed);
    }
    counts.latency[bucket(elapsed)].fetch_add(1, Ordering::Relaxed);
}

/// Counts one finished function invocation.
pub fn record_invocation() {
    HISTORY.counts.invocations.fetch_add(1, Ordering::Relaxed);
}

/// Counts `n` pub/sub messages delivered to subscribers.
pub fn record_deliveries(n: u64) {
    HISTORY.counts.deliveries.fetch_add(n, Ordering::Relaxed);
}

/// The samples of the last hour, oldest first.
pub fn samples() -> Vec<Sample> {
    HISTORY.samples.lock().map(|s| s.iter().copied().collect()).unwrap_or_default()
}

/// Closes an interval every [`INTERVAL`] until `shutdown`.
pub async fn keep(shutdown: CancellationToken) {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + INTERVAL, INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = ticks.tick() => close_interval(),
        }
    }
}

/// Turns the interval in progress into a sample.
fn close_interval() {
    let at = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let sample = HISTORY.counts.take(at);
    if let Ok(mut samples) = HISTORY.samples.lock() {
        if samples.len() == KEPT {
            samples.pop_front();
        }
        samples.push_back(sample);
    }
}

impl Counts {
    fn take(&self, at: u64) -> Sample {
        let latency: Vec<u64> = self.latency.iter().map(|b| b.swap(0, Ordering::Relaxed)).collect();
        let requests = self.requests.swap(0, Ordering::Relaxed);
        Sample {
            at,
            requests_per_sec: requests as f64 / INTERVAL.as_secs_f64(),
            p50_ms: percentile(&latency, 0.50),
            p99_ms: percentile(&latency, 0.99),
            errors: self.errors.swap(0, Ordering::Relaxed),
            invocations: self.invocations.swap(0, Ordering::Relaxed),
            deliveries: self.deliveries.swap(0, Ordering::Relaxed),
        }
    }
}

/// The bucket of a latency.
fn bucket(elapsed: Duration) -> usize {
    let micros = elapsed.as_secs_f64() * 1e6;
    if micros <= FIRST_BUCKET_MICROS {
        return 0;
    }
    let index = ((micros / FIRST_BUCKET_MICROS).log2() * 4.0).ceil();
    (index as usize).min(BUCKETS - 1)
}

/// The upper bound of bucket `i` in milliseconds.
fn bucket_ms(i: usize) -> f64 {
    FIRST_BUCKET_MICROS * 2f64.powf(i as f64 / 4.0) / 1000.0
}

/// The `q` quantile of the histogram `buckets`, as its bucket's upper bound (at most 19%
/// above the true value); 0 for an empty one.
fn percentile(buckets: &[u64], q: f64) -> f64 {
    let total: u64 = buckets.iter().sum();
    if total == 0 {
        return 0.0;
    }
    let rank = ((total as f64) * q).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (i, count) in buckets.iter().enumerate() {
        seen += count;
        if seen >= rank {
            return bucket_ms(i);
        }
    }
    bucket_ms(BUCKETS - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_latency_lands_in_the_bucket_whose_bound_covers_it_closely() {
        for micros in [30u64, 100, 999, 1_000, 12_345, 250_000, 3_000_000] {
            let i = bucket(Duration::from_micros(micros));
            let (bound, ms) = (bucket_ms(i), micros as f64 / 1000.0);
            assert!(bound >= ms && bound <= ms * 1.19 + 0.025, "{micros}µs in bucket {i} bounded by {bound}ms");
        }
        assert_eq!(bucket(Duration::from_secs(3600)), BUCKETS - 1);
    }

    #[test]
    fn percentiles_come_from_the_counts() {
        let mut buckets = [0u64; BUCKETS];
        buckets[bucket(Duration::from_millis(1))] = 98;
        buckets[bucket(Duration::from_millis(50))] = 2;
        assert!((percentile(&buckets, 0.5) - 1.0).abs() < 0.2, "{}", percentile(&buckets, 0.5));
        assert!((percentile(&buckets, 0.99) - 50.0).abs() < 10.0, "{}", percentile(&buckets, 0.99));
        assert_eq!(percentile(&[0; BUCKETS], 0.99), 0.0);
    }

    #[test]
    fn an_interval_becomes_one_sample_and_starts_again_from_zero() {
        let counts = Counts {
            requests: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            invocations: AtomicU64::new(0),
            deliveries: AtomicU64::new(0),
            latency: std::array::from_fn(|_| AtomicU64::new(0)),
        };
        counts.requests.store(50, Ordering::Relaxed);
        counts.errors.store(2, Ordering::Relaxed);
        counts.latency[bucket(Duration::from_millis(2))].store(50, Ordering::Relaxed);
        let sample = counts.take(7);
        assert_eq!((sample.at, sample.requests_per_sec, sample.errors), (7, 5.0, 2));
        assert!(sample.p99_ms >= 2.0 && sample.p99_ms < 2.4, "{sample:?}");
        assert_eq!(counts.take(8).requests_per_sec, 0.0);
    }
}
