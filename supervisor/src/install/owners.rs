//! Owners by name: resolved through this system's `/etc/passwd` and `/etc/group` (system users
//! live there), and applied only when the installer runs as root. Otherwise (a test's `--root`
//! install as another user) files keep the installer's own user, and that is said once.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt as _;
use std::path::Path;

/// Who owns an item: user and group names, as on the installed system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// The user.
    pub user: String,
    /// The group.
    pub group: String,
}

impl Owner {
    /// `user:user`.
    pub fn of(user: &str) -> Owner {
        Owner { user: user.to_owned(), group: user.to_owned() }
    }
}

/// User and group ids by name, and whether files can be given to them.
#[derive(Debug, Clone)]
pub struct Owners {
    /// name → (uid, primary gid)
    users: HashMap<String, (u32, u32)>,
    groups: HashMap<String, u32>,
    can_chown: bool,
}

impl Owners {
    /// This system's users and groups.
    pub fn of_this_system() -> Owners {
        let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
        Owners {
            users: users(&read("/etc/passwd")),
            groups: ids(&read("/etc/group")),
            can_chown: rustix::process::geteuid().is_root(),
        }
    }

    /// Whether `user` exists here.
    pub fn has_user(&self, user: &str) -> bool {
        self.users.contains_key(user)
    }

    /// Whether files are given to their owners (the installer runs as root).
    pub fn can_chown(&self) -> bool {
        self.can_chown
    }

    /// Whether `meta` belongs to `owner` (always, when owners cannot be set).
    pub fn matches(&self, meta: &std::fs::Metadata, owner: &Owner) -> bool {
        match self.ids(owner) {
            Some((uid, gid)) if self.can_chown => meta.uid() == uid && meta.gid() == gid,
            _ => true,
        }
    }

    /// Gives `path` to `owner`, when owners can be set.
    pub fn chown(&self, path: &Path, owner: &Owner) -> std::io::Result<()> {
        match self.ids(owner) {
            Some((uid, gid)) if self.can_chown => std::os::unix::fs::chown(path, Some(uid), Some(gid)),
            _ => Ok(()),
        }
    }

    /// The names of `uid` and `gid`, as `user:group` (numbers when unknown).
    pub fn names(&self, uid: u32, gid: u32) -> String {
        let user = self.users.iter().find(|(_, ids)| ids.0 == uid).map(|(name, _)| name.clone());
        let group = self.groups.iter().find(|(_, id)| **id == gid).map(|(name, _)| name.clone());
        format!("{}:{}", user.unwrap_or_else(|| uid.to_string()), group.unwrap_or_else(|| gid.to_string()))
    }

    /// The ids of `owner`. A group named after a user but missing is that user's primary
    /// group (`nobody`'s is `nogroup` on Debian).
    fn ids(&self, owner: &Owner) -> Option<(u32, u32)> {
        let (uid, _) = *self.users.get(&owner.user)?;
        let gid = self.groups.get(&owner.group).copied().or_else(|| Some(self.users.get(&owner.group)?.1))?;
        Some((uid, gid))
    }
}

/// `name → (uid, gid)` from a passwd-format file.
fn users(text: &str) -> HashMap<String, (u32, u32)> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            Some((fields.first()?.to_string(), (fields.get(2)?.parse().ok()?, fields.get(3)?.parse().ok()?)))
        })
        .collect()
}

/// `name → id` from a passwd- or group-format file (`name:x:id:...`).
fn ids(text: &str) -> HashMap<String, u32> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split(':');
            let name = fields.next()?;
            let id = fields.nth(1)?.parse().ok()?;
            Some((name.to_owned(), id))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_ids_come_from_passwd_format_lines() {
        let map = ids("root:x:0:0:root:/root:/bin/bash\norama:x:998:997::/var/lib/orama:/usr/sbin/nologin\nbad\n");
        assert_eq!(map.get("orama"), Some(&998));
        assert_eq!(map.get("root"), Some(&0));
        assert_eq!(map.len(), 2);
    }
}
