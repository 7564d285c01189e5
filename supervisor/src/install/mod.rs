//! `orama-supervisor install` and `uninstall`: turning a fresh Debian/Ubuntu VPS into a node of
//! a cluster, and taking it off again.
//!
//! [`plan`] works out every directory and file (their contents, modes and owners) from the
//! options; [`files`] compares them with what is there and writes what differs; then the
//! system is told ([`system`]: the user, `systemctl`). A first node makes the cluster secret,
//! the swarm key and its identity and prints what the next node needs; a joining node is given
//! them. Under `--root DIR` everything goes under DIR (and names DIR), no user is made and no
//! service started: that is how the tests install.

pub mod cache;
mod diff;
pub mod files;
pub mod node_config;
pub mod owners;
pub mod plan;
pub mod relay;
mod report;
mod system;
pub mod target;
pub mod unit;

use std::net::IpAddr;
use std::path::PathBuf;

use orama_service::cluster::ClusterSecret;

use self::files::{Change, compare};
use self::owners::Owners;
use self::plan::PlanOptions;
use self::target::{DEFAULT_USER, Target};

/// `install`'s options (the Go original's, plus `--root`, `--dry-run` and `--force`).
#[derive(Debug, Clone, clap::Args)]
pub struct InstallArgs {
    /// This VPS's public IP address: what the other nodes dial.
    #[arg(long, value_name = "IP")]
    pub vps_ip: IpAddr,
    /// A domain whose A/AAAA record points here: the gateway serves HTTPS for it with an ACME
    /// certificate (HTTP-01 on port 80). Without one, plain HTTP on port 6001.
    #[arg(long, value_name = "NAME")]
    pub domain: Option<String>,
    /// The ACME account's contact (`mailto:you@example.com`).
    #[arg(long, value_name = "URL")]
    pub acme_contact: Option<String>,
    /// Other nodes' pub/sub addresses (`/ip4/…/tcp/4001/p2p/12D3KooW…`), comma-separated or repeated.
    #[arg(long, value_name = "MULTIADDR", value_delimiter = ',')]
    pub peers: Vec<String>,
    /// A member's join address (`IP:7001`, as the first node printed): join its cluster.
    #[arg(long, value_name = "HOST:PORT")]
    pub join: Option<String>,
    /// The cluster's secret, as the first node printed (`@FILE` reads it from FILE, out of the
    /// shell's history and `ps`).
    #[arg(long, value_name = "SECRET")]
    pub cluster_secret: Option<String>,
    /// The cluster's swarm key: its 64 hex characters, or `@FILE` (a `swarm.key` file).
    #[arg(long, value_name = "KEY")]
    pub swarm_key: Option<String>,
    /// rqlited (default: `rqlited` on the PATH, `ORAMA_RQLITED`, or the one `./scripts/test` installs).
    #[arg(long, value_name = "FILE")]
    pub rqlited: Option<PathBuf>,
    /// Kubo's `ipfs`, the storage engine (default: `ipfs` on the PATH).
    #[arg(long, value_name = "FILE")]
    pub ipfs: Option<PathBuf>,
    /// Other nodes' IPFS daemons (`/ip4/…/tcp/4101/p2p/12D3KooW…`, as the first node printed),
    /// comma-separated or repeated.
    #[arg(long, value_name = "MULTIADDR", value_delimiter = ',')]
    pub ipfs_peers: Vec<String>,
    /// Other nodes' cache primaries (`IP:6381`, as the first node printed), comma-separated or
    /// repeated: this node's cache servers join their Redis Cluster.
    #[arg(long, value_name = "IP:PORT", value_delimiter = ',')]
    pub cache_peers: Vec<String>,
    /// The node's name in the cluster (default: its IP).
    #[arg(long, value_name = "NAME")]
    pub node_name: Option<String>,
    /// The system user the node runs as (made when missing).
    #[arg(long, value_name = "USER", default_value = DEFAULT_USER)]
    pub user: String,
    /// Install into DIR instead of `/` (paths in the files name DIR; no user, no service).
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// Print every file and command; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Replace files that differ from what the options make (edited configs, another secret).
    #[arg(long)]
    pub force: bool,
    /// Added to every port (several nodes on one machine).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub port_offset: u16,
    /// Also run an Anyone relay (ORPort 9001), which the anon proxy then uses; a relay the
    /// `anon` package set up is taken over with its keys.
    #[arg(long)]
    pub anyone_relay: bool,
    /// The relay's nickname (1-19 letters and digits; default from the node's name).
    #[arg(long, value_name = "NAME", requires = "anyone_relay")]
    pub relay_nickname: Option<String>,
    /// How the relay's operator is reached (an email address, usually).
    #[arg(long, value_name = "TEXT", requires = "anyone_relay")]
    pub relay_contact: Option<String>,
    /// Make the relay an exit (needs --i-accept-exit-relay-risks; read the warning first).
    #[arg(long, requires = "anyone_relay")]
    pub exit: bool,
    /// The acknowledgement an exit relay needs.
    #[arg(long)]
    pub i_accept_exit_relay_risks: bool,
    /// The Anyone client (default: `anon` on the PATH).
    #[arg(long, value_name = "FILE")]
    pub anon: Option<PathBuf>,
}

/// `uninstall`'s options.
#[derive(Debug, Clone, clap::Args)]
pub struct UninstallArgs {
    /// The root the node was installed into.
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// Also delete the node's data, logs, keys and cluster secret.
    #[arg(long)]
    pub purge: bool,
}

/// Runs `install`; the text for the operator, or why nothing (or not everything) was done.
pub fn install(args: &InstallArgs, out: &mut dyn std::io::Write) -> Result<(), String> {
    let options = resolve(args)?;
    let plan = plan::plan(&options)?;
    let owners = Owners::of_this_system();
    let changes = compare(&plan.items, &owners, args.force);
    report::changes(&plan.items, &changes, args.dry_run, out);
    let refused: Vec<_> = changes.iter().filter(|c| matches!(c, Change::Refused(_))).collect();
    if !refused.is_empty() {
        return Err(format!(
            "{} file(s) differ from what these options make (shown above); nothing was changed. \
             Keep your edits, or pass --force to replace them",
            refused.len()
        ));
    }
    let package = options.cache.from_package.then_some(cache::PACKAGE);
    let system = system::System::new(&options.target, &options.user, &owners).with_package(package);
    if args.dry_run {
        system.print_commands(out);
        return Ok(());
    }
    system.install_package(out)?;
    system.ensure_user(out)?;
    // The user may be new: read the owners again before giving files to it.
    let owners = Owners::of_this_system();
    files::apply(&plan.items, &changes, &owners)?;
    let changed = changes.iter().any(|c| !matches!(c, Change::Unchanged | Change::Kept));
    system.activate(changed, out)?;
    report::next_steps(&options, &plan, changed, out);
    Ok(())
}

/// Runs `uninstall`.
pub fn uninstall(args: &UninstallArgs, out: &mut dyn std::io::Write) -> Result<(), String> {
    let target = Target::new(&args.root);
    let system = system::System::new(&target, DEFAULT_USER, &Owners::of_this_system());
    system.deactivate(out)?;
    let mut removed = Vec::new();
    for file in [target.unit_file(), target.config_file()] {
        if std::fs::remove_file(&file).is_ok() {
            removed.push(file);
        }
    }
    if args.purge {
        for dir in [target.config_dir(), target.data_dir(), target.logs_dir(), target.runtime_dir()] {
            if std::fs::remove_dir_all(&dir).is_ok() {
                removed.push(dir);
            }
        }
    }
    for path in &removed {
        let _ = writeln!(out, "removed {}", path.display());
    }
    if !args.purge {
        let _ = writeln!(
            out,
            "kept {} (the node's data) and the keys in {} (its cluster secret among them): \
             `uninstall --purge` deletes them",
            target.data_dir().display(),
            target.config_dir().display()
        );
    }
    Ok(())
}

/// The options checked and completed: programs found (before anything changes), the secret
/// and swarm key read, a joining node given what it needs.
fn resolve(args: &InstallArgs) -> Result<PlanOptions, String> {
    let target = Target::new(&args.root);
    if target.is_system() && !args.dry_run && !rustix::process::geteuid().is_root() {
        return Err("installing into / needs root: run it with sudo (or --dry-run to see what it would do)".into());
    }
    if let Some(name) = args.node_name.as_deref().filter(|n| !valid_node_name(n)) {
        return Err(format!("--node-name {name:?}: 1 to 63 letters, digits, dots and dashes"));
    }
    if args.port_offset > u16::MAX - node_config::ports::HIGHEST {
        return Err(format!("--port-offset {}: at most {}", args.port_offset, u16::MAX - node_config::ports::HIGHEST));
    }
    let can_install = target.is_system();
    let programs = find_programs(args, can_install)?;
    let supervisor = std::env::current_exe()
        .and_then(std::fs::canonicalize)
        .map_err(|e| format!("cannot find this program's path: {e}"))?;
    let bin_dir = supervisor.parent().map(PathBuf::from).unwrap_or_default();
    for program in ["orama-gateway", "orama-wasm-runner", "orama-pubsub-bridge", "orama-anon-proxy"] {
        if !bin_dir.join(program).is_file() {
            return Err(format!(
                "{program} is not beside {} ({}): install every orama binary in one directory",
                supervisor.display(),
                bin_dir.display()
            ));
        }
    }
    let cluster_secret = args
        .cluster_secret
        .as_deref()
        .map(|given| read_given(given).and_then(|text| ClusterSecret::parse(text.trim())))
        .transpose()
        .map_err(|e| format!("--cluster-secret: {e}"))?;
    let swarm_key = args.swarm_key.as_deref().map(swarm_key_text).transpose()?;
    let given = [cluster_secret.is_some(), swarm_key.is_some(), !args.peers.is_empty(), !args.ipfs_peers.is_empty()];
    if args.join.is_some() && (given.contains(&false) || args.cache_peers.is_empty()) {
        return Err("a node that joins needs the cluster's --cluster-secret, --swarm-key, --peers, --ipfs-peers \
             and --cache-peers (the first node printed them)"
            .into());
    }
    if let Some(bad) = args.cache_peers.iter().find(|p| p.parse::<std::net::SocketAddr>().is_err()) {
        return Err(format!("--cache-peers {bad}: expected IP:PORT, as the first node printed"));
    }
    for (flag, peers) in [("--peers", &args.peers), ("--ipfs-peers", &args.ipfs_peers)] {
        if let Some(bad) = peers.iter().find(|p| !is_peer_address(p)) {
            return Err(format!(
                "{flag} {bad}: expected a multiaddr ending in /p2p/<peer id>, as the first node printed"
            ));
        }
    }
    let relay = if args.anyone_relay { Some(relay_options(args)?) } else { None };
    Ok(PlanOptions {
        relay,
        name: args.node_name.clone().unwrap_or_else(|| args.vps_ip.to_string()),
        target,
        user: args.user.clone(),
        vps_ip: args.vps_ip,
        domain: args.domain.clone(),
        acme_contact: args.acme_contact.clone(),
        peers: args.peers.clone(),
        join: args.join.clone(),
        cluster_secret,
        swarm_key,
        rqlited: programs.rqlited,
        ipfs: programs.ipfs,
        ipfs_peers: args.ipfs_peers.clone(),
        cache: programs.cache,
        cache_peers: args.cache_peers.clone(),
        supervisor,
        port_offset: args.port_offset,
    })
}

/// The external engines' programs.
struct Programs {
    rqlited: PathBuf,
    ipfs: PathBuf,
    cache: cache::CacheProgramsToBe,
}

/// Finds every engine's program, or names each one missing with where to get it. The cache's
/// comes from its Debian package when `can_install` (a real install as root).
fn find_programs(args: &InstallArgs, can_install: bool) -> Result<Programs, String> {
    let mut missing = Vec::new();
    let rqlited = crate::engines::find_rqlited(args.rqlited.clone());
    if rqlited.is_none() {
        missing.push(
            "rqlited (SQL): download rqlite from https://github.com/rqlite/rqlite/releases and pass --rqlited PATH \
             (or put rqlited on the PATH)",
        );
    }
    let ipfs = args.ipfs.clone().or_else(|| crate::process::on_path("ipfs")).filter(|p| p.is_file());
    if ipfs.is_none() {
        missing.push(
            "ipfs (storage, IPFS Kubo): download kubo_<version>_linux-amd64.tar.gz from https://dist.ipfs.tech/#kubo, \
             unpack it and run its install.sh (or pass --ipfs PATH)",
        );
    }
    let mut cache = cache::find_programs(can_install);
    let found_version =
        cache.as_ref().filter(|c| !c.from_package).and_then(|c| cache::server_major_version(&c.programs.server));
    if found_version.is_some_and(|major| major < 7) {
        cache = None;
        missing.push(
            "a cache server of version 7 or later (the one on the PATH is older; the cluster needs \
             CLUSTER ADDSLOTSRANGE): Debian 12's redis-server, or Valkey",
        );
    } else if cache.is_none() {
        missing.push(
            "redis-server and redis-cli (the cache): `apt-get install redis-server` (or Valkey's valkey-server \
             and valkey-cli); a real install as root installs the package itself",
        );
    }
    match (rqlited, ipfs, cache) {
        (Some(rqlited), Some(ipfs), Some(cache)) => Ok(Programs { rqlited, ipfs, cache }),
        _ => Err(format!("nothing was changed; these programs are missing:\n  - {}", missing.join("\n  - "))),
    }
}

/// The relay's options, checked: Linux, the `anon` program found, a valid nickname, an exit
/// only with the acknowledgement.
fn relay_options(args: &InstallArgs) -> Result<relay::RelayOptions, String> {
    if !cfg!(target_os = "linux") {
        return Err("an Anyone relay is supported on Linux only".into());
    }
    if args.exit && !args.i_accept_exit_relay_risks {
        return Err(relay::EXIT_WARNING.into());
    }
    if let Some(nickname) = args.relay_nickname.as_deref().filter(|n| !relay::valid_nickname(n)) {
        return Err(format!("--relay-nickname {nickname:?}: 1 to 19 letters and digits"));
    }
    let program =
        args.anon.clone().or_else(|| crate::process::on_path("anon")).filter(|p| p.is_file()).ok_or_else(|| {
            "the Anyone client `anon` was not found: install the `anon` package from Anyone's apt repository \
         (see docs.anyone.io, installing a relay), or pass --anon PATH"
                .to_owned()
        })?;
    Ok(relay::RelayOptions {
        nickname: args.relay_nickname.clone(),
        contact: args.relay_contact.clone(),
        exit: args.exit,
        program,
    })
}

/// A node name fit for certificates, config files and rqlited's node id.
fn valid_node_name(name: &str) -> bool {
    (1..=63).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
}

/// Whether `text` looks like `/ip4/…/tcp/…/p2p/<peer id>`: a multiaddr with a peer id (base58
/// of a multihash) at its end.
fn is_peer_address(text: &str) -> bool {
    let Some((address, peer)) = text.rsplit_once("/p2p/") else { return false };
    let decoded = bs58::decode(peer).into_vec().unwrap_or_default();
    let multihash = decoded.len() > 2 && usize::from(decoded[1]) == decoded.len() - 2;
    address.starts_with('/') && address.split('/').count() >= 5 && multihash
}

/// `text`, or the contents of the file `@path` names.
fn read_given(text: &str) -> Result<String, String> {
    match text.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}")),
        None => Ok(text.to_owned()),
    }
}

/// A `swarm.key` file's text from 64 hex characters or such a file's text.
fn swarm_key_text(given: &str) -> Result<String, String> {
    let text = read_given(given).map_err(|e| format!("--swarm-key: {e}"))?;
    let hex = text.lines().last().unwrap_or_default().trim();
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("--swarm-key: expected 64 hex characters (the key the first node printed)".into());
    }
    Ok(crate::cluster_keys::swarm_key_file(&hex.to_ascii_lowercase()))
}
