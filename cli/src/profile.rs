//! The saved profile: the gateway and API key `orama auth login` stored, readable only by its
//! owner, in `$ORAMA_PROFILE`, else `$XDG_CONFIG_HOME/orama/profile.json`, else
//! `~/.config/orama/profile.json`.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::failure::Failure;

/// What is saved. Its `Debug` hides the key.
#[derive(Clone, Serialize, Deserialize)]
pub struct Profile {
    /// The gateway URL.
    pub gateway: String,
    /// The API key.
    pub api_key: String,
    /// Its namespace.
    #[serde(default)]
    pub namespace: String,
}

impl std::fmt::Debug for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Profile")
            .field("gateway", &self.gateway)
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

/// Where the profile lives.
pub fn path() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("ORAMA_PROFILE") {
        return Some(path.into());
    }
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))?;
    Some(config.join("orama").join("profile.json"))
}

/// The saved profile, if any.
pub fn load() -> Result<Option<Profile>, Failure> {
    let Some(path) = path() else { return Ok(None) };
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Failure { message: format!("{}: {e} (remove it or log in again)", path.display()), code: 1 }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Failure { message: format!("{}: {e}", path.display()), code: 1 }),
    }
}

/// Saves `profile`, owner-only (the key is a secret).
pub fn save(profile: &Profile) -> Result<PathBuf, Failure> {
    let path = path().ok_or_else(|| Failure::usage("no home directory: set ORAMA_PROFILE"))?;
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    }
    let json = serde_json::to_vec_pretty(profile).map_err(|e| Failure { message: e.to_string(), code: 1 })?;
    // A fresh file (never one left behind, nor what a link there points to), owner-only.
    let temporary = path.with_extension("json.tmp");
    match std::fs::remove_file(&temporary) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
        _ => {}
    }
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&temporary)?;
    file.write_all(&json)?;
    file.sync_all()?;
    std::fs::rename(&temporary, &path)?;
    Ok(path)
}

/// Removes the saved profile; whether there was one.
pub fn remove() -> Result<bool, Failure> {
    let Some(path) = path() else { return Ok(false) };
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e.into()),
    }
}
