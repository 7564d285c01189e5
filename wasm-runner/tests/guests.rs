//! Guests good and hostile, each a tiny `.wat` fixture, against the real runtime: each ends
//! with its answer or a clear error, and the runtime goes on serving the next call.

use std::time::{Duration, Instant};

use orama_wasm_runner::runtime::{Call, CallLimits, RunError, Runtime, RuntimeLimits};

const LIMITS: CallLimits =
    CallLimits { memory: 16 * 1024 * 1024, timeout: Duration::from_millis(200), max_output: 1024 * 1024 };

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(manifest_dir().join(format!("tests/guests/{name}.wat"))).expect("fixture")
}

fn run(runtime: &Runtime, name: &str, input: &[u8]) -> Result<Vec<u8>, RunError> {
    let module = runtime.compile(&fixture(name))?;
    runtime.run(&module, Call::with_input(input), LIMITS).map(|outcome| outcome.stdout)
}

#[test]
fn hostile_guests_end_with_clear_errors_and_the_runtime_keeps_serving() {
    let runtime = Runtime::new(RuntimeLimits::default(), None, None).expect("runtime");
    assert_eq!(run(&runtime, "greet", b"Ada").expect("greet"), b"Hello, Ada!");

    let started = Instant::now();
    assert_eq!(run(&runtime, "infinite_loop", b""), Err(RunError::Timeout(LIMITS.timeout)));
    assert!(started.elapsed() < Duration::from_secs(2), "stopped near its deadline: {:?}", started.elapsed());
    assert_eq!(run(&runtime, "memory_bomb", b""), Err(RunError::Memory(LIMITS.memory)));
    assert!(
        matches!(run(&runtime, "deep_recursion", b""), Err(RunError::Trap(m)) if m.contains("stack")),
        "stack overflow"
    );
    assert!(matches!(run(&runtime, "unreachable", b""), Err(RunError::Trap(m)) if m.contains("unreachable")));
    assert!(matches!(run(&runtime, "unknown_import", b""), Err(RunError::Link(m)) if m.contains("launch_missiles")));
    assert_eq!(run(&runtime, "giant_output", b""), Err(RunError::Output(LIMITS.max_output)));
    assert_eq!(run(&runtime, "exit_code", b""), Err(RunError::Exit(3)));
    let out_of_bounds = run(&runtime, "out_of_bounds", b"");
    assert!(
        matches!(&out_of_bounds, Err(RunError::Trap(m)) if m.contains("out of bounds"))
            || out_of_bounds == Ok(Vec::new()),
        "WASI refuses the pointer and nothing is written: {out_of_bounds:?}"
    );
    assert!(matches!(runtime.compile(b"\0asm\x01\0\0\0\x01garbage"), Err(RunError::Invalid(_))));

    assert_eq!(run(&runtime, "greet", b"again").expect("still serving"), b"Hello, again!");
}

#[test]
fn concurrent_invocations_do_not_see_each_other() {
    let runtime = std::sync::Arc::new(Runtime::new(RuntimeLimits::default(), None, None).expect("runtime"));
    let module = runtime.compile(&fixture("greet")).expect("compile");
    let handles: Vec<_> = (0..16)
        .map(|i| {
            let runtime = runtime.clone();
            std::thread::spawn(move || {
                let input = format!("caller {i}");
                let out = runtime.run(&module, Call::with_input(input.clone()), LIMITS).expect("run").stdout;
                assert_eq!(out, format!("Hello, {input}!").into_bytes());
            })
        })
        .collect();
    for handle in handles {
        handle.join().expect("thread");
    }
}

#[test]
fn host_functions_answer_from_the_invocation_context_and_refuse_bad_pointers() {
    use orama_wasm_runner::host::{CallContext, LogLine};
    let runtime = Runtime::new(RuntimeLimits::default(), None, None).expect("runtime");
    let module = runtime.compile(&fixture("host_context")).expect("compile");
    let context = CallContext {
        request_id: "req-1".into(),
        caller: "0xabc".into(),
        env: [("GREETING".to_owned(), "hi".to_owned())].into(),
        token: None,
    };
    let outcome = runtime.run(&module, Call { input: Vec::new(), context }, LIMITS).expect("run");
    assert_eq!(String::from_utf8_lossy(&outcome.stdout), "req-1|hi|0xabc");
    assert_eq!(
        outcome.logs,
        [
            LogLine { level: "info", message: "started".into() },
            LogLine { level: "error", message: "almost done".into() }
        ]
    );
    assert!(outcome.memory >= 65536, "one page at least: {}", outcome.memory);

    let module = runtime.compile(&fixture("host_out_of_bounds")).expect("compile");
    let refused = runtime.run(&module, Call::with_input(*b""), LIMITS);
    assert!(
        matches!(&refused, Err(RunError::Trap(m)) if m.contains("outside the guest's memory")),
        "a clear error: {refused:?}"
    );
    let module = runtime.compile(&fixture("greet")).expect("compile");
    assert_eq!(runtime.run(&module, Call::with_input(*b"x"), LIMITS).expect("still serving").stdout, b"Hello, x!");
}

/// The package's directory, as cargo tells the running test.
fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")), std::path::PathBuf::from)
}
