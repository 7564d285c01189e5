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

use crate::running::Process;

use crate::process;
use crate::spec::ChildSpec;

/// Starts `spec`'s successor (its output given to `capture`), waits until it answers ready
/// beside the child's sockets, and moves its sockets over the child's; the successor and its
/// pid. On any failure the successor is killed, its sockets removed, and the error says why:
/// the running process was not touched.
pub async fn successor(
    spec: &ChildSpec,
    startup_timeout: Duration,
    capture: impl FnOnce(&mut Child),
) -> Result<(Child, u32), String> {
    let (name, sockets) = (&spec.name, &spec.handover_sockets);
    let own_socket = spec.socket.as_deref().ok_or_else(|| format!("{name} has no socket to hand over"))?;
    let mut successor = spec.clone();
    successor.env.insert(orama_service::process::SUCCESSOR_ENV.to_owned(), "1".to_owned());
    discard(sockets);
    let mut child = process::spawn(&successor).map_err(|e| format!("cannot start a new {name}: {e}"))?;
    let pid = child.id().unwrap_or_default();
    capture(&mut child);
    tracing::info!(child = %name, pid, "successor started beside the serving process");
    let socket = orama_ipc::socket::successor_path(own_socket);
    let ready = wait_ready(&mut child, &socket, pid, startup_timeout).await;
    match if ready { take_over(sockets) } else { Err("never got ready".to_owned()) } {
        Ok(()) => Ok((child, pid)),
        Err(why) => {
            process::signal_group(pid, Signal::KILL);
            let _ = child.wait().await;
            discard(sockets);
            tracing::warn!(child = %name, pid, %why, "the new process was stopped; the running one keeps serving");
            Err(format!("the new {name} (pid {pid}) {why}: stopped; the running one keeps serving"))
        }
    }
}

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
async fn wait_ready(child: &mut Child, socket: &Path, pid: u32, timeout: Duration) -> bool {
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
fn take_over(sockets: &[std::path::PathBuf]) -> Result<(), String> {
    for socket in sockets {
        orama_ipc::socket::take_over(socket).map_err(|e| format!("{}: {e}", socket.display()))?;
    }
    Ok(())
}

/// Removes the sockets a successor that did not take over left beside the child's.
fn discard(sockets: &[std::path::PathBuf]) {
    for socket in sockets {
        orama_ipc::socket::remove_socket(&orama_ipc::socket::successor_path(socket));
    }
}

/// Predecessors still draining (a re-exec waits for them: the new image would not reap them).
static DRAINING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Waits, at most `timeout`, until no predecessor is draining; whether none is.
pub async fn until_drained(timeout: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    while DRAINING.load(std::sync::atomic::Ordering::Acquire) > 0 {
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    true
}

/// Lets the predecessor `pid` drain: SIGTERM to its group, SIGKILL after `grace`; reaped by a
/// task of its own.
pub fn drain(mut child: Process, pid: u32, grace: Duration, name: String) {
    process::signal_group(pid, Signal::TERM);
    DRAINING.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
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
        DRAINING.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    });
}
