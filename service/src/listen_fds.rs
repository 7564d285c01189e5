//! Listening sockets handed to this process by the one that started it, in systemd's
//! `LISTEN_FDS` convention: descriptors 3, 4, … are open listening sockets, `LISTEN_FDS` says
//! how many, `LISTEN_FDNAMES` names them (`:`-separated). The supervisor hands the gateway its
//! public sockets this way, so a gateway restarting leaves them open and connections queue
//! instead of being refused; systemd socket activation hands the supervisor its own the same
//! way. `LISTEN_PID`, when set, must be this process (systemd sets it; the supervisor cannot
//! between fork and exec, and leaves it out).
//!
//! # Why this module uses `unsafe`
//! Taking ownership of a descriptor by number (`OwnedFd::from_raw_fd`) is `unsafe`: nothing
//! else may own or close it. The convention gives these numbers to this process, and [`take`]
//! removes the variables as it takes them, so each descriptor is taken once; each is checked to
//! be a listening socket before it is used. Removing environment variables is `unsafe` in Rust
//! 2024 because another thread may read the environment: [`take`] is called from `main` before
//! any thread starts.

#![allow(unsafe_code)]

use std::net::{SocketAddr, TcpListener};
use std::os::fd::{FromRawFd as _, OwnedFd};

/// The name of the gateway's public socket (`gateway.listen`).
pub const PUBLIC_SOCKET: &str = "public";
/// The name of the gateway's plain-HTTP socket (`gateway.tls.http_listen`).
pub const HTTP_SOCKET: &str = "http";

/// The first descriptor of the convention.
const FIRST_FD: i32 = 3;
/// More than any caller hands over; a larger `LISTEN_FDS` is refused.
const MAX_FDS: usize = 16;

/// The sockets handed over, by name.
#[derive(Debug, Default)]
pub struct Inherited {
    sockets: Vec<(String, TcpListener)>,
}

/// Takes the sockets this process was given (none when the variables are absent or name
/// another process). Call once, from `main`, before any thread starts.
pub fn take() -> Inherited {
    let count = std::env::var("LISTEN_FDS").ok().and_then(|n| n.parse::<usize>().ok()).unwrap_or(0);
    let for_us = std::env::var("LISTEN_PID")
        .ok()
        .is_none_or(|pid| pid.parse::<i32>().ok() == Some(rustix::process::getpid().as_raw_nonzero().get()));
    let names = std::env::var("LISTEN_FDNAMES").unwrap_or_default();
    // SAFETY: no other thread runs yet (see the module docs).
    unsafe {
        for var in ["LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"] {
            std::env::remove_var(var);
        }
    }
    if !for_us || count == 0 || count > MAX_FDS {
        return Inherited::default();
    }
    let mut names = names.split(':');
    let mut sockets = Vec::new();
    for number in FIRST_FD..FIRST_FD + count as i32 {
        let name = names.next().unwrap_or("unknown").to_owned();
        // SAFETY: the convention gives this descriptor to this process, and the variables that
        // say so are gone: nothing else takes it (see the module docs).
        let fd = unsafe { OwnedFd::from_raw_fd(number) };
        if let Some(listener) = listening(fd) {
            sockets.push((name, listener));
        }
    }
    Inherited { sockets }
}

/// `fd` as a TCP listener if it is a listening socket; it no longer passes to this process's
/// own children.
fn listening(fd: OwnedFd) -> Option<TcpListener> {
    let accepting = rustix::net::sockopt::socket_acceptconn(&fd).unwrap_or(false);
    if !accepting {
        return None;
    }
    rustix::io::fcntl_setfd(&fd, rustix::io::FdFlags::CLOEXEC).ok()?;
    let listener = TcpListener::from(fd);
    listener.set_nonblocking(true).ok()?;
    Some(listener)
}

impl Inherited {
    /// The socket named `name`, if one was handed over and listens on `address` (any port
    /// when its port is 0; a socket for another address, after a config change, is left for
    /// the caller to replace).
    pub fn take_tcp(&mut self, name: &str, address: SocketAddr) -> Option<TcpListener> {
        let matches =
            |bound: SocketAddr| bound.ip() == address.ip() && (address.port() == 0 || bound.port() == address.port());
        let at = self.sockets.iter().position(|(n, l)| n == name && l.local_addr().is_ok_and(matches))?;
        Some(self.sockets.remove(at).1)
    }

    /// Adds `fd` as the socket named `name` when it is a listening socket (the supervisor's
    /// own held sockets, across its re-exec).
    pub fn add(&mut self, name: String, fd: OwnedFd) {
        if let Some(listener) = listening(fd) {
            self.sockets.push((name, listener));
        }
    }

    /// Whether no socket was handed over.
    pub fn is_empty(&self) -> bool {
        self.sockets.is_empty()
    }
}
