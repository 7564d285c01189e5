//! CPU and memory of the children for `ctl status`, read from `/proc/<pid>/stat`.
//!
//! CPU % is the CPU time a process used over a wall-clock window of at least [`MIN_WINDOW`]
//! (one reading alone says nothing of the present, and a window of a few milliseconds turns
//! one 10 ms clock tick into hundreds of percent). The end of each request's window is kept as
//! the start of the next one's for up to [`MAX_WINDOW`], so status requests in a row each
//! report the use since the previous one without waiting; a request with no such start takes
//! one and waits out the minimum window. Nothing samples in the background.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The shortest window CPU use is measured over.
pub const MIN_WINDOW: Duration = Duration::from_millis(200);

/// How old the previous reading may be to serve as the start of the window.
pub const MAX_WINDOW: Duration = Duration::from_secs(10);

/// Usage of one process.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    /// CPU use in percent of one core (at most 100 × the cores available).
    pub cpu_percent: f32,
    /// Resident memory in bytes.
    pub rss_bytes: u64,
}

/// One reading of a process's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reading {
    /// When the process started, in clock ticks since boot (tells a reused pid apart).
    pub start_ticks: u64,
    /// User plus system CPU time, in clock ticks.
    pub cpu_ticks: u64,
    /// Resident memory in pages.
    pub rss_pages: u64,
}

/// Reads the counters out of the text of `/proc/<pid>/stat`; `None` if it is not such a text.
pub fn parse_stat(text: &str) -> Option<Reading> {
    // The command name (field 2) is in parentheses and may hold spaces and ')': the fields
    // that follow the last ')' start at field 3.
    let (_, rest) = text.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<i64>().ok()).map(|v| v.max(0) as u64);
    Some(Reading { cpu_ticks: field(14)? + field(15)?, start_ticks: field(22)?, rss_pages: field(24)? })
}

/// The readings kept between requests, and the system's units.
#[derive(Debug)]
pub struct Stats {
    previous: Mutex<HashMap<u32, (Reading, Instant)>>,
    ticks_per_second: f64,
    page_size: u64,
    max_percent: f32,
}

impl Default for Stats {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Stats {
            previous: Mutex::new(HashMap::new()),
            ticks_per_second: rustix::param::clock_ticks_per_second().max(1) as f64,
            page_size: rustix::param::page_size() as u64,
            max_percent: 100.0 * cores as f32,
        }
    }
}

impl Stats {
    /// Usage of each pid (in the same order); `None` for a pid that is gone (or 0).
    pub async fn sample(&self, pids: &[u32]) -> Vec<Option<Usage>> {
        let now = Instant::now();
        let starts: Vec<Option<(Reading, Instant)>> = {
            let previous = self.previous.lock().unwrap_or_else(|e| e.into_inner());
            pids.iter()
                .map(|pid| {
                    let kept = previous.get(pid).filter(|(_, at)| now.duration_since(*at) <= MAX_WINDOW).copied();
                    kept.or_else(|| read(*pid).map(|reading| (reading, now)))
                })
                .collect()
        };
        if let Some(until) = starts.iter().flatten().map(|(_, at)| *at + MIN_WINDOW).max() {
            tokio::time::sleep_until(until.into()).await;
        }
        let end = Instant::now();
        let mut previous = self.previous.lock().unwrap_or_else(|e| e.into_inner());
        previous.retain(|_, (_, at)| end.duration_since(*at) <= MAX_WINDOW);
        pids.iter()
            .zip(starts)
            .map(|(pid, start)| {
                let (start, since) = start?;
                let reading = read(*pid)?;
                previous.insert(*pid, (reading, end));
                Some(self.usage(start, since, reading, end))
            })
            .collect()
    }

    /// Usage between two readings of a process (no CPU figure across a reused pid).
    fn usage(&self, start: Reading, since: Instant, end: Reading, at: Instant) -> Usage {
        let window = at.duration_since(since).as_secs_f64();
        let same_process = start.start_ticks == end.start_ticks;
        let cpu_ticks = if same_process { end.cpu_ticks.saturating_sub(start.cpu_ticks) } else { 0 };
        let percent = if window > 0.0 { cpu_ticks as f64 / self.ticks_per_second / window * 100.0 } else { 0.0 };
        Usage {
            // A window holds a whole number of 10 ms ticks, so a busy process may read a tick
            // over its true share: no process uses more than every core.
            cpu_percent: (percent as f32).clamp(0.0, self.max_percent),
            rss_bytes: end.rss_pages * self.page_size,
        }
    }
}

fn read(pid: u32) -> Option<Reading> {
    if pid == 0 {
        return None;
    }
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_read_after_the_command_name() {
        let text =
            "42 (a) b (c)) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 9000 1000000 300 18446744073709551615";
        let reading = parse_stat(text).expect("parsed");
        assert_eq!(reading, Reading { cpu_ticks: 300, start_ticks: 9000, rss_pages: 300 });
        assert_eq!(parse_stat("42 (truncated) S 1"), None);
    }

    #[tokio::test]
    async fn a_busy_process_reads_about_one_core_and_an_idle_one_about_none() {
        let busy = std::process::Command::new("sh").args(["-c", "while :; do :; done"]).spawn().expect("busy");
        let idle = std::process::Command::new("sleep").arg("30").spawn().expect("idle");
        let stats = Stats::default();
        let first = stats.sample(&[busy.id(), idle.id(), 0]).await;
        let second = stats.sample(&[busy.id(), idle.id()]).await;
        for mut child in [busy, idle] {
            let _ = child.kill();
            let _ = child.wait();
        }
        for usage in [&first, &second] {
            let busy = usage[0].expect("busy usage");
            let idle = usage[1].expect("idle usage");
            assert!(busy.cpu_percent > 10.0 && busy.cpu_percent <= stats.max_percent, "{busy:?}");
            assert!(idle.cpu_percent < 5.0, "{idle:?}");
            assert!(idle.rss_bytes > 0, "{idle:?}");
        }
        assert_eq!(first[2], None, "pid 0 is no process");
    }
}
