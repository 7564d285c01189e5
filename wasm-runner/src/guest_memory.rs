//! Moving bytes across the guest boundary for the host functions: an argument read out of the
//! guest's linear memory (a pointer/length pair outside it is a trap: the guest is broken or
//! hostile), and a result handed back the reference's way, in a buffer the guest allocates
//! with its `orama_alloc` (or `malloc`) export, packed as `(ptr << 32) | len`.
//!
//! Generic over the store's data: nothing here knows what else an invocation holds.

use wasmtime::{Caller, Extern};

/// Most bytes one argument of a host call may span.
const MAX_ARGUMENT: usize = 16 * 1024 * 1024;

/// The guest's bytes `[ptr, ptr + len)`; a trap when they are not all inside its memory.
pub(crate) fn bytes<T: 'static>(
    caller: &mut Caller<'_, T>,
    ptr: i32,
    len: i32,
    what: &str,
) -> wasmtime::Result<Vec<u8>> {
    if len == 0 {
        return Ok(Vec::new());
    }
    let memory = memory(caller)?;
    let data = memory.data(&caller);
    let range = span(ptr, len).filter(|r| r.end <= data.len() && r.len() <= MAX_ARGUMENT);
    match range {
        Some(range) => Ok(data[range].to_vec()),
        None => Err(wasmtime::Error::msg(format!(
            "host call argument {what} (pointer {ptr}, length {len}) is outside the guest's memory of {} bytes",
            data.len()
        ))),
    }
}

/// Like [`bytes`], as text (invalid UTF-8 replaced).
pub(crate) fn text<T: 'static>(caller: &mut Caller<'_, T>, ptr: i32, len: i32, what: &str) -> wasmtime::Result<String> {
    Ok(String::from_utf8_lossy(&bytes(caller, ptr, len, what)?).into_owned())
}

fn span(ptr: i32, len: i32) -> Option<std::ops::Range<usize>> {
    let start = usize::try_from(ptr as u32).ok()?;
    let len = usize::try_from(len as u32).ok()?;
    Some(start..start.checked_add(len)?)
}

/// The guest's memory size in bytes now (0 when it exports none).
pub(crate) fn memory_size<T: 'static>(caller: &mut Caller<'_, T>) -> usize {
    memory(caller).map_or(0, |memory| memory.data_size(&*caller))
}

fn memory<T: 'static>(caller: &mut Caller<'_, T>) -> wasmtime::Result<wasmtime::Memory> {
    match caller.get_export("memory") {
        Some(Extern::Memory(memory)) => Ok(memory),
        _ => Err(wasmtime::Error::msg("a host call needs the guest to export its memory as `memory`")),
    }
}

/// Copies `value` into a buffer the guest allocates; `(ptr << 32) | len`, or 0 when `value` is
/// empty or the guest exports no allocator.
pub(crate) fn give<T: 'static>(caller: &mut Caller<'_, T>, value: &[u8]) -> wasmtime::Result<i64> {
    let Ok(len) = i32::try_from(value.len()) else {
        return Err(wasmtime::Error::msg("a host call result is larger than 2 GiB"));
    };
    if len == 0 {
        return Ok(0);
    }
    let allocator = ["orama_alloc", "malloc"].iter().find_map(|name| caller.get_export(name)?.into_func());
    let Some(allocator) = allocator else { return Ok(0) };
    let ptr = allocator.typed::<i32, i32>(&caller)?.call(&mut *caller, len)?;
    if ptr == 0 {
        return Ok(0);
    }
    let memory = memory(caller)?;
    let data = memory.data_mut(&mut *caller);
    let Some(range) = span(ptr, len).filter(|r| r.end <= data.len()) else {
        return Err(wasmtime::Error::msg(format!("the guest's allocator returned {ptr}, outside its memory")));
    };
    data[range].copy_from_slice(value);
    Ok((i64::from(ptr as u32) << 32) | i64::from(len as u32))
}
