//! Each dev node is one `orama-supervisor` of its own, started by `dev up` in its own process
//! group (so a Ctrl-C at the terminal that ran `dev up` does not reach it) with its output in
//! `nodeK/supervisor.log` and its pid in `nodeK/supervisor.pid`, and stopped by `dev down`
//! like systemd would: SIGTERM, then SIGKILL after the grace period.

use std::os::unix::process::CommandExt as _;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal};

use super::layout::{DevNode, Layout};

/// Holds `dir/dev.lock` until dropped: one `dev up` or `dev down` at a time per cluster (two
/// would make keys, ports and repos twice, or stop what the other starts).
pub fn lock(dir: &std::path::Path) -> Result<std::fs::File, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = dir.join("dev.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive)
        .map_err(|_| format!("another `dev up` or `dev down` is running on {}", dir.display()))?;
    Ok(file)
}

/// The pid of `node`'s supervisor, if it runs (its pid file names a live `orama-supervisor`).
pub fn running_pid(layout: &Layout, node: &DevNode) -> Option<Pid> {
    let text = std::fs::read_to_string(layout.pid_file(node)).ok()?;
    let pid = Pid::from_raw(text.trim().parse().ok()?)?;
    let command = std::fs::read(format!("/proc/{}/cmdline", pid.as_raw_nonzero())).ok()?;
    // This node's supervisor, not a reused pid: its command line names this node's config.
    let config = layout.config_file(node);
    let ours = command.split(|b| *b == 0).any(|arg| arg == config.as_os_str().as_encoded_bytes());
    (ours && rustix::process::test_kill_process(pid).is_ok()).then_some(pid)
}

/// Starts `node`'s supervisor and records its pid.
pub fn spawn(layout: &Layout, node: &DevNode) -> Result<Child, String> {
    let program = std::env::current_exe().map_err(|e| format!("cannot find orama-supervisor itself: {e}"))?;
    let log_path = layout.log_file(node);
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| format!("{}: {e}", log_path.display()))?;
    let errors = log.try_clone().map_err(|e| format!("{}: {e}", log_path.display()))?;
    let child = Command::new(program)
        .arg("--config")
        .arg(layout.config_file(node))
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(errors)
        .env_remove("NOTIFY_SOCKET")
        .process_group(0)
        .spawn()
        .map_err(|e| format!("{}: cannot start its supervisor: {e}", node.name))?;
    let pid_file = layout.pid_file(node);
    std::fs::write(&pid_file, format!("{}\n", child.id())).map_err(|e| format!("{}: {e}", pid_file.display()))?;
    Ok(child)
}

/// Stops `node`'s supervisor (and so its processes): SIGTERM, then SIGKILL to its process group
/// after `grace`. Returns whether one was running.
pub async fn stop(layout: &Layout, node: &DevNode, grace: Duration) -> bool {
    let Some(pid) = running_pid(layout, node) else {
        let _ = std::fs::remove_file(layout.pid_file(node));
        return false;
    };
    let _ = rustix::process::kill_process(pid, Signal::TERM);
    let deadline = Instant::now() + grace;
    while rustix::process::test_kill_process(pid).is_ok() && !is_zombie(pid) {
        if Instant::now() > deadline {
            let _ = rustix::process::kill_process_group(pid, Signal::KILL);
            let _ = rustix::process::kill_process(pid, Signal::KILL);
            // Gone before returning, so its ports are free for what comes next.
            let killed = Instant::now();
            while rustix::process::test_kill_process(pid).is_ok() && !is_zombie(pid) && killed.elapsed() < grace {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = std::fs::remove_file(layout.pid_file(node));
    true
}

/// Whether `pid` has exited but not been reaped (a child of this very process).
fn is_zombie(pid: Pid) -> bool {
    std::fs::read_to_string(format!("/proc/{}/stat", pid.as_raw_nonzero()))
        .ok()
        .and_then(|stat| stat.rsplit_once(") ").map(|(_, rest)| rest.starts_with('Z')))
        .unwrap_or(false)
}

/// The last `lines` lines of `node`'s supervisor log.
pub fn log_tail(layout: &Layout, node: &DevNode, lines: usize) -> String {
    let text = std::fs::read_to_string(layout.log_file(node)).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_dev_command_at_a_time_per_cluster() {
        let dir = tempfile::tempdir().expect("tempdir");
        let held = lock(dir.path()).expect("the first takes the lock");
        let second = lock(dir.path());
        assert!(second.is_err_and(|e| e.contains("another `dev up`")));
        drop(held);
        assert!(lock(dir.path()).is_ok(), "free again once the first is done");
    }
}
