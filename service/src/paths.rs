//! Where a node keeps its data and its sockets, decided in one place.
//!
//! Precedence: command-line flag, then the `node` section of the config, then the environment
//! (systemd's `STATE_DIRECTORY`/`RUNTIME_DIRECTORY`, which systemd sets for a unit with
//! `StateDirectory=`/`RuntimeDirectory=` whatever user it runs as; `/var/lib/orama` and
//! `/run/orama` as root under systemd; `$XDG_RUNTIME_DIR/orama`), then `~/.orama` and
//! `<data_dir>/run`. Both directories are made owner-only (0700) by whoever creates them.

use std::path::PathBuf;

use crate::args::ProcessArgs;
use crate::config::NodeSection;

/// Longest socket path we allow: `sun_path` holds 108 bytes including the terminator, and the
/// longest process name plus `.sock` must still fit.
const MAX_RUNTIME_DIR_LEN: usize = 84;

/// The resolved directories of a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dirs {
    /// Data directory; each process owns the subdirectory named after it.
    pub data_dir: PathBuf,
    /// Directory of the internal sockets.
    pub runtime_dir: PathBuf,
}

/// Why the directories could not be decided.
#[derive(Debug, thiserror::Error)]
pub enum PathError {
    /// No flag, config or `HOME` says where the data goes.
    #[error("cannot choose a data directory: pass --data-dir or set HOME")]
    NoHome,
    /// Unix socket paths are limited in length.
    #[error(
        "runtime directory {0} is too long for Unix socket paths (at most {MAX_RUNTIME_DIR_LEN} bytes); pass a shorter --runtime-dir"
    )]
    RuntimeDirTooLong(PathBuf),
}

impl Dirs {
    /// Decides the directories from flags, config and environment (see the module docs).
    pub fn resolve(args: &ProcessArgs, node: &NodeSection) -> Result<Dirs, PathError> {
        Dirs::resolve_with(args, node, &|key| std::env::var_os(key).map(PathBuf::from))
    }

    /// [`Dirs::resolve`] with the environment given as a function (for tests).
    pub fn resolve_with(
        args: &ProcessArgs,
        node: &NodeSection,
        env: &dyn Fn(&str) -> Option<PathBuf>,
    ) -> Result<Dirs, PathError> {
        let system = under_systemd_env(env) && rustix::process::geteuid().is_root();
        // systemd lists several directories separated by ':'; ours is the first.
        let first = |key: &str| env(key).and_then(|v| v.to_str()?.split(':').next().map(PathBuf::from));
        let data_dir = args
            .data_dir
            .clone()
            .or_else(|| node.data_dir.clone())
            .or_else(|| first("STATE_DIRECTORY"))
            .or_else(|| system.then(|| PathBuf::from("/var/lib/orama")))
            .or_else(|| env("HOME").map(|home| home.join(".orama")))
            .ok_or(PathError::NoHome)?;
        let runtime_dir = args
            .runtime_dir
            .clone()
            .or_else(|| node.runtime_dir.clone())
            .or_else(|| first("RUNTIME_DIRECTORY"))
            .or_else(|| system.then(|| PathBuf::from("/run/orama")))
            .or_else(|| env("XDG_RUNTIME_DIR").map(|dir| dir.join("orama")))
            .unwrap_or_else(|| data_dir.join("run"));
        let runtime_dir = absolute(runtime_dir);
        if runtime_dir.as_os_str().len() > MAX_RUNTIME_DIR_LEN {
            return Err(PathError::RuntimeDirTooLong(runtime_dir));
        }
        Ok(Dirs { data_dir: absolute(data_dir), runtime_dir })
    }

    /// The cluster secret's file: the config's, else `<data_dir>/cluster.secret`.
    pub fn cluster_secret(&self, node: &NodeSection) -> PathBuf {
        node.cluster_secret_file.clone().unwrap_or_else(|| self.data_dir.join("cluster.secret"))
    }

    /// The internal socket of `process`.
    pub fn socket(&self, process: &str) -> PathBuf {
        orama_ipc::socket_path(&self.runtime_dir, process)
    }

    /// The data directory owned by `process`.
    pub fn process_data(&self, process: &str) -> PathBuf {
        self.data_dir.join(process)
    }
}

/// True when this process was started by systemd (it sets these for every service).
pub fn under_systemd() -> bool {
    under_systemd_env(&|key| std::env::var_os(key).map(PathBuf::from))
}

fn under_systemd_env(env: &dyn Fn(&str) -> Option<PathBuf>) -> bool {
    env("INVOCATION_ID").is_some() || env("JOURNAL_STREAM").is_some()
}

fn absolute(path: PathBuf) -> PathBuf {
    if path.is_absolute() {
        return path;
    }
    std::env::current_dir().map(|cwd| cwd.join(&path)).unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<PathBuf> {
        move |key| pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| PathBuf::from(v))
    }

    #[test]
    fn flags_win_over_config_and_environment() {
        let args = ProcessArgs { data_dir: Some("/d".into()), runtime_dir: Some("/r".into()), config: None };
        let node = NodeSection { data_dir: Some("/cfg".into()), ..NodeSection::default() };
        let dirs = Dirs::resolve_with(&args, &node, &env_of(&[("HOME", "/home/u")])).expect("dirs");
        assert_eq!(dirs, Dirs { data_dir: "/d".into(), runtime_dir: "/r".into() });
    }

    #[test]
    fn defaults_follow_home_and_xdg() {
        let args = ProcessArgs::default();
        let env = env_of(&[("HOME", "/home/u"), ("XDG_RUNTIME_DIR", "/run/user/1000")]);
        let dirs = Dirs::resolve_with(&args, &NodeSection::default(), &env).expect("dirs");
        assert_eq!(dirs.data_dir, PathBuf::from("/home/u/.orama"));
        assert_eq!(dirs.runtime_dir, PathBuf::from("/run/user/1000/orama"));
        let dirs = Dirs::resolve_with(&args, &NodeSection::default(), &env_of(&[("HOME", "/h")])).expect("dirs");
        assert_eq!(dirs.runtime_dir, PathBuf::from("/h/.orama/run"));
    }

    #[test]
    fn systemd_directories_are_honoured_for_any_user() {
        let env = env_of(&[
            ("HOME", "/home/orama"),
            ("STATE_DIRECTORY", "/var/lib/orama:/var/lib/orama-extra"),
            ("RUNTIME_DIRECTORY", "/run/orama"),
        ]);
        let dirs = Dirs::resolve_with(&ProcessArgs::default(), &NodeSection::default(), &env).expect("dirs");
        assert_eq!(dirs, Dirs { data_dir: "/var/lib/orama".into(), runtime_dir: "/run/orama".into() });
    }

    #[test]
    fn overlong_runtime_dir_is_refused() {
        let args =
            ProcessArgs { runtime_dir: Some(PathBuf::from(format!("/{}", "x".repeat(100)))), ..Default::default() };
        let err = Dirs::resolve_with(&args, &NodeSection::default(), &env_of(&[("HOME", "/h")]));
        assert!(matches!(err, Err(PathError::RuntimeDirTooLong(_))));
    }
}
