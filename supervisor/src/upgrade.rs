//! `ctl upgrade`, once new binaries are on disk: each of our children is restarted in turn on
//! its new binary, in start order and each ready before the next. The gateway is restarted by
//! hand-over ([`crate::hand_over`]): a successor that never gets ready is discarded and the
//! old gateway keeps serving. The others must stop before their successor can bind their
//! socket, so the binary each one runs is first copied aside (from `/proc/<pid>/exe`, which
//! still reads the replaced file), and a successor that never gets ready is replaced by that
//! copy. Either way the upgrade stops at the first child that failed, naming it, and the
//! children after it keep their old binaries.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::child::ChildHandle;
use crate::children::Children;
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

/// Copies the binary process `pid` runs to `dir/name` (owner-only), for a rollback.
fn keep_binary(pid: u32, dir: &Path, name: &str) -> Result<PathBuf, String> {
    use std::os::unix::fs::PermissionsExt;
    orama_ipc::socket::ensure_private_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let kept = dir.join(name);
    let running = PathBuf::from(format!("/proc/{pid}/exe"));
    std::fs::copy(&running, &kept).map_err(|e| format!("cannot keep {name}'s running binary: {e}"))?;
    std::fs::set_permissions(&kept, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| format!("{}: {e}", kept.display()))?;
    Ok(kept)
}
