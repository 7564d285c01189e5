//! OS-level containment of the runner process, on top of wasmtime's own sandbox: should a
//! guest ever escape it, the process it lands in can open no network socket, start no
//! program, and has bounded memory, files and processes.
//!
//! - A seccomp filter (installed on every thread): `socket` for anything but `AF_UNIX` (the
//!   runner's only sockets are its own and the gateway's), `fork`/`vfork`/`execve`/
//!   `execveat`, `clone` without `CLONE_THREAD` (new threads stay possible, new processes
//!   do not), `io_uring_setup` (its operations would bypass the filter) and `ptrace` all fail
//!   with `EPERM`; `clone3` fails with `ENOSYS`, which makes the C library fall back to
//!   `clone`, where the flags can be checked. Where the kernel has no seccomp, the runner
//!   says so in its log and runs on with the other bounds.
//! - rlimits: address space (what the instance pool reserved at start plus headroom), open
//!   files, processes of the user, no core dumps (they would hold guest memory), file size.
//! - The working directory is an empty directory of its own.

use std::collections::BTreeMap;
use std::path::Path;

use rustix::process::{Resource, Rlimit, setrlimit};
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule, TargetArch,
};

/// Address space allowed beyond what the process had when confined.
const ADDRESS_SPACE_HEADROOM: u64 = 4 << 30;
/// Open files.
const MAX_FILES: u64 = 4096;
/// Processes and threads of the user (the filter already stops new processes).
const MAX_PROCESSES: u64 = 4096;
/// Largest file the runner writes (precompiled modules).
const MAX_FILE_SIZE: u64 = 1 << 30;

/// What containment is in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Containment {
    /// The syscall filter, or why there is none.
    pub syscall_filter: Result<(), String>,
    /// rlimits that could not be set (empty when all are in force).
    pub rlimit_failures: Vec<String>,
}

impl Containment {
    /// Logs one line saying what is active.
    pub fn log(&self) {
        match &self.syscall_filter {
            Ok(()) => tracing::info!(
                mechanism = "seccomp",
                rlimits_failed = ?self.rlimit_failures,
                "containment active: seccomp filter (no IP sockets, no new processes), rlimits, empty working directory"
            ),
            Err(why) => tracing::warn!(
                mechanism = "none",
                reason = %why,
                rlimits_failed = ?self.rlimit_failures,
                "containment partial: no seccomp filter on this kernel; rlimits and empty working directory only"
            ),
        }
    }
}

/// Confines this process for good: the working directory becomes `empty_dir` (created
/// owner-only), the rlimits are set and the syscall filter installed on every thread. Call it
/// once the process has bound its socket and reserved its instance pool.
pub fn confine(empty_dir: &Path) -> std::io::Result<Containment> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(empty_dir)?;
    if std::fs::read_dir(empty_dir)?.next().is_some() {
        return Err(std::io::Error::other(format!("{} is not empty", empty_dir.display())));
    }
    std::env::set_current_dir(empty_dir)?;
    let rlimit_failures = set_rlimits();
    Ok(Containment { syscall_filter: install_filter(), rlimit_failures })
}

fn set_rlimits() -> Vec<String> {
    let address_space = virtual_size().map(|size| size + ADDRESS_SPACE_HEADROOM);
    let limits = [
        (Resource::As, address_space, "address space"),
        (Resource::Nofile, Some(MAX_FILES), "open files"),
        (Resource::Nproc, Some(MAX_PROCESSES), "processes"),
        (Resource::Core, Some(0), "core dumps"),
        (Resource::Fsize, Some(MAX_FILE_SIZE), "file size"),
    ];
    let mut failures = Vec::new();
    for (resource, limit, what) in limits {
        let Some(limit) = limit else {
            failures.push(format!("{what}: current size unknown"));
            continue;
        };
        let current = rustix::process::getrlimit(resource);
        // Never raise a limit someone set lower.
        let limit = current.maximum.map_or(limit, |max| max.min(limit));
        if let Err(err) = setrlimit(resource, Rlimit { current: Some(limit), maximum: Some(limit) }) {
            failures.push(format!("{what}: {err}"));
        }
    }
    failures
}

/// This process's virtual memory size in bytes.
fn virtual_size() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmSize:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn install_filter() -> Result<(), String> {
    let arch = TargetArch::try_from(std::env::consts::ARCH).map_err(|e| format!("{e:?}"))?;
    let refused = compile(refused_syscalls()?, libc::EPERM, arch)?;
    let fallback = compile(BTreeMap::from([(libc::SYS_clone3, vec![])]), libc::ENOSYS, arch)?;
    for program in [refused, fallback] {
        seccompiler::apply_filter_all_threads(&program).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn compile(rules: BTreeMap<i64, Vec<SeccompRule>>, errno: i32, arch: TargetArch) -> Result<BpfProgram, String> {
    let errno = u32::try_from(errno).map_err(|e| e.to_string())?;
    let filter = SeccompFilter::new(rules, SeccompAction::Allow, SeccompAction::Errno(errno), arch)
        .map_err(|e| e.to_string())?;
    BpfProgram::try_from(filter).map_err(|e| e.to_string())
}

/// The calls refused with `EPERM`: a call with no rule is refused whatever its arguments.
fn refused_syscalls() -> Result<BTreeMap<i64, Vec<SeccompRule>>, String> {
    let rule = |arg: u8, op: SeccompCmpOp, value: u64| {
        SeccompCondition::new(arg, SeccompCmpArgLen::Dword, op, value)
            .and_then(|condition| SeccompRule::new(vec![condition]))
            .map_err(|e| e.to_string())
    };
    let not_unix = rule(0, SeccompCmpOp::Ne, libc::AF_UNIX as u64)?;
    let new_process = rule(0, SeccompCmpOp::MaskedEq(libc::CLONE_THREAD as u64), 0)?;
    #[cfg_attr(not(target_arch = "x86_64"), allow(unused_mut))]
    let mut rules = BTreeMap::from([
        (libc::SYS_socket, vec![not_unix]),
        (libc::SYS_clone, vec![new_process]),
        (libc::SYS_execve, vec![]),
        (libc::SYS_execveat, vec![]),
        (libc::SYS_io_uring_setup, vec![]),
        (libc::SYS_ptrace, vec![]),
    ]);
    #[cfg(target_arch = "x86_64")]
    {
        rules.insert(libc::SYS_fork, vec![]);
        rules.insert(libc::SYS_vfork, vec![]);
    }
    Ok(rules)
}
