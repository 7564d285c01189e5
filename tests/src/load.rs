//! What the load generators share: gathering their client threads' latencies and reading
//! quantiles from them.

use std::thread::JoinHandle;
use std::time::Duration;

/// Latencies of many requests, sorted.
#[derive(Debug, Default)]
pub struct Latencies {
    sorted: Vec<Duration>,
}

impl Latencies {
    /// From any order.
    pub fn new(mut times: Vec<Duration>) -> Latencies {
        times.sort();
        Latencies { sorted: times }
    }

    /// Joins client threads that each return (latencies, errors); all latencies and the
    /// error count.
    pub fn join(threads: Vec<JoinHandle<(Vec<Duration>, usize)>>) -> (Latencies, usize) {
        let (mut times, mut errors) = (Vec::new(), 0);
        for thread in threads {
            let (t, e) = thread.join().expect("client thread");
            times.extend(t);
            errors += e;
        }
        (Latencies::new(times), errors)
    }

    /// The `q` quantile (0.5 = median); zero when empty.
    pub fn at(&self, q: f64) -> Duration {
        let last = self.sorted.len().saturating_sub(1);
        self.sorted.get(((self.sorted.len() as f64 * q) as usize).min(last)).copied().unwrap_or_default()
    }

    /// The mean; zero when empty.
    pub fn mean(&self) -> Duration {
        self.sorted.iter().sum::<Duration>() / self.sorted.len().max(1) as u32
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }
}
