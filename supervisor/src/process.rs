//! Spawning a child in its own process group, tied to the supervisor's life, and stopping it.
//!
//! # Why this module uses `unsafe`
//! The child must die when the supervisor dies, even by SIGKILL, or it would be orphaned.
//! Linux offers `PR_SET_PDEATHSIG`, which has to be set in the forked child before `exec`:
//! that is only possible from a `pre_exec` hook, and `CommandExt::pre_exec` is `unsafe`
//! because the hook runs between `fork` and `exec`, where only async-signal-safe calls are
//! allowed. The hook makes two such calls (`prctl` and `getppid`, raw syscalls through rustix)
//! and allocates nothing. The death signal fires when the *thread* that forked exits, so the
//! supervisor spawns from its single-threaded runtime's main thread, which lives as long as it.
//! The same hook places the listening sockets a child is handed ([`crate::listeners`]) at
//! descriptors 3, 4, … with `dup2`, also async-signal-safe and allocation-free; the held
//! descriptors sit above those numbers, so placing one never overwrites another.

#![allow(unsafe_code)]

use std::os::fd::FromRawFd as _;
use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};

use rustix::process::{Pid, Signal};
use tokio::process::{Child, Command};

use crate::spec::ChildSpec;

/// Environment variables that belong to the supervisor's relation with systemd and must not
/// leak into children (a child would otherwise talk to systemd as if it were the service).
const SYSTEMD_VARS: &[&str] = &[
    "NOTIFY_SOCKET",
    "WATCHDOG_USEC",
    "WATCHDOG_PID",
    "LISTEN_FDS",
    "LISTEN_PID",
    "LISTEN_FDNAMES",
    "INVOCATION_ID",
    "JOURNAL_STREAM",
];

/// `name` in a directory of the `PATH`, if one has it (how `dev` and `install` find the
/// engines' programs).
pub fn on_path(name: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|paths| std::env::split_paths(&paths).map(|p| p.join(name)).find(|p| p.is_file()))
}

/// Spawns `spec` with piped stdout/stderr in a new process group whose leader gets
/// `spec.death_signal` when the supervisor dies.
pub fn spawn(spec: &ChildSpec) -> std::io::Result<Child> {
    // A directory made here holds only this child's data: owner-only.
    std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), 0o700)
        .create(&spec.working_dir)?;
    let mut command = Command::new(&spec.program);
    command
        .args(&spec.args)
        .current_dir(&spec.working_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    for var in SYSTEMD_VARS {
        command.env_remove(var);
    }
    command.env("ORAMA_SUPERVISED", "1").envs(&spec.env);
    if !spec.listeners.is_empty() {
        command.env("LISTEN_FDS", spec.listeners.len().to_string());
        command.env("LISTEN_FDNAMES", crate::listeners::names(&spec.listeners));
    }
    let supervisor = rustix::process::getpid();
    let death_signal = spec.death_signal;
    let listeners = spec.listeners.clone();
    // SAFETY: the hook only makes the async-signal-safe prctl and getppid syscalls and
    // allocates nothing (see the module docs).
    unsafe {
        command.pre_exec(move || {
            rustix::process::set_parent_process_death_signal(Some(death_signal))?;
            // The supervisor may have died between fork and prctl: then no signal will come.
            if rustix::process::getppid() != Some(supervisor) {
                return Err(std::io::Error::other("supervisor exited while spawning"));
            }
            for (number, held) in (3..).zip(listeners.iter()) {
                // The target may be open (an inherited descriptor) or not: dup2 replaces it,
                // and the copy does not close on exec. Never dropped: nothing is closed here.
                let mut target = std::mem::ManuallyDrop::new(std::os::fd::OwnedFd::from_raw_fd(number));
                rustix::io::dup2(&held.fd, &mut target)?;
            }
            Ok(())
        });
    }
    command.spawn()
}

/// Sends `signal` to the process group led by `pid`. A group already gone is not an error.
pub fn signal_group(pid: u32, signal: Signal) {
    let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) else { return };
    if let Err(err) = rustix::process::kill_process_group(pid, signal)
        && err != rustix::io::Errno::SRCH
    {
        tracing::warn!(pid = pid.as_raw_nonzero().get(), error = %err, "cannot signal process group");
    }
}

/// Sends `signal` to process `pid` alone; whether it was sent.
pub fn signal_process(pid: u32, signal: Signal) -> bool {
    let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) else { return false };
    rustix::process::kill_process(pid, signal).is_ok()
}

/// "exited with status 1", "killed by SIGKILL", ...
pub fn describe_exit(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(sig)) => format!("killed by {}", signal_name(sig)),
        (None, None) => "ended".to_owned(),
    }
}

fn signal_name(sig: i32) -> String {
    let name = match sig {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        _ => return format!("signal {sig}"),
    };
    name.to_owned()
}
