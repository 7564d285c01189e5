//! One command per invocation on stdin, its result on stdout:
//! `cache <key> <value>` (set, then get), `get <key>`, `delete <key>`, `incr <key> <delta>`,
//! `exec <sql>`, `query <sql>`,
//! `fetch <url>`, `secret <name>`, `env <key>`, `publish <topic> <data>`, `caller`, `bad-pointer`,
//! `store <text>` (storage_put: its CID), `load <cid>` (storage_get: the file as text),
//! `flaky <key>` (counts calls in the cache and traps on every odd one); a JSON object (a
//! trigger's input: a pub/sub envelope or a cron tick) is logged as `trigger <input>`, and
//! published twice to the topic in env `ON_TRIGGER_PUBLISH` when set.
//! Host results come back the reference's way: a buffer from our `orama_alloc`, packed as
//! `(ptr << 32) | len`.

use std::io::{Read, Write};

#[link(wasm_import_module = "env")]
unsafe extern "C" {
    fn cache_set(key: *const u8, key_len: usize, value: *const u8, value_len: usize, ttl: i64);
    fn cache_get(key: *const u8, key_len: usize) -> i64;
    fn cache_incr_by(key: *const u8, key_len: usize, delta: i64) -> i64;
    fn db_execute(sql: *const u8, sql_len: usize, args: *const u8, args_len: usize) -> i32;
    fn db_query(sql: *const u8, sql_len: usize, args: *const u8, args_len: usize) -> i64;
    fn get_secret(name: *const u8, name_len: usize) -> i64;
    fn get_env(key: *const u8, key_len: usize) -> i64;
    fn get_caller_wallet() -> i64;
    fn log_info(message: *const u8, len: usize);
}

#[link(wasm_import_module = "host")]
unsafe extern "C" {
    fn http_fetch(
        method: *const u8,
        method_len: usize,
        url: *const u8,
        url_len: usize,
        headers: *const u8,
        headers_len: usize,
        body: *const u8,
        body_len: usize,
    ) -> i64;
    fn pubsub_publish(topic: *const u8, topic_len: usize, data: *const u8, data_len: usize) -> i32;
    fn cache_delete(key: *const u8, key_len: usize) -> i32;
    fn storage_put(data: *const u8, data_len: usize) -> i64;
    fn storage_get(cid: *const u8, cid_len: usize) -> i64;
}

/// The allocator the host calls to hand results over (never freed: one invocation is short).
#[unsafe(no_mangle)]
pub extern "C" fn orama_alloc(size: i32) -> i32 {
    let buffer = vec![0u8; size.max(0) as usize].leak();
    buffer.as_mut_ptr() as i32
}

fn unpack(packed: i64) -> String {
    if packed == 0 {
        return String::new();
    }
    let (ptr, len) = ((packed >> 32) as u32 as usize, packed as u32 as usize);
    // SAFETY: the host wrote `len` bytes into a buffer `orama_alloc` gave it.
    let bytes = unsafe { std::slice::from_raw_parts(ptr as *const u8, len) };
    String::from_utf8_lossy(bytes).into_owned()
}

fn main() {
    let mut input = String::new();
    let _ = std::io::stdin().read_to_string(&mut input);
    if input.starts_with('{') {
        let message = format!("trigger {input}");
        // SAFETY: live strings; the environment's topic, when set, gets the input twice (a
        // function feeding its own trigger, faster than it drains).
        unsafe {
            log_info(message.as_ptr(), message.len());
            let key = "ON_TRIGGER_PUBLISH";
            let topic = unpack(get_env(key.as_ptr(), key.len()));
            for _ in 0..2 {
                if !topic.is_empty() {
                    pubsub_publish(topic.as_ptr(), topic.len(), input.as_ptr(), input.len());
                }
            }
        }
        return;
    }
    let (command, rest) = input.trim().split_once(' ').unwrap_or((input.trim(), ""));
    let (first, second) = rest.split_once(' ').unwrap_or((rest, ""));
    // SAFETY: every pointer/length pair below names a live Rust string.
    let out = unsafe {
        match command {
            "cache" => {
                cache_set(first.as_ptr(), first.len(), second.as_ptr(), second.len(), 0);
                unpack(cache_get(first.as_ptr(), first.len()))
            }
            "get" => unpack(cache_get(first.as_ptr(), first.len())),
            "delete" => cache_delete(first.as_ptr(), first.len()).to_string(),
            "store" => unpack(storage_put(rest.as_ptr(), rest.len())),
            "load" => unpack(storage_get(rest.as_ptr(), rest.len())),
            "flaky" => match cache_incr_by(first.as_ptr(), first.len(), 1) {
                n if n % 2 == 1 => std::process::abort(),
                n => n.to_string(),
            },
            "incr" => cache_incr_by(first.as_ptr(), first.len(), second.parse().unwrap_or(1)).to_string(),
            "exec" => db_execute(rest.as_ptr(), rest.len(), std::ptr::null(), 0).to_string(),
            "query" => unpack(db_query(rest.as_ptr(), rest.len(), std::ptr::null(), 0)),
            "fetch" => {
                let method = "GET";
                let headers = "{\"x-test\":\"from-wasm\"}";
                unpack(http_fetch(
                    method.as_ptr(),
                    method.len(),
                    rest.as_ptr(),
                    rest.len(),
                    headers.as_ptr(),
                    headers.len(),
                    std::ptr::null(),
                    0,
                ))
            }
            "secret" => unpack(get_secret(rest.as_ptr(), rest.len())),
            "env" => unpack(get_env(rest.as_ptr(), rest.len())),
            "caller" => unpack(get_caller_wallet()),
            "publish" => pubsub_publish(first.as_ptr(), first.len(), second.as_ptr(), second.len()).to_string(),
            "bad-pointer" => {
                log_info(0x7fff_0000 as *const u8, 4096);
                "unreachable".to_owned()
            }
            other => format!("unknown command {other:?}"),
        }
    };
    let message = format!("ran {command}");
    // SAFETY: a live string.
    unsafe { log_info(message.as_ptr(), message.len()) };
    let _ = std::io::stdout().write_all(out.as_bytes());
}
