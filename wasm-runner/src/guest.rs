//! The data of one invocation's store: its WASI context, the limiter that bounds (and
//! measures) its memory, and its host-side state. Nothing here is shared with another
//! invocation.

use wasmtime::{ResourceLimiter, StoreLimits};
use wasmtime_wasi::p1::WasiP1Ctx;

use crate::host::{HostState, HostView};

/// Per-instance state: nothing here is shared with another invocation.
pub(crate) struct Guest {
    /// The WASI preview1 context (stdin, stdout, stderr pipes).
    pub(crate) wasi: WasiP1Ctx,
    /// The store's limits.
    pub(crate) limits: PeakLimiter,
    /// What the host functions answer from and collect.
    pub(crate) host: HostState,
}

impl HostView for Guest {
    fn host_state(&mut self) -> &mut HostState {
        &mut self.host
    }
}

/// The store's limits, remembering the most memory the guest was granted.
pub(crate) struct PeakLimiter {
    limits: StoreLimits,
    peak: usize,
}

impl PeakLimiter {
    /// `limits`, with no memory granted yet.
    pub(crate) fn new(limits: StoreLimits) -> PeakLimiter {
        PeakLimiter { limits, peak: 0 }
    }

    /// The most linear memory the guest was granted, in bytes.
    pub(crate) fn peak(&self) -> usize {
        self.peak
    }
}

impl std::fmt::Debug for PeakLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeakLimiter").field("peak", &self.peak).finish_non_exhaustive()
    }
}

impl ResourceLimiter for PeakLimiter {
    fn memory_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        let granted = self.limits.memory_growing(current, desired, maximum)?;
        if granted {
            self.peak = self.peak.max(desired);
        }
        Ok(granted)
    }

    fn table_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        self.limits.table_growing(current, desired, maximum)
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }

    fn tables(&self) -> usize {
        self.limits.tables()
    }

    fn memories(&self) -> usize {
        self.limits.memories()
    }
}
