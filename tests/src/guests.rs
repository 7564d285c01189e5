//! The Rust guest programs the function tests deploy, built for wasm32-wasip1 on first use.

use std::path::PathBuf;
use std::process::Command;

use crate::process::bin;

/// The package's directory, as cargo tells the running test (a binary built from another
/// checkout sharing the target dir would otherwise point at that checkout).
pub fn manifest_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
}

/// The module of guest program `name` (`wasm-runner/guests/<name>`, Rust for wasm32-wasip1),
/// built on first use into the target dir (needs `rustup target add wasm32-wasip1`).
pub fn guest_wasm(name: &str) -> PathBuf {
    let manifest = manifest_dir().join(format!("../wasm-runner/guests/{name}/Cargo.toml"));
    let target = bin("orama-supervisor").parent().expect("bin dir").join("guests");
    let built = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--quiet", "--release", "--target", "wasm32-wasip1", "--manifest-path"])
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target)
        .status()
        .expect("run cargo");
    assert!(built.success(), "building guest {name} failed (is the wasm32-wasip1 target installed?)");
    target.join(format!("wasm32-wasip1/release/{name}.wasm"))
}
