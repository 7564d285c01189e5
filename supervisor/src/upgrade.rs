//! `ctl upgrade`, once new binaries are on disk: each of our children is restarted in turn on
//! its new binary, in start order and each ready before the next. The gateway is restarted by
//! hand-over ([`crate::hand_over`]): a successor that never gets ready is discarded and the
//! old gateway keeps serving. The others must stop before their successor can bind their
//! socket, so the binary each one runs is first copied aside (from `/proc/<pid>/exe`, which
//! still reads the replaced file), and a successor that never gets ready is replaced by that
//! copy. Either way the upgrade stops at the first child that failed, naming it, and the
//! children after it keep their old binaries. Once every child is upgraded the supervisor
//! re-executes itself ([`crate::reexec`]), and `ctl` waits for its new image
//! ([`await_reexec`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use orama_ipc::IpcClient;

use crate::child::ChildHandle;
use crate::children::Children;
use crate::control_protocol::{CHILDREN_PATH, StatusReport, UpgradeReport};
use crate::ctl_error::CtlError;
use crate::spec::ChildSpec;

/// Restarts each of our `children` on the binary `specs` name, each ready within
/// `ready_timeout`; the names of those restarted, or why the upgrade stopped (and what was
/// rolled back). `keep_dir` holds the copies of the running binaries.
pub async fn children(
    children: &Children,
    specs: &[ChildSpec],
    ready_timeout: Duration,
    keep_dir: &Path,
) -> Result<Vec<String>, String> {
    let mut upgraded = Vec::new();
    for child in children.all() {
        let Some(spec) = specs.iter().find(|s| s.name == child.name() && s.own) else { continue };
        let done = if spec.listeners.is_empty() {
            with_copy_to_fall_back_on(child, spec, ready_timeout, keep_dir).await
        } else {
            by_hand_over(child, spec, ready_timeout).await
        };
        done.map_err(|problem| stopped(&upgraded, &problem))?;
        upgraded.push(spec.name.clone());
    }
    Ok(upgraded)
}

fn stopped(upgraded: &[String], problem: &str) -> String {
    match upgraded {
        [] => format!("{problem}. The upgrade stopped there: no child was upgraded"),
        done => format!("{problem}. The upgrade stopped there, after upgrading {}", done.join(", ")),
    }
}

async fn by_hand_over(child: &ChildHandle, spec: &ChildSpec, ready_timeout: Duration) -> Result<(), String> {
    let old_pid = child.status().pid;
    child.restart_with(spec.clone()).await.map_err(|e| format!("{}: {e}", spec.name))?;
    crate::ready::until_ready(child, old_pid, ready_timeout).await.map_err(|e| format!("{}: {e}", spec.name))?;
    Ok(())
}

async fn with_copy_to_fall_back_on(
    child: &ChildHandle,
    spec: &ChildSpec,
    ready_timeout: Duration,
    keep_dir: &Path,
) -> Result<(), String> {
    let old_pid = child.status().pid;
    let kept = match old_pid {
        Some(pid) => Some(keep_binary(pid, keep_dir, &spec.name)?),
        None => None,
    };
    child.restart_with(spec.clone()).await.map_err(|e| format!("{}: {e}", spec.name))?;
    let Err(not_ready) = crate::ready::until_ready(child, old_pid, ready_timeout).await else { return Ok(()) };
    let Some(kept) = kept else { return Err(format!("{}'s new binary: {not_ready}", spec.name)) };
    let previous = ChildSpec { program: kept.clone().into_os_string(), ..spec.clone() };
    let failed_pid = child.status().pid;
    child.restart_with(previous).await.map_err(|e| format!("{}: {e}", spec.name))?;
    match crate::ready::until_ready(child, failed_pid, ready_timeout).await {
        Ok(_) => Err(format!(
            "{}'s new binary: {not_ready}; it runs its previous binary again (kept at {})",
            spec.name,
            kept.display()
        )),
        Err(again) => Err(format!("{}'s new binary: {not_ready}; and its previous binary: {again}", spec.name)),
    }
}

/// Copies the binary process `pid` runs to `dir/name` (owner-only), for a rollback: written
/// beside it and renamed over it, since the previous copy may be what `pid` runs.
fn keep_binary(pid: u32, dir: &Path, name: &str) -> Result<PathBuf, String> {
    use std::os::unix::fs::PermissionsExt;
    orama_ipc::socket::ensure_private_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let (kept, fresh) = (dir.join(name), dir.join(format!("{name}.new")));
    let running = PathBuf::from(format!("/proc/{pid}/exe"));
    std::fs::copy(&running, &fresh).map_err(|e| format!("cannot keep {name}'s running binary: {e}"))?;
    std::fs::set_permissions(&fresh, std::fs::Permissions::from_mode(0o700))
        .and_then(|()| std::fs::rename(&fresh, &kept))
        .map_err(|e| format!("{}: {e}", kept.display()))?;
    Ok(kept)
}

/// Waits (at most `timeout`) for the supervisor that answered `report` to be replaced by its
/// re-executed image, then checks that every child kept the process it had: the new image's
/// status, or what went wrong.
pub async fn await_reexec(
    client: &IpcClient,
    report: &UpgradeReport,
    timeout: Duration,
) -> Result<StatusReport, CtlError> {
    let deadline = tokio::time::Instant::now() + timeout;
    let status = loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let answered: Option<StatusReport> = client.get_json(CHILDREN_PATH).await.ok();
        match answered {
            Some(status) if status.image_started_ms != report.image_started_ms => break status,
            _ if tokio::time::Instant::now() > deadline => {
                return Err(CtlError::Refused("the supervisor did not come back re-executed in time".into()));
            }
            _ => {}
        }
    };
    let moved: Vec<String> = status
        .children
        .iter()
        .filter(|c| report.pids.get(&c.name).is_some_and(|pid| c.pid != Some(*pid)))
        .map(|c| c.name.clone())
        .collect();
    if !moved.is_empty() {
        return Err(CtlError::Refused(format!(
            "the supervisor re-executed, but {} lost its process",
            moved.join(", ")
        )));
    }
    Ok(status)
}
