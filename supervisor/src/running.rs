//! The process a child's actor runs: one this supervisor spawned, or one its predecessor
//! spawned before re-executing in place ([`crate::reexec`]): the same process id, so still our
//! child, but not a `tokio::process::Child` of this image. An adopted process is waited for
//! through a pidfd (readable once it exits) and reaped with `waitid` on that pidfd, so no other
//! child's exit status is ever taken.
//!
//! `unsafe` here: registering the pidfd with Tokio's reactor, which asks the caller to promise
//! the descriptor stays the same open file while registered (an `OwnedFd` we own does).

#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::Duration;

use rustix::process::{Pid, PidfdFlags, WaitId, WaitIdOptions};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::process::Child;

/// A running child, as one image hands it to the next.
#[derive(Debug)]
pub struct Adoption {
    /// The child's name.
    pub name: String,
    /// Its process.
    pub pid: u32,
    /// Restarts so far.
    pub restarts: u32,
    /// How long it has run.
    pub age: Duration,
    /// The read ends of its stdout and stderr pipes.
    pub output: [OwnedFd; 2],
}

/// A running child process.
#[derive(Debug)]
pub enum Process {
    /// Spawned by this supervisor.
    Spawned(Child),
    /// Spawned by the supervisor this one replaced by re-executing.
    Adopted(AdoptedProcess),
}

impl Process {
    /// Waits for the process to end and reaps it.
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        match self {
            Process::Spawned(child) => child.wait().await,
            Process::Adopted(adopted) => adopted.wait().await,
        }
    }
}

/// A child process inherited across a re-exec.
#[derive(Debug)]
pub struct AdoptedProcess {
    pidfd: AsyncFd<OwnedFd>,
}

impl AdoptedProcess {
    /// Takes charge of our child `pid`. Must be called inside a Tokio runtime.
    pub fn adopt(pid: u32) -> io::Result<AdoptedProcess> {
        let raw = i32::try_from(pid).ok().and_then(Pid::from_raw).ok_or_else(|| io::Error::other("bad pid"))?;
        let pidfd = rustix::process::pidfd_open(raw, PidfdFlags::NONBLOCK)?;
        // SAFETY: the `OwnedFd` is ours, open, and stays the same descriptor until the
        // `AsyncFd` that owns it is dropped.
        let registered = unsafe { AsyncFd::register_with_interest(pidfd, Interest::READABLE) };
        Ok(AdoptedProcess { pidfd: registered.map_err(io::Error::from)? })
    }

    async fn wait(&mut self) -> io::Result<ExitStatus> {
        loop {
            let mut ready = self.pidfd.readable().await?;
            let options = WaitIdOptions::EXITED | WaitIdOptions::NOHANG;
            match rustix::process::waitid(WaitId::PidFd(self.pidfd.get_ref().as_fd()), options)? {
                Some(status) => return Ok(exit_status(&status)),
                None => ready.clear_ready(),
            }
        }
    }
}

/// `status` as the standard library's exit status (a code, or the signal that ended it).
fn exit_status(status: &rustix::process::WaitIdStatus) -> ExitStatus {
    match (status.exit_status(), status.terminating_signal()) {
        (Some(code), _) => ExitStatus::from_raw((code & 0xff) << 8),
        (None, Some(signal)) => ExitStatus::from_raw(signal & 0x7f),
        (None, None) => ExitStatus::from_raw(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The children are reaped through their pidfds, which clippy cannot see.
    #[allow(clippy::zombie_processes)]
    #[tokio::test]
    async fn an_adopted_child_is_waited_for_and_reaped_with_its_status() {
        // Spawned with std, so tokio does not reap it: as after a re-exec.
        let child = std::process::Command::new("sh").args(["-c", "sleep 0.2; exit 7"]).spawn().expect("sh");
        let mut adopted = Process::Adopted(AdoptedProcess::adopt(child.id()).expect("pidfd"));
        let status = adopted.wait().await.expect("wait");
        assert_eq!(status.code(), Some(7));
        let killed = std::process::Command::new("sleep").arg("30").spawn().expect("sleep");
        let mut adopted = Process::Adopted(AdoptedProcess::adopt(killed.id()).expect("pidfd"));
        crate::process::signal_process(killed.id(), rustix::process::Signal::KILL);
        assert_eq!(adopted.wait().await.expect("wait").signal(), Some(9));
    }
}
