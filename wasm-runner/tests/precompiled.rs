//! Compiled modules survive a restart on disk, owner-only; a damaged file is never loaded (it
//! is dropped and the module compiled again).

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use orama_wasm_runner::precompiled::Precompiled;
use orama_wasm_runner::runtime::{Call, CallLimits, RunError, Runtime, RuntimeLimits};

const LIMITS: CallLimits = CallLimits { memory: 1 << 24, timeout: Duration::from_secs(1), max_output: 1 << 20 };

fn runtime(dir: &std::path::Path) -> Runtime {
    Runtime::new(RuntimeLimits::default(), Some(Precompiled::open(dir).expect("dir")), None).expect("runtime")
}

#[test]
fn a_restarted_runtime_runs_what_an_earlier_one_compiled_and_refuses_damaged_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let modules = dir.path().join("modules");
    let greet = std::fs::read(manifest_dir().join("tests/guests/greet.wat")).expect("fixture");
    let hash = runtime(&modules).compile(&greet).expect("compile");
    let file = std::fs::read_dir(&modules).expect("dir").flatten().next().expect("a kept module").path();
    assert_eq!(std::fs::metadata(&file).expect("file").permissions().mode() & 0o777, 0o600);
    assert_eq!(std::fs::metadata(&modules).expect("dir").permissions().mode() & 0o777, 0o700);

    let restarted = runtime(&modules);
    assert_eq!(restarted.run(&hash, Call::with_input(*b"Bo"), LIMITS).expect("from disk").stdout, b"Hello, Bo!");

    std::fs::write(&file, b"not a compiled module").expect("damage");
    let damaged = runtime(&modules);
    assert_eq!(
        damaged.run(&hash, Call::with_input(*b"x"), LIMITS),
        Err(RunError::Unknown),
        "the damaged file is not loaded"
    );
    assert!(!file.exists(), "and is removed");
    assert_eq!(damaged.compile(&greet).expect("recompiled"), hash);
    assert_eq!(damaged.run(&hash, Call::with_input(*b"Cy"), LIMITS).expect("run").stdout, b"Hello, Cy!");
}

/// The package's directory, as cargo tells the running test.
fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")), std::path::PathBuf::from)
}
