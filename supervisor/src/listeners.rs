//! The gateway's public listening sockets (`gateway.listen`, and `gateway.tls.http_listen`
//! when set), bound by the supervisor once and held for its whole life, then handed to every
//! gateway it starts ([`orama_service::listen_fds`]'s convention). A gateway that restarts or
//! crashes leaves them open: connections made meanwhile wait in the kernel's queue for its
//! successor instead of being refused. Sockets systemd handed the supervisor (socket
//! activation) are used for those addresses instead of binding new ones.

use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::sync::Arc;

use orama_service::config::NodeConfig;
use orama_service::listen_fds::{HTTP_SOCKET, Inherited, PUBLIC_SOCKET};
use rustix::net::{AddressFamily, SocketFlags, SocketType};

/// Connections the kernel queues for a listener, gateway or no gateway.
const BACKLOG: i32 = 4096;
/// The held descriptors are moved above this, clear of the numbers (3, 4, …) a child gets
/// them as, so placing one never overwrites another.
const HELD_FD_FLOOR: i32 = 64;

/// One held socket: its name in `LISTEN_FDNAMES` and the descriptor.
#[derive(Debug)]
pub struct HeldSocket {
    /// `public` or `http`.
    pub name: &'static str,
    /// The listening socket (close-on-exec: only a gateway's spawn hands it on).
    pub fd: OwnedFd,
}

/// The sockets the gateway of `config` listens on: taken from `inherited` where systemd
/// handed them, else bound. None when the gateway is disabled.
pub fn hold(config: &NodeConfig, inherited: &mut Inherited) -> Result<Arc<[HeldSocket]>, String> {
    if !config.gateway.child.enabled {
        return Ok(Arc::new([]));
    }
    let mut wanted = vec![(PUBLIC_SOCKET, config.gateway.listen)];
    if let Some(http) = config.gateway.tls.http_listen {
        wanted.push((HTTP_SOCKET, http));
    }
    let mut held = Vec::new();
    for (name, address) in wanted {
        let fd = match inherited.take_tcp(name, address) {
            Some(handed) => OwnedFd::from(handed),
            None => bind(address).map_err(|e| format!("cannot listen on {address}: {e}"))?,
        };
        let fd = rustix::io::fcntl_dupfd_cloexec(&fd, HELD_FD_FLOOR).map_err(|e| format!("{address}: {e}"))?;
        held.push(HeldSocket { name, fd });
    }
    Ok(held.into())
}

/// A listening TCP socket on `address` (address reuse on, so a restarted supervisor binds
/// again at once; blocking, as a child expects to set its own mode).
fn bind(address: SocketAddr) -> std::io::Result<OwnedFd> {
    let family = if address.is_ipv4() { AddressFamily::INET } else { AddressFamily::INET6 };
    let fd = rustix::net::socket_with(family, SocketType::STREAM, SocketFlags::CLOEXEC, None)?;
    rustix::net::sockopt::set_socket_reuseaddr(&fd, true)?;
    rustix::net::bind(&fd, &address)?;
    rustix::net::listen(&fd, BACKLOG)?;
    Ok(fd)
}

/// The names, `:`-separated, for `LISTEN_FDNAMES`.
pub fn names(held: &[HeldSocket]) -> String {
    held.iter().map(|h| h.name).collect::<Vec<_>>().join(":")
}
