//! The `wasm_runner` section: the process that runs untrusted WebAssembly functions, and the
//! operator's bounds on them, with how it is read from the YAML tree.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use super::read::{Field, Problems};
use super::sections::{HOUR, MS, child_settings};
use super::types::{ChildSettings, humantime_serde};

/// The `wasm_runner` section.
#[derive(Debug, Clone, Serialize)]
pub struct WasmRunnerConfig {
    /// Supervision of the runner (off by default until the functions API lands).
    #[serde(flatten)]
    pub child: ChildSettings,
    /// Override of the program to run (default: `orama-wasm-runner` beside the supervisor).
    pub command: Option<PathBuf>,
    /// Functions running at once (instance slots); more wait briefly, then get 503.
    pub instances: u32,
    /// Most linear memory a function may have.
    pub max_memory: u64,
    /// Longest a function may run (a function's own timeout is capped by this).
    #[serde(with = "humantime_serde")]
    pub max_timeout: Duration,
    /// Most bytes of output (stdout, and stderr) a function may write.
    pub max_output: u64,
}

impl Default for WasmRunnerConfig {
    fn default() -> Self {
        WasmRunnerConfig {
            child: ChildSettings { enabled: false, ..ChildSettings::default() },
            command: None,
            instances: 64,
            max_memory: 128 * 1024 * 1024,
            max_timeout: Duration::from_secs(30),
            max_output: 10 * 1024 * 1024,
        }
    }
}

pub(super) fn wasm_runner_section(f: &Field, p: &mut Problems) -> WasmRunnerConfig {
    const MIB: u64 = 1024 * 1024;
    let mut t = f.table(p);
    let mut runner = WasmRunnerConfig::default();
    child_settings(&mut t, &mut runner.child, p);
    runner.command = t.take("command").and_then(|f| f.non_empty_string(p)).map(PathBuf::from);
    if let Some(n) = t.take("instances").and_then(|f| f.int_in(p, 1, 10_000)) {
        runner.instances = n as u32;
    }
    if let Some(n) = t.take("max_memory").and_then(|f| f.bytes_in(p, MIB, 4 * 1024 * MIB)) {
        runner.max_memory = n;
    }
    if let Some(d) = t.take("max_timeout").and_then(|f| f.duration_in(p, 10 * MS, HOUR)) {
        runner.max_timeout = d;
    }
    if let Some(n) = t.take("max_output").and_then(|f| f.bytes_in(p, 1024, 1024 * MIB)) {
        runner.max_output = n;
    }
    t.finish(p);
    runner
}
