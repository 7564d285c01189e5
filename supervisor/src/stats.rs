//! CPU and memory of the children for `ctl status`, from sysinfo.
//!
//! CPU % is measured between two refreshes: a status request reuses the previous refresh when
//! it is recent, and otherwise takes two samples a short moment apart. Nothing samples in the
//! background, so an idle supervisor does no work for this.

use std::time::{Duration, Instant};

use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};
use tokio::sync::Mutex;

/// How old the previous sample may be to serve as the start of the CPU window.
const WINDOW_MAX: Duration = Duration::from_secs(10);

/// Usage of one process.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    /// CPU use in percent of one core.
    pub cpu_percent: f32,
    /// Resident memory in bytes.
    pub rss_bytes: u64,
}

/// A sysinfo view kept between requests.
#[derive(Debug)]
pub struct Stats {
    inner: Mutex<(Option<System>, Option<Instant>)>,
}

impl Default for Stats {
    fn default() -> Self {
        Stats { inner: Mutex::new((System::new().ok(), None)) }
    }
}

impl Stats {
    /// Usage of each pid (in the same order); `None` for a pid that is gone.
    pub async fn sample(&self, pids: &[u32]) -> Vec<Option<Usage>> {
        let list: Vec<Pid> = pids.iter().map(|p| Pid::from_u32(*p)).collect();
        let mut guard = self.inner.lock().await;
        let (system, last) = &mut *guard;
        let Some(system) = system else { return vec![None; pids.len()] };
        let kind = ProcessRefreshKind::nothing().with_cpu().with_memory();
        if last.is_none_or(|t| t.elapsed() > WINDOW_MAX) {
            system.refresh_processes_specifics(ProcessesToUpdate::Some(&list), true, kind);
            tokio::time::sleep(sysinfo::MINIMUM_CPU_UPDATE_INTERVAL.max(Duration::from_millis(100))).await;
        }
        system.refresh_processes_specifics(ProcessesToUpdate::Some(&list), true, kind);
        *last = Some(Instant::now());
        list.iter()
            .map(|pid| system.process(*pid).map(|p| Usage { cpu_percent: p.cpu_usage(), rss_bytes: p.memory() }))
            .collect()
    }
}
