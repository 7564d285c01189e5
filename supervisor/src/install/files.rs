//! What an install writes, and writing it: directories and files with their modes and owners,
//! each compared with what is there first. A file that is already right is left alone, so a
//! second run with the same options changes nothing; one that differs is replaced only with
//! `--force` (the difference is shown, except for secrets, whose contents are never printed);
//! a key that exists is kept (a node's identity and secrets outlive re-runs).

use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use super::diff::line_diff;
use super::owners::{Owner, Owners};

/// What to do with a file that is already there and differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// It is made from the options: replace it with `--force`, else refuse.
    Replace,
    /// It holds a key made once: keep it.
    Keep,
}

/// One directory or file of the install.
#[derive(Debug, Clone)]
pub struct Item {
    /// Its path (under the root).
    pub path: PathBuf,
    /// Its contents; `None` for a directory.
    pub content: Option<Vec<u8>>,
    /// Its permission bits.
    pub mode: u32,
    /// Its owner.
    pub owner: Owner,
    /// What to do when it differs.
    pub existing: Existing,
    /// Whether its contents are secret (never printed).
    pub secret: bool,
}

impl Item {
    /// A directory.
    pub fn dir(path: PathBuf, mode: u32, owner: Owner) -> Item {
        Item { path, content: None, mode, owner, existing: Existing::Replace, secret: false }
    }

    /// A file made from the options.
    pub fn file(path: PathBuf, content: impl Into<Vec<u8>>, mode: u32, owner: Owner) -> Item {
        Item { path, content: Some(content.into()), mode, owner, existing: Existing::Replace, secret: false }
    }

    /// A secret made from the options (the cluster secret given, files derived from it).
    pub fn secret(path: PathBuf, content: impl Into<Vec<u8>>, owner: Owner) -> Item {
        Item { secret: true, ..Item::file(path, content, 0o600, owner) }
    }

    /// A key made once and kept.
    pub fn key(path: PathBuf, content: impl Into<Vec<u8>>, owner: Owner) -> Item {
        Item { existing: Existing::Keep, ..Item::secret(path, content, owner) }
    }
}

/// What happened (or would happen) to one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// It was not there.
    Create,
    /// It is there as it should be.
    Unchanged,
    /// Its mode or owner is fixed.
    Fix,
    /// Its contents differ and are replaced (`--force`).
    Replace,
    /// Its contents differ, and it is kept (a key).
    Kept,
    /// Its contents differ and nothing was written: the difference.
    Refused(String),
}

/// Compares every item with what is under the root: the change each needs.
pub fn compare(items: &[Item], owners: &Owners, force: bool) -> Vec<Change> {
    items.iter().map(|item| change_for(item, owners, force)).collect()
}

fn change_for(item: &Item, owners: &Owners, force: bool) -> Change {
    let Ok(meta) = std::fs::symlink_metadata(&item.path) else { return Change::Create };
    if let Some(wanted) = &item.content {
        let have = std::fs::read(&item.path).unwrap_or_default();
        if &have != wanted {
            return match (item.existing, force) {
                (Existing::Keep, _) => Change::Kept,
                (Existing::Replace, true) => Change::Replace,
                (Existing::Replace, false) if item.secret => {
                    Change::Refused("its contents differ (a secret: not shown)".to_owned())
                }
                (Existing::Replace, false) => {
                    Change::Refused(line_diff(&String::from_utf8_lossy(&have), &String::from_utf8_lossy(wanted)))
                }
            };
        }
    }
    let mode_ok = meta.permissions().mode() & 0o7777 == item.mode;
    if mode_ok && owners.matches(&meta, &item.owner) { Change::Unchanged } else { Change::Fix }
}

/// Writes every item whose change is not `Unchanged`, `Kept` or `Refused`, in order (a
/// directory before what it holds), each file whole or not at all.
pub fn apply(items: &[Item], changes: &[Change], owners: &Owners) -> Result<(), String> {
    for (item, change) in items.iter().zip(changes) {
        if matches!(change, Change::Create | Change::Replace | Change::Fix) {
            write_item(item, change, owners).map_err(|e| format!("{}: {e}", item.path.display()))?;
        }
    }
    Ok(())
}

fn write_item(item: &Item, change: &Change, owners: &Owners) -> std::io::Result<()> {
    match (&item.content, change) {
        (None, Change::Create) => std::fs::create_dir_all(&item.path)?,
        (Some(content), Change::Create | Change::Replace) => write_whole(&item.path, content)?,
        _ => {}
    }
    std::fs::set_permissions(&item.path, std::fs::Permissions::from_mode(item.mode))?;
    owners.chown(&item.path, &item.owner)
}

/// Writes `content` to a temporary file beside `path` (mode 0600 until the caller sets the
/// item's) and renames it into place.
fn write_whole(path: &Path, content: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        // Only `--root` trees lack these (`/etc/systemd/system`); they are made as on a system.
        std::fs::DirBuilder::new().recursive(true).mode(0o755).create(parent)?;
    }
    let temporary = path.with_extension("orama-install");
    let _ = std::fs::remove_file(&temporary);
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&temporary)?;
    file.write_all(content)?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)
}
