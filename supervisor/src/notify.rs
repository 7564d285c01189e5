//! systemd notifications (`sd_notify`): READY=1, STATUS=, WATCHDOG=1 and STOPPING=1 sent as
//! datagrams to `$NOTIFY_SOCKET`. Outside systemd there is no socket and every call is a no-op.

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// The connection to systemd's notification socket, if any.
#[derive(Debug, Default)]
pub struct Notifier {
    target: Option<(UnixDatagram, std::os::unix::net::SocketAddr)>,
}

impl Notifier {
    /// Reads `NOTIFY_SOCKET` (a path, or `@name` for an abstract socket).
    pub fn from_env() -> Notifier {
        let Some(value) = std::env::var_os("NOTIFY_SOCKET") else { return Notifier::default() };
        let bytes = value.as_encoded_bytes();
        let addr = match bytes.strip_prefix(b"@") {
            Some(name) => {
                use std::os::linux::net::SocketAddrExt;
                std::os::unix::net::SocketAddr::from_abstract_name(name)
            }
            None => std::os::unix::net::SocketAddr::from_pathname(std::path::Path::new(&value)),
        };
        match (UnixDatagram::unbound(), addr) {
            (Ok(socket), Ok(addr)) => Notifier { target: Some((socket, addr)) },
            _ => {
                tracing::warn!(socket = ?value, "NOTIFY_SOCKET is set but unusable; systemd will not be notified");
                Notifier::default()
            }
        }
    }

    /// True when systemd listens.
    pub fn active(&self) -> bool {
        self.target.is_some()
    }

    /// Sends `state` (e.g. `READY=1\nSTATUS=...`).
    pub fn notify(&self, state: &str) {
        if let Some((socket, addr)) = &self.target
            && let Err(err) = socket.send_to_addr(state.as_bytes(), addr)
        {
            tracing::debug!(error = %err, "sd_notify failed");
        }
    }

    /// The watchdog period systemd asked for (`WATCHDOG_USEC`, for this pid).
    pub fn watchdog_interval() -> Option<Duration> {
        let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
        if let Ok(pid) = std::env::var("WATCHDOG_PID")
            && pid.parse::<u32>().ok() != Some(std::process::id())
        {
            return None;
        }
        (usec > 0).then(|| Duration::from_micros(usec))
    }
}

/// Pings systemd's watchdog at half its period until `shutdown`.
pub async fn watchdog(notifier: std::sync::Arc<Notifier>, period: Duration, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(period / 2);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => notifier.notify("WATCHDOG=1"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_reach_the_socket() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("notify");
        let receiver = UnixDatagram::bind(&path).expect("bind");
        let addr = std::os::unix::net::SocketAddr::from_pathname(&path).expect("addr");
        let notifier = Notifier { target: Some((UnixDatagram::unbound().expect("socket"), addr)) };
        notifier.notify("READY=1\nSTATUS=2/2 children ready");
        let mut buf = [0u8; 256];
        let n = receiver.recv(&mut buf).expect("recv");
        assert_eq!(&buf[..n], b"READY=1\nSTATUS=2/2 children ready");
        assert!(!Notifier::default().active());
    }
}
