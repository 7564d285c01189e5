//! `orama-wasm-runner`: runs untrusted WebAssembly functions in a process of its own, so a
//! hostile or broken function can at worst take this process down, never the gateway.
//! [`runtime`] configures wasmtime and runs one invocation within its limits.

pub mod runtime;
