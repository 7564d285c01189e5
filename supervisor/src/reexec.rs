//! The supervisor replacing itself in place (the last step of `ctl upgrade`): it execs its own
//! binary as it now is on disk, with the same arguments, and its children keep running without
//! noticing. They stay its children (the process id does not change), their death signal
//! stays armed (it follows the forking thread, the one that execs), and what the new image
//! needs crosses the exec as inherited descriptors named in one environment variable: the held
//! listening sockets, and each running child's pid, restart count, age and the read ends of
//! its output pipes (kept as duplicates by the child's actor for this).
//!
//! The new binary is run once with `--version` first: a file that does not execute is refused
//! while the old image still runs. Should the exec itself fail, the descriptors go back to
//! close-on-exec and the supervisor carries on.
//!
//! `unsafe` here: taking ownership of the descriptors the previous image left open (their numbers
//! come from the environment), and borrowing a held descriptor by number to flip its
//! close-on-exec flag.

#![allow(unsafe_code)]

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use orama_service::listen_fds::Inherited;
use rustix::io::FdFlags;
use serde::{Deserialize, Serialize};

use crate::children::Children;
use crate::listeners::HeldSocket;
use crate::running::Adoption;

/// The environment variable a re-executed supervisor finds its inheritance in.
pub const RESUME_ENV: &str = "ORAMA_SUPERVISOR_RESUME";

/// What a supervisor starts with besides its config: the listening sockets systemd (or its
/// previous image) handed over, and the children its previous image left running.
#[derive(Debug, Default)]
pub struct Inheritance {
    /// Listening sockets by name.
    pub sockets: Inherited,
    /// Running children.
    pub children: Vec<Adoption>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Wire {
    children: Vec<WireChild>,
    listeners: Vec<(String, i32)>,
}

#[derive(Debug, Serialize, Deserialize)]
struct WireChild {
    name: String,
    pid: u32,
    restarts: u32,
    age_ms: u64,
    output: [i32; 2],
}

static OWN_PATH: OnceLock<PathBuf> = OnceLock::new();

/// Records the path this supervisor runs from, before an upgrade replaces the file (after
/// which `/proc/self/exe` names the deleted one).
pub fn remember_own_path() {
    if let Ok(path) = std::env::current_exe() {
        let _ = OWN_PATH.set(path);
    }
}

/// Takes what this process was handed: systemd's sockets, and when it is a re-executed
/// supervisor its previous image's sockets and children. Call once, from `main`, before any
/// thread starts.
pub fn take() -> Inheritance {
    let mut inheritance = Inheritance { sockets: orama_service::listen_fds::take(), children: Vec::new() };
    take_resume(&mut inheritance);
    inheritance
}

/// Adds what a previous image handed over, if any, to `inheritance`.
fn take_resume(inheritance: &mut Inheritance) -> Option<()> {
    let text = std::env::var(RESUME_ENV).ok()?;
    // SAFETY: no other thread runs yet (see above), so nothing reads the environment meanwhile.
    unsafe { std::env::remove_var(RESUME_ENV) };
    let wire: Wire = serde_json::from_str(&text).ok()?;
    // SAFETY: each descriptor was left open for this image by its predecessor, named only here,
    // and the variable naming them is gone: nothing else takes them.
    let own = |fd: i32| {
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let _ = rustix::io::fcntl_setfd(&fd, FdFlags::CLOEXEC);
        fd
    };
    for (name, fd) in wire.listeners {
        inheritance.sockets.add(name, own(fd));
    }
    inheritance.children = wire
        .children
        .into_iter()
        .map(|c| Adoption {
            name: c.name,
            pid: c.pid,
            restarts: c.restarts,
            age: Duration::from_millis(c.age_ms),
            output: c.output.map(own),
        })
        .collect();
    Some(())
}

/// Checks that the supervisor's binary on disk runs: `--version` succeeds within 10 s.
pub async fn check_new_binary() -> Result<PathBuf, String> {
    let path = OWN_PATH.get().cloned().ok_or("the supervisor's own path is unknown")?;
    let run = tokio::process::Command::new(&path).arg("--version").kill_on_drop(true).output();
    let output = tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .map_err(|_| format!("{} --version did not answer within 10 s", path.display()))?
        .map_err(|e| format!("{} does not run: {e}", path.display()))?;
    if !output.status.success() {
        return Err(format!("{} --version failed: {}", path.display(), String::from_utf8_lossy(&output.stderr)));
    }
    Ok(path)
}

/// Replaces this process's image with `path`, handing over `children` and `listeners`;
/// returns only when that failed, why.
pub fn exec(path: &std::path::Path, children: &Children, listeners: &[HeldSocket]) -> String {
    let wire_listeners: Vec<(String, i32)> = listeners.iter().map(|h| (h.name.to_owned(), h.fd.as_raw_fd())).collect();
    let mut wire_children = Vec::new();
    let mut kept_output = Vec::new();
    for child in children.all() {
        let status = child.status();
        let (Some(pid), Some(output)) = (status.pid, child.output_fds()) else { continue };
        let age = status.started_at.map_or(Duration::ZERO, |at| at.elapsed());
        let fds = [output[0].as_raw_fd(), output[1].as_raw_fd()];
        let age_ms = u64::try_from(age.as_millis()).unwrap_or(u64::MAX);
        wire_children.push(WireChild { name: status.name, pid, restarts: status.restarts, age_ms, output: fds });
        kept_output.push(output);
    }
    let inherited: Vec<i32> =
        wire_listeners.iter().map(|(_, fd)| *fd).chain(wire_children.iter().flat_map(|c| c.output)).collect();
    let wire = Wire { children: wire_children, listeners: wire_listeners };
    let Ok(text) = serde_json::to_string(&wire) else { return "cannot describe the children".to_owned() };
    for fd in &inherited {
        set_cloexec(*fd, false);
    }
    tracing::info!(path = %path.display(), "re-executing the supervisor; the children keep running");
    let error = std::process::Command::new(path).args(std::env::args_os().skip(1)).env(RESUME_ENV, text).exec();
    for fd in &inherited {
        set_cloexec(*fd, true);
    }
    drop(kept_output);
    format!("cannot execute {}: {error}", path.display())
}

fn set_cloexec(fd: i32, on: bool) {
    // SAFETY: `fd` is open for the duration of the call (held by a listener or a child's handle).
    let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    let _ = rustix::io::fcntl_setfd(fd, if on { FdFlags::CLOEXEC } else { FdFlags::empty() });
}
