//! What the runner's process may see and who it is, decided once, before it starts a thread:
//! the runner runs other people's code, so should a guest ever escape wasmtime, the process it
//! lands in must hold nothing of the node.
//!
//! - **Its own view of the filesystem** (a mount namespace; a user namespace as well when not
//!   root): the node's data directory and runtime directory are replaced by empty directories,
//!   into which only the runner's own data directory and the directory of the gateway's
//!   host-call socket are mounted back. The gateway's keys and databases, and every other
//!   internal socket (the gateway's operator API, the supervisor's control socket, the pub/sub
//!   bridge, the anonymous proxy), are simply not there.
//! - **Its own user** when started as root (`wasm_runner.user`, `orama-runner` by default, else
//!   `nobody`): the runner's data and the host-call directory are handed to that user, which
//!   can open nothing else of the node's, and root's privileges are dropped for good.
//! - **Landlock** where the kernel has it: reads and writes only beneath the runner's data
//!   directory and `/proc/self`, no TCP, no signals to processes outside, no abstract Unix
//!   sockets; on kernels with Landlock ABI 9 also no Unix socket but the host-call socket.
//!
//! Every step that the kernel refuses is reported, not hidden: [`Isolation::log`] says what is
//! in force. Dropping root is the one step whose failure stops the runner. This module and
//! [`containment`](crate::containment) (seccomp, rlimits, applied once the runtime runs) are
//! the runner's confinement; `orama-wasm-runner probe-confinement` runs both and reports what
//! a compromised runner could still reach.

use std::path::{Path, PathBuf};

use landlock::{
    ABI, Access, AccessFs, AccessNet, PathBeneath, PathFd, Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetStatus,
    Scope,
};
use orama_service::config::WasmRunnerConfig;
use rustix::fs::{Mode, OFlags};
use rustix::mount::{MountFlags, MountPropagationFlags};
use rustix::process::{Gid, Uid};

/// The user a root-started runner becomes when `wasm_runner.user` names none that exists.
const FALLBACK_USER: &str = "nobody";
/// The Landlock ABI whose rights are asked for (best effort: a kernel grants what it knows).
const LANDLOCK_ABI: ABI = ABI::V9;

/// Where the runner and the node keep things.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The node's data directory (hidden).
    pub node_data_dir: PathBuf,
    /// The runner's own data directory (kept, and the only place it writes).
    pub data_dir: PathBuf,
    /// The node's runtime directory (hidden).
    pub runtime_dir: PathBuf,
    /// The user to become when started as root.
    pub user: String,
}

impl Plan {
    /// The plan for the runner of a node with `dirs`, configured by `config`.
    pub fn for_runner(dirs: &orama_service::paths::Dirs, config: &WasmRunnerConfig) -> Plan {
        Plan {
            node_data_dir: dirs.data_dir.clone(),
            data_dir: dirs.process_data("wasm-runner"),
            runtime_dir: dirs.runtime_dir.clone(),
            user: config.user.clone(),
        }
    }
}

/// What isolation is in force.
#[derive(Debug, Clone)]
pub struct Isolation {
    /// The private filesystem view, or why there is none.
    pub view: Result<(), String>,
    /// The user the runner runs as now (`uid:gid`, name).
    pub user: String,
    /// The Landlock status, or why there is none.
    pub landlock: Result<String, String>,
}

impl Isolation {
    /// Logs one line saying what is in force.
    pub fn log(&self) {
        match (&self.view, &self.landlock) {
            (Ok(()), Ok(landlock)) => tracing::info!(
                user = %self.user, landlock = %landlock,
                "isolation active: private filesystem view (only the runner's data and the host-call socket), landlock"
            ),
            (view, landlock) => tracing::warn!(
                user = %self.user,
                view = %view.as_ref().map_or_else(String::clone, |()| "private".into()),
                landlock = %landlock.as_ref().unwrap_or_else(|e| e),
                "isolation partial: see which steps this kernel or account refused"
            ),
        }
    }
}

/// Isolates this process as `plan` says. Call it while the process has one thread (a user
/// namespace cannot be entered otherwise, and credentials and Landlock would only bind the
/// calling thread). Fails only when a root process cannot drop root.
pub fn isolate(plan: &Plan) -> Result<Isolation, String> {
    let host_dir = orama_ipc::socket::host_calls_dir(&plan.runtime_dir);
    orama_ipc::socket::ensure_private_dir(&host_dir).map_err(|e| e.to_string())?;
    orama_ipc::socket::ensure_private_dir(&plan.data_dir).map_err(|e| e.to_string())?;
    let root = rustix::process::geteuid().is_root();
    let target = if root { Some(resolve_user(&plan.user)?) } else { None };
    if let Some((uid, gid, _)) = &target {
        hand_over(&[&plan.data_dir, &host_dir], *uid, *gid)?;
    }
    let view = private_view(plan, &host_dir, root);
    if let Some((uid, gid, _)) = &target {
        drop_root(*uid, *gid)?;
    }
    let landlock = restrict(&plan.data_dir, &host_dir);
    let (uid, gid) = (rustix::process::getuid().as_raw(), rustix::process::getgid().as_raw());
    let name = target.map_or_else(|| "the node's".to_owned(), |(_, _, name)| name);
    Ok(Isolation { view, user: format!("{uid}:{gid} ({name})"), landlock })
}

/// The uid and gid of `user` (a name from `/etc/passwd`, or `uid[:gid]`), falling back to
/// `nobody` when no such user exists.
fn resolve_user(user: &str) -> Result<(Uid, Gid, String), String> {
    let numeric = |text: &str| text.parse::<u32>().ok().filter(|n| *n != 0);
    if let Some((uid, gid)) = user.split_once(':').and_then(|(u, g)| Some((numeric(u)?, numeric(g)?))) {
        return Ok((Uid::from_raw(uid), Gid::from_raw(gid), user.to_owned()));
    }
    if let Some(uid) = numeric(user) {
        return Ok((Uid::from_raw(uid), Gid::from_raw(uid), user.to_owned()));
    }
    let passwd = std::fs::read_to_string("/etc/passwd").map_err(|e| format!("/etc/passwd: {e}"))?;
    let find = |name: &str| {
        passwd.lines().find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            let (uid, gid) = (fields.get(2)?.parse::<u32>().ok()?, fields.get(3)?.parse::<u32>().ok()?);
            (fields.first() == Some(&name) && uid != 0)
                .then(|| (Uid::from_raw(uid), Gid::from_raw(gid), name.to_owned()))
        })
    };
    find(user)
        .or_else(|| {
            eprintln!(
                "orama-wasm-runner: no user {user:?}: running as {FALLBACK_USER} (create the system user {user})"
            );
            find(FALLBACK_USER)
        })
        .ok_or_else(|| format!("neither {user:?} nor {FALLBACK_USER:?} exists to run the runner as"))
}

/// Gives `dirs` (and what is in them) to `uid`:`gid`.
fn hand_over(dirs: &[&Path], uid: Uid, gid: Gid) -> Result<(), String> {
    fn walk(path: &Path, uid: Uid, gid: Gid) -> std::io::Result<()> {
        rustix::fs::chown(path, Some(uid), Some(gid))?;
        if std::fs::symlink_metadata(path)?.is_dir() {
            for entry in std::fs::read_dir(path)? {
                walk(&entry?.path(), uid, gid)?;
            }
        }
        Ok(())
    }
    for dir in dirs {
        walk(dir, uid, gid).map_err(|e| format!("cannot give {} to the runner's user: {e}", dir.display()))?;
    }
    Ok(())
}

/// Enters a mount namespace (and a user namespace when not root) where the node's data and
/// runtime directories are empty but for the runner's own data and the host-call directory.
fn private_view(plan: &Plan, host_dir: &Path, root: bool) -> Result<(), String> {
    enter_namespaces(root)?;
    let step = |what: &str, result: rustix::io::Result<()>| result.map_err(|e| format!("{what}: {e}"));
    step(
        "private mounts",
        rustix::mount::mount_change("/", MountPropagationFlags::REC | MountPropagationFlags::PRIVATE),
    )?;
    // Held open (in this namespace's copy of the mounts) across the hiding, to be shown again.
    let keep = [&plan.data_dir, &host_dir.to_path_buf()].map(|dir| {
        let fd = rustix::fs::open(dir.as_path(), OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty());
        fd.map(|fd| (dir.to_path_buf(), fd)).map_err(|e| format!("{}: {e}", dir.display()))
    });
    let keep: Vec<_> = keep.into_iter().collect::<Result<_, _>>()?;
    for hidden in outermost(&[&plan.node_data_dir, &plan.runtime_dir]) {
        let options = c"mode=0755,size=64k";
        let flags = MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC;
        step(&format!("hiding {}", hidden.display()), rustix::mount::mount("tmpfs", hidden, "tmpfs", flags, options))?;
    }
    for (dir, fd) in keep {
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let source = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&fd));
        step(&format!("showing {}", dir.display()), rustix::mount::mount_bind(source.as_str(), dir.as_path()))?;
    }
    Ok(())
}

/// `dirs` without those inside another of them.
fn outermost<'a>(dirs: &[&'a PathBuf]) -> Vec<&'a PathBuf> {
    dirs.iter().filter(|dir| !dirs.iter().any(|other| other != *dir && dir.starts_with(other))).copied().collect()
}

/// Enters a new mount namespace; a non-root process enters a user namespace first (mapping its
/// own ids), which is what lets it mount.
#[allow(unsafe_code)]
fn enter_namespaces(root: bool) -> Result<(), String> {
    use rustix::thread::UnshareFlags;
    let (uid, gid) = (rustix::process::getuid().as_raw(), rustix::process::getgid().as_raw());
    let flags = if root { UnshareFlags::NEWNS } else { UnshareFlags::NEWUSER | UnshareFlags::NEWNS };
    // SAFETY: `unshare_unsafe` is unsafe only for `UnshareFlags::FILES` (other threads could
    // then see descriptors from another table); these flags are namespaces, and the process has
    // one thread.
    unsafe { rustix::thread::unshare_unsafe(flags) }.map_err(|e| format!("cannot enter a namespace: {e}"))?;
    if !root {
        let write = |file: &str, text: String| std::fs::write(file, text).map_err(|e| format!("{file}: {e}"));
        write("/proc/self/setgroups", "deny".into())?;
        write("/proc/self/uid_map", format!("{uid} {uid} 1"))?;
        write("/proc/self/gid_map", format!("{gid} {gid} 1"))?;
    }
    Ok(())
}

/// Becomes `uid`:`gid` with no supplementary groups, for good, and asks again to be signalled
/// when the supervisor dies (changing credentials clears that request).
fn drop_root(uid: Uid, gid: Gid) -> Result<(), String> {
    let fail = |what: &str, e: rustix::io::Errno| format!("cannot drop root ({what}): {e}");
    rustix::thread::set_thread_groups(&[]).map_err(|e| fail("groups", e))?;
    rustix::thread::set_thread_res_gid(gid, gid, gid).map_err(|e| fail("gid", e))?;
    rustix::thread::set_thread_res_uid(uid, uid, uid).map_err(|e| fail("uid", e))?;
    if rustix::thread::set_thread_res_uid(Uid::ROOT, Uid::ROOT, Uid::ROOT).is_ok() {
        return Err("root could be taken back after dropping it".into());
    }
    rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::TERM))
        .map_err(|e| fail("death signal", e))
}

/// Landlock: files only beneath `data_dir` and `/proc/self`, Unix sockets only in `host_dir`,
/// no TCP, no signals or abstract sockets outside.
fn restrict(data_dir: &Path, host_dir: &Path) -> Result<String, String> {
    let abi = LANDLOCK_ABI;
    let path = |dir: &Path| PathFd::new(dir).map_err(|e| format!("{}: {e}", dir.display()));
    let rules = [
        PathBeneath::new(path(data_dir)?, AccessFs::from_all(abi)),
        PathBeneath::new(path(Path::new("/proc/self"))?, AccessFs::from_read(abi)),
        PathBeneath::new(path(host_dir)?, AccessFs::ResolveUnix | AccessFs::ReadDir),
    ];
    let restricted = Ruleset::default()
        .handle_access(AccessFs::from_all(abi))
        .and_then(|r| r.handle_access(AccessNet::BindTcp | AccessNet::ConnectTcp))
        .and_then(|r| r.scope(Scope::from_all(abi)))
        .and_then(|r| r.create())
        .and_then(|r| r.add_rules(rules.into_iter().map(Ok::<_, landlock::RulesetError>)))
        .and_then(|r| r.restrict_self());
    let status = restricted.map_err(|e| e.to_string())?;
    match status.ruleset {
        RulesetStatus::FullyEnforced => Ok(format!("fully enforced ({:?})", status.landlock)),
        RulesetStatus::PartiallyEnforced => Ok(format!("partially enforced ({:?})", status.landlock)),
        RulesetStatus::NotEnforced => Err(format!("not enforced ({:?})", status.landlock)),
    }
}
