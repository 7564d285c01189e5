//! Where an installed node's files go. On a VPS that is `/`; with `--root DIR` every path is
//! under DIR and every path the files name (in the config, in the unit) names DIR too, so a
//! tree installed into a temp dir can be started from where it is, as the tests do.

use std::path::{Path, PathBuf};

/// The system user the node runs as, unless `--user` says otherwise.
pub const DEFAULT_USER: &str = "orama";
/// The systemd unit's name.
pub const UNIT_NAME: &str = "orama-supervisor.service";

/// The installed node's paths.
#[derive(Debug, Clone)]
pub struct Target {
    root: PathBuf,
}

impl Target {
    /// Paths under `root` (`/` for a real install).
    pub fn new(root: &Path) -> Target {
        Target { root: root.to_path_buf() }
    }

    /// Whether this installs into `/`.
    pub fn is_system(&self) -> bool {
        self.root == Path::new("/")
    }

    /// `path` (absolute, as on the installed system) under the root.
    pub fn at(&self, path: &str) -> PathBuf {
        self.root.join(path.trim_start_matches('/'))
    }

    /// The config directory (`/etc/orama`).
    pub fn config_dir(&self) -> PathBuf {
        self.at("/etc/orama")
    }

    /// The config file.
    pub fn config_file(&self) -> PathBuf {
        self.config_dir().join("orama.yaml")
    }

    /// The cluster secret's file.
    pub fn secret_file(&self) -> PathBuf {
        self.config_dir().join("cluster.secret")
    }

    /// The swarm key (the bridges' private network).
    pub fn swarm_key_file(&self) -> PathBuf {
        self.config_dir().join("swarm.key")
    }

    /// RQLite's users (`-auth`).
    pub fn rqlite_auth_file(&self) -> PathBuf {
        self.config_dir().join("rqlite-auth.json")
    }

    /// The certificates rqlited's Raft links use (the cluster CA's).
    pub fn raft_tls_dir(&self) -> PathBuf {
        self.config_dir().join("raft-tls")
    }

    /// The data directory (systemd's `StateDirectory=orama`).
    pub fn data_dir(&self) -> PathBuf {
        self.at("/var/lib/orama")
    }

    /// The runtime directory (systemd's `RuntimeDirectory=orama`).
    pub fn runtime_dir(&self) -> PathBuf {
        self.at("/run/orama")
    }

    /// The log directory (systemd's `LogsDirectory=orama`).
    pub fn logs_dir(&self) -> PathBuf {
        self.at("/var/log/orama")
    }

    /// The pub/sub bridge's libp2p identity.
    pub fn bridge_identity(&self) -> PathBuf {
        self.data_dir().join("pubsub-bridge").join("identity.key")
    }

    /// The certificates of the cache's servers and of the gateway as their client.
    pub fn cache_tls_dir(&self) -> PathBuf {
        self.config_dir().join("cache-tls")
    }

    /// The config file of the cache server `name` (`cache` or `cache-replica`).
    pub fn cache_config(&self, name: &str) -> PathBuf {
        self.config_dir().join(format!("{name}.conf"))
    }

    /// The IPFS daemon's repo.
    pub fn ipfs_repo(&self) -> PathBuf {
        self.data_dir().join("ipfs")
    }

    /// The systemd unit file.
    pub fn unit_file(&self) -> PathBuf {
        self.at("/etc/systemd/system").join(UNIT_NAME)
    }
}
