//! Restarting a child that serves clients without a gap (`ctl restart gateway`): its
//! successor starts beside it on the same held sockets ([`crate::listeners`]) and binds its
//! Unix sockets beside the child's ([`orama_service::process::SUCCESSOR_ENV`]); once it answers
//! ready there, its sockets are moved over the child's ([`take_over`]) and the old process is
//! told to drain (SIGTERM: it stops accepting, finishes what it serves) and is reaped here, no
//! longer the child. A successor that never gets ready is killed and its sockets removed: the
//! old process, untouched, keeps serving (a rollback). The actor ([`crate::child`]) decides
//! when a restart goes this way and tracks the successor.

use std::path::Path;
use std::time::Duration;

use orama_ipc::IpcClient;
use rustix::process::Signal;
use tokio::process::Child;

use crate::process;

/// Whether the process answering on `socket` is `pid`, and ready. A client of its own, so no
/// pooled connection reaches the predecessor.
pub async fn answers_ready(socket: &Path, pid: u32) -> bool {
    let client = IpcClient::new(socket).with_timeout(Duration::from_millis(500));
    let Ok(health) = client.get_json::<serde_json::Value>("/health").await else { return false };
    if health["pid"].as_u64() != Some(u64::from(pid)) {
        return false;
    }
    client.get_json::<serde_json::Value>("/ready").await.is_ok()
}

/// Waits until the successor `pid` answers ready on `socket`; false if it exits first or
/// `timeout` passes.
pub async fn wait_ready(child: &mut Child, socket: &Path, pid: u32, timeout: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if answers_ready(socket, pid).await {
            return true;
        }
        if matches!(child.try_wait(), Ok(Some(_))) || tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Moves the successor's sockets over the child's; the first that cannot be moved, if any.
pub fn take_over(sockets: &[std::path::PathBuf]) -> Result<(), String> {
    for socket in sockets {
        orama_ipc::socket::take_over(socket).map_err(|e| format!("{}: {e}", socket.display()))?;
    }
    Ok(())
}

/// Removes the sockets a successor that did not take over left beside the child's.
pub fn discard(sockets: &[std::path::PathBuf]) {
    for socket in sockets {
        orama_ipc::socket::remove_socket(&orama_ipc::socket::successor_path(socket));
    }
}

/// Lets the predecessor `pid` drain: SIGTERM to its group, SIGKILL after `grace`; reaped by a
/// task of its own.
pub fn drain(mut child: Child, pid: u32, grace: Duration, name: String) {
    process::signal_group(pid, Signal::TERM);
    tokio::spawn(async move {
        let exit = match tokio::time::timeout(grace, child.wait()).await {
            Ok(exit) => exit,
            Err(_) => {
                tracing::warn!(child = %name, pid, "the replaced process outlived the grace period: SIGKILL");
                process::signal_group(pid, Signal::KILL);
                child.wait().await
            }
        };
        // Whatever it left in its group goes with it.
        process::signal_group(pid, Signal::KILL);
        let exit = exit.map_or_else(|e| format!("wait failed: {e}"), process::describe_exit);
        tracing::info!(child = %name, pid, %exit, "the replaced process has drained");
    });
}
