//! Runner-side cost of one invocation with a warm module cache: instantiate a WASI command
//! (the module at the path given, e.g. the Rust `hello` guest, else the `greet` fixture), feed
//! it stdin, collect stdout, drop the instance; 10,000 times in a row, then again on as many
//! threads as cores. Prints p50/p99 and invocations/s.
//! `cargo run --release -p orama-wasm-runner --bin runner-bench [module.wasm]`

use std::sync::Arc;
use std::time::{Duration, Instant};

use orama_wasm_runner::runtime::{Call, CallLimits, Runtime, RuntimeLimits};

const CALLS: usize = 10_000;

fn main() {
    let (name, wasm) = match std::env::args().nth(1) {
        Some(path) => (path.clone(), std::fs::read(&path).expect("module")),
        None => ("greet.wat".to_owned(), include_bytes!("../../tests/guests/greet.wat").to_vec()),
    };
    let runtime = Arc::new(Runtime::new(RuntimeLimits::default(), None, None).expect("runtime"));
    let module = runtime.compile(&wasm).expect("compile");
    println!("module: {name}");
    let limits = CallLimits { memory: 16 << 20, timeout: Duration::from_secs(1), max_output: 1 << 20 };
    let mut times: Vec<Duration> = (0..CALLS)
        .map(|_| {
            let started = Instant::now();
            runtime.run(&module, Call::with_input(*br#"{"name":"Ada"}"#), limits).expect("run");
            started.elapsed()
        })
        .collect();
    times.sort();
    let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
    println!("one thread: p50 {:?}, p99 {:?} per invocation (instantiate + run + drop)", at(0.5), at(0.99));

    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let started = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let runtime = runtime.clone();
            std::thread::spawn(move || {
                for _ in 0..CALLS / threads {
                    runtime.run(&module, Call::with_input(*br#"{"name":"Ada"}"#), limits).expect("run");
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().expect("thread");
    }
    let rate = (CALLS / threads * threads) as f64 / started.elapsed().as_secs_f64();
    println!("{threads} threads: {rate:.0} invocations/s");
}
