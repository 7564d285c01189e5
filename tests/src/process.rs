//! Our processes and waits: where a binary is, free ports, a process's liveness, signals and
//! memory, and the one way a test waits (poll a condition with a deadline).

use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Default bound on a wait.
pub const WAIT: Duration = Duration::from_secs(20);

/// Path of one of our binaries in the target dir this executable was built into: beside it
/// (a bench binary) or one level up (a test, which lives in `deps/`).
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe.parent().expect("exe dir");
    let candidates = [dir.join(name), dir.parent().map(|d| d.join(name)).unwrap_or_default()];
    let found = candidates.iter().find(|p| p.is_file());
    found.cloned().unwrap_or_else(|| panic!("{name} is missing beside {}: build the workspace first", exe.display()))
}

/// A free TCP port on 127.0.0.1, never one this process was given before: the kernel may hand
/// a just-released port out again, and a test asking for two ports (a gateway's and a
/// bridge's) must not get the same one twice.
///
/// The port is below the kernel's ephemeral range. A port from that range (what binding port 0
/// gives) can be taken by any process listening on port 0, such as the pub/sub bridge's libp2p
/// listener, or by an outgoing connection, between the moment it is handed out and the moment
/// its owner binds it. Tests running in parallel processes start at different points of the
/// range, and each candidate is checked free by binding it.
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let (low, high) = below_ephemeral();
    let span = u32::from(high - low);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let seed = std::process::id().wrapping_mul(2_654_435_761) ^ nanos;
    let mut given = GIVEN.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    for step in 0..span {
        let port = low + (seed.wrapping_add(step) % span) as u16;
        if !given.contains(&port) && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            given.push(port);
            return port;
        }
    }
    panic!("no free port in {low}..{high}");
}

/// The ports tests take: from 10000 (or half the range's start, on a host whose range starts
/// lower) up to the start of the kernel's ephemeral range.
fn below_ephemeral() -> (u16, u16) {
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap_or_default();
    let start = range.split_whitespace().next().and_then(|p| p.parse::<u16>().ok()).unwrap_or(32768).max(2);
    (10_000.min(start / 2), start)
}

/// True while `pid` exists and is not a zombie.
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat.rsplit_once(") ").is_some_and(|(_, rest)| !rest.starts_with('Z')),
        Err(_) => false,
    }
}

/// Sends `signal` to `pid`.
pub fn signal(pid: u32, signal: rustix::process::Signal) {
    let pid = rustix::process::Pid::from_raw(pid as i32).expect("pid");
    rustix::process::kill_process(pid, signal).expect("kill");
}

/// Memory of process `pid` in bytes: resident now, and the peak resident size since it started
/// or since the last [`reset_peak_memory`].
pub fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| -> u64 {
        let line = status.lines().find(|l| l.starts_with(name)).unwrap_or_default();
        line.split_whitespace().nth(1).and_then(|kib| kib.parse::<u64>().ok()).unwrap_or(0) * 1024
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Makes `pid`'s peak resident size its current one, so a later [`memory`] shows the peak
/// reached since now.
pub fn reset_peak_memory(pid: u32) {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").expect("reset the peak resident size");
}

/// Polls `condition` every 20 ms until it holds or `timeout` passes; returns whether it held.
pub fn eventually(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
