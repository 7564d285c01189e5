//! The one place wasmtime is configured, and how a function runs: a WASI preview1 command
//! module gets its input on stdin and answers on stdout. Every instance comes from a pooling
//! allocator (bounded slots, no mmap per call), gets a memory cap (grow failures trap), a
//! bounded stack (deep recursion traps), a wall-clock deadline (epoch interruption, ticked by
//! one thread) and capped stdout/stderr. Compiled modules are cached by the SHA-256 of their
//! bytes, in memory and on disk ([`Precompiled`]), so a module is compiled once however often
//! it runs and across restarts.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, InstancePre, Linker, Module, OptLevel, PoolingAllocationConfig, Store,
    StoreLimitsBuilder, Trap,
};
use wasmtime_wasi::I32Exit;
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::p1;
use wasmtime_wasi::p2::pipe::{MemoryInputPipe, MemoryOutputPipe};

use crate::guest::{Guest, PeakLimiter};
use crate::host::{CallContext, HostBackend, HostState, LogLine};
use crate::precompiled::Precompiled;

/// How often the deadline clock ticks; deadlines are rounded up to it.
const TICK: Duration = Duration::from_millis(5);
/// Compiled modules kept in memory (all of them stay on disk).
const MAX_MODULES_IN_MEMORY: usize = 512;

/// Bounds of the whole runtime, set by the operator.
#[derive(Debug, Clone, Copy)]
pub struct RuntimeLimits {
    /// Instances that can run at once (pooling allocator slots).
    pub instances: u32,
    /// The most linear memory any instance may have.
    pub max_memory: usize,
    /// Wasm stack per instance.
    pub max_stack: usize,
}

impl Default for RuntimeLimits {
    fn default() -> Self {
        RuntimeLimits { instances: 64, max_memory: 128 * 1024 * 1024, max_stack: 512 * 1024 }
    }
}

/// Bounds of one invocation.
#[derive(Debug, Clone, Copy)]
pub struct CallLimits {
    /// Linear memory (capped by [`RuntimeLimits::max_memory`]).
    pub memory: usize,
    /// Wall-clock time.
    pub timeout: Duration,
    /// Bytes of stdout, and of stderr.
    pub max_output: usize,
}

/// One invocation: the input on stdin and what the host functions answer from.
#[derive(Debug, Clone, Default)]
pub struct Call {
    /// Bytes on stdin.
    pub input: Vec<u8>,
    /// Request id, caller, environment and backend token.
    pub context: CallContext,
}

impl Call {
    /// A call with `input` and no context (no backend calls).
    pub fn with_input(input: impl Into<Vec<u8>>) -> Call {
        Call { input: input.into(), context: CallContext::default() }
    }
}

/// What a function answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Its stdout.
    pub stdout: Vec<u8>,
    /// Its stderr.
    pub stderr: Vec<u8>,
    /// What it logged through `log_info`/`log_error`.
    pub logs: Vec<LogLine>,
    /// How long it ran.
    pub duration: Duration,
    /// The most linear memory it had, in bytes.
    pub memory: usize,
}

/// Why a function did not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    /// The bytes are not a valid module.
    #[error("invalid module: {0}")]
    Invalid(String),
    /// The module imports something the runtime does not provide, or has no `_start`.
    #[error("cannot link the module: {0}")]
    Link(String),
    /// It ran past its time limit.
    #[error("the function ran longer than {0:?}")]
    Timeout(Duration),
    /// It wanted more memory than allowed.
    #[error("the function exceeded its memory limit of {0} bytes")]
    Memory(usize),
    /// It wrote more than allowed.
    #[error("the function wrote more than {0} bytes of output")]
    Output(usize),
    /// It trapped (`unreachable`, stack overflow, out-of-bounds access, …).
    #[error("the function trapped: {0}")]
    Trap(String),
    /// It exited with a non-zero status.
    #[error("the function exited with status {0}")]
    Exit(i32),
    /// Every instance slot is busy.
    #[error("the runtime is at its concurrency limit")]
    Busy,
    /// No module with that hash has been compiled here (the runner restarted: compile again).
    #[error("no such module here")]
    Unknown,
}

/// The engine, the linker and the compiled modules.
pub struct Runtime {
    engine: Engine,
    linker: Linker<Guest>,
    modules: Mutex<HashMap<[u8; 32], InstancePre<Guest>>>,
    precompiled: Option<Precompiled>,
    backend: Option<Arc<dyn HostBackend>>,
    limits: RuntimeLimits,
    ticking: Arc<AtomicBool>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").field("limits", &self.limits).finish_non_exhaustive()
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.ticking.store(false, Ordering::Relaxed);
    }
}

impl Runtime {
    /// A runtime within `limits`, with its deadline clock running; compiled modules are kept
    /// in `precompiled` when given. Without a `backend`, host calls that need the gateway
    /// answer 0 (and say so in the function's log).
    pub fn new(
        limits: RuntimeLimits,
        precompiled: Option<Precompiled>,
        backend: Option<Arc<dyn HostBackend>>,
    ) -> wasmtime::Result<Runtime> {
        let mut pool = PoolingAllocationConfig::default();
        pool.total_core_instances(limits.instances)
            .total_memories(limits.instances)
            .total_tables(limits.instances)
            .total_stacks(limits.instances)
            .max_memory_size(limits.max_memory)
            // Reset a finished instance's memory by scanning for the pages it touched and
            // zeroing those (up to 2 MiB), rather than unmapping: the next instance in the slot
            // takes no page faults, and the process no TLB shootdowns.
            .pagemap_scan(wasmtime::Enabled::Auto)
            .linear_memory_keep_resident(2 << 20)
            .table_keep_resident(64 << 10)
            .decommit_batch_size(16);
        let mut config = Config::new();
        config
            .epoch_interruption(true)
            .max_wasm_stack(limits.max_stack)
            .cranelift_opt_level(OptLevel::Speed)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&config)?;
        let mut linker = Linker::new(&engine);
        p1::add_to_linker_sync(&mut linker, |guest: &mut Guest| &mut guest.wasi)?;
        crate::host::add_to_linker(&mut linker)?;
        let ticking = Arc::new(AtomicBool::new(true));
        let (clock, running) = (engine.clone(), ticking.clone());
        std::thread::Builder::new().name("wasm-deadlines".into()).spawn(move || {
            while running.load(Ordering::Relaxed) {
                std::thread::sleep(TICK);
                clock.increment_epoch();
            }
        })?;
        Ok(Runtime { engine, linker, modules: Mutex::default(), precompiled, backend, limits, ticking })
    }

    /// Validates, compiles and links `wasm` (binary or text), keeping it by content hash: a
    /// module that is not valid, imports what the host does not provide or is not a WASI
    /// command (`_start`) is refused here, before it is ever run.
    pub fn compile(&self, wasm: &[u8]) -> Result<[u8; 32], RunError> {
        let hash: [u8; 32] = Sha256::digest(wasm).into();
        if self.modules.lock().unwrap_or_else(|p| p.into_inner()).contains_key(&hash) {
            return Ok(hash);
        }
        let prepared = match self.precompiled.as_ref().and_then(|p| p.load(&self.engine, &hash)) {
            Some(module) => self.prepare(&module)?,
            None => {
                let module = Module::new(&self.engine, wasm).map_err(|e| RunError::Invalid(format!("{e:#}")))?;
                let prepared = self.prepare(&module)?;
                if let Some(precompiled) = &self.precompiled {
                    precompiled.save(&hash, &module);
                }
                prepared
            }
        };
        self.keep(hash, prepared);
        Ok(hash)
    }

    /// `module` linked against the host: its imports resolved once, so each run only
    /// instantiates.
    fn prepare(&self, module: &Module) -> Result<InstancePre<Guest>, RunError> {
        match module.get_export("_start") {
            Some(wasmtime::ExternType::Func(f)) if f.params().len() == 0 && f.results().len() == 0 => {}
            _ => {
                return Err(RunError::Link("the module is not a WASI command: it exports no `_start` function".into()));
            }
        }
        self.linker.instantiate_pre(module).map_err(|e| RunError::Link(format!("{e:#}")))
    }

    fn keep(&self, hash: [u8; 32], prepared: InstancePre<Guest>) {
        let mut modules = self.modules.lock().unwrap_or_else(|p| p.into_inner());
        if modules.len() >= MAX_MODULES_IN_MEMORY {
            // The disk keeps them all; memory keeps the most recently used few.
            if let Some(evicted) = modules.keys().next().copied() {
                modules.remove(&evicted);
            }
        }
        modules.insert(hash, prepared);
    }

    /// The compiled module `hash`: in memory, or kept on disk by an earlier run.
    fn module(&self, hash: &[u8; 32]) -> Option<InstancePre<Guest>> {
        if let Some(prepared) = self.modules.lock().unwrap_or_else(|p| p.into_inner()).get(hash) {
            return Some(prepared.clone());
        }
        let module = self.precompiled.as_ref()?.load(&self.engine, hash)?;
        let prepared = self.prepare(&module).ok()?;
        self.keep(*hash, prepared.clone());
        Some(prepared)
    }

    /// Runs the compiled module `hash` on `call`.
    pub fn run(&self, hash: &[u8; 32], call: Call, limits: CallLimits) -> Result<Outcome, RunError> {
        let module = self.module(hash).ok_or(RunError::Unknown)?;
        let memory = limits.memory.min(self.limits.max_memory);
        let (stdout, stderr) = (MemoryOutputPipe::new(limits.max_output), MemoryOutputPipe::new(limits.max_output));
        let wasi = WasiCtxBuilder::new()
            .stdin(MemoryInputPipe::new(call.input))
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .build_p1();
        let store_limits = StoreLimitsBuilder::new()
            .memory_size(memory)
            .instances(1)
            .tables(4)
            .memories(1)
            .trap_on_grow_failure(true)
            .build();
        let started = Instant::now();
        let host = HostState::new(call.context, self.backend.clone(), started + limits.timeout, memory);
        let guest = Guest { wasi, limits: PeakLimiter::new(store_limits), host };
        let mut store = Store::new(&self.engine, guest);
        store.limiter(|guest| &mut guest.limits);
        let ticks = limits.timeout.as_nanos().div_ceil(TICK.as_nanos()).max(1) as u64 + 1;
        store.set_epoch_deadline(ticks);
        let ran = module
            .instantiate(&mut store)
            .and_then(|instance| instance.get_typed_func::<(), ()>(&mut store, "_start"))
            .map_err(|e| classify(e, limits, memory))
            .map(|start| start.call(&mut store, ()));
        let duration = started.elapsed();
        let full = |pipe: &MemoryOutputPipe| pipe.contents().len() >= limits.max_output;
        if full(&stdout) || full(&stderr) {
            // A guest that filled its output gets told so, whatever it did after (WASI hands it
            // an error per write from then on; one that ignores them runs into its deadline).
            return Err(RunError::Output(limits.max_output));
        }
        match ran? {
            Ok(()) => {}
            Err(err) => match err.downcast_ref::<I32Exit>() {
                Some(I32Exit(0)) => {}
                Some(I32Exit(code)) => return Err(RunError::Exit(*code)),
                None => return Err(classify(err, limits, memory)),
            },
        }
        let guest = store.into_data();
        Ok(Outcome {
            stdout: stdout.contents().to_vec(),
            stderr: stderr.contents().to_vec(),
            logs: guest.host.into_logs(),
            duration,
            memory: guest.limits.peak(),
        })
    }
}

fn classify(err: wasmtime::Error, limits: CallLimits, memory: usize) -> RunError {
    let text = format!("{err:#}");
    if let Some(trap) = err.downcast_ref::<Trap>() {
        return match trap {
            Trap::Interrupt => RunError::Timeout(limits.timeout),
            other => RunError::Trap(other.to_string()),
        };
    }
    if text.contains("forcing trap when growing memory") || text.contains("memory minimum size") {
        return RunError::Memory(memory);
    }
    if text.contains("beyond capacity") {
        return RunError::Output(limits.max_output);
    }
    if text.contains("unknown import")
        || text.contains("incompatible import")
        || text.contains("missing required memory export")
        || text.contains("failed to find function export")
    {
        return RunError::Link(text);
    }
    if text.contains("maximum concurrent") || text.contains("pooling allocator") {
        return RunError::Busy;
    }
    // A host function's refusal: its own message, without the wasm backtrace around it.
    RunError::Trap(err.root_cause().to_string())
}
