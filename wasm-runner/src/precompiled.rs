//! Compiled modules kept on disk (`<data>/modules/<sha256>.cwasm`), so a restarted runner
//! serves a module it compiled before without compiling it again.
//!
//! Loading one is the only `unsafe` in the runner: `Module::deserialize` trusts that the
//! file holds code wasmtime itself produced, since the code is mapped and run natively. That
//! holds here because only this process writes these files, into a directory it creates
//! owner-only (0700, files 0600, written to a temporary name and renamed into place, so a
//! torn write is never loaded), named by the hash of the source the code came from; wasmtime
//! also checks the file's header against this engine's version and settings and refuses a
//! mismatch (a file from an older runner is then recompiled and replaced).

#![allow(unsafe_code)]

use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use wasmtime::{Engine, Module};

use crate::module_hash;

/// The directory of precompiled modules.
#[derive(Debug, Clone)]
pub struct Precompiled {
    dir: PathBuf,
}

impl Precompiled {
    /// Precompiled modules in `dir` (created owner-only if missing).
    pub fn open(dir: &Path) -> std::io::Result<Self> {
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
        Ok(Precompiled { dir: dir.to_owned() })
    }

    fn path(&self, hash: &[u8; 32]) -> PathBuf {
        self.dir.join(format!("{}.cwasm", module_hash::to_hex(hash)))
    }

    /// The module compiled earlier from the source with `hash`, if there is a usable one.
    pub fn load(&self, engine: &Engine, hash: &[u8; 32]) -> Option<Module> {
        let path = self.path(hash);
        // Read into memory rather than mapped: a mapped file changed under us would fault.
        let bytes = std::fs::read(&path).ok()?;
        // SAFETY: see the module documentation: the file was written by this process, in a
        // directory only our uid can write, from code this engine compiled; wasmtime checks
        // its header for a compatible engine.
        match unsafe { Module::deserialize(engine, &bytes) } {
            Ok(module) => Some(module),
            Err(err) => {
                tracing::warn!(path = %path.display(), error = %err, "ignoring an unusable precompiled module");
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }

    /// Keeps `module`, compiled from the source with `hash`.
    pub fn save(&self, hash: &[u8; 32], module: &Module) {
        let path = self.path(hash);
        let temporary = path.with_extension(format!("partial-{}", std::process::id()));
        let written = module.serialize().map_err(|e| std::io::Error::other(e.to_string())).and_then(|bytes| {
            let mut file =
                std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&temporary)?;
            file.write_all(&bytes)?;
            std::fs::rename(&temporary, &path)
        });
        if let Err(err) = written {
            let _ = std::fs::remove_file(&temporary);
            tracing::warn!(path = %path.display(), error = %err, "cannot keep a precompiled module");
        }
    }
}
