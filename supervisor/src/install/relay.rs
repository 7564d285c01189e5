//! `install --anyone-relay`: the node also runs an Anyone relay (the `anon` daemon, supervised
//! as an external), whose SOCKS and control ports the anon proxy then uses.
//!
//! The relay's anonrc: ORPort 9001 public, SOCKS 127.0.0.1:9050, the control port on
//! 127.0.0.1:9051 with cookie authentication, a data directory in the node's, and no exit
//! traffic unless `--exit` comes with the acknowledgement flag (after the printed warning).
//! A relay already set up by the `anon` package (`/etc/anon/anonrc`, keys in
//! `/var/lib/anon/keys`) is taken over: its identity keys are copied (so the relay keeps its
//! fingerprint and reputation) and its nickname, contact, family and bandwidth lines kept.

use std::path::{Path, PathBuf};

use super::files::Item;
use super::owners::Owner;
use super::target::Target;

/// The relay's public port.
pub const OR_PORT: u16 = 9001;
/// The SOCKS port (loopback).
pub const SOCKS_PORT: u16 = 9050;
/// The control port (loopback).
pub const CONTROL_PORT: u16 = 9051;

/// Lines of an existing anonrc carried over into ours.
const CARRIED: &[&str] = &[
    "Nickname",
    "ContactInfo",
    "MyFamily",
    "BandwidthRate",
    "BandwidthBurst",
    "AccountingMax",
    "AccountingStart",
    "AccountingRule",
    "MaxMemInQueues",
];

/// The warning shown before an exit relay is configured.
pub const EXIT_WARNING: &str = "An exit relay sends other people's traffic to the internet from this VPS's address: \
abuse complaints and legal requests about that traffic come to you. Check the law where the VPS is and your \
provider's terms first. Pass --i-accept-exit-relay-risks to configure one.";

/// What the relay is made from.
#[derive(Debug, Clone)]
pub struct RelayOptions {
    /// Its nickname (1-19 letters and digits).
    pub nickname: Option<String>,
    /// How the network reaches its operator.
    pub contact: Option<String>,
    /// Whether it is an exit (acknowledged).
    pub exit: bool,
    /// The `anon` program.
    pub program: PathBuf,
}

/// An Anyone installation found on the system.
#[derive(Debug, Clone, Default)]
pub struct Existing {
    /// Its anonrc's lines carried over.
    pub carried: Vec<String>,
    /// Its keys (file name, contents).
    pub keys: Vec<(String, Vec<u8>)>,
}

/// The `anon` package's relay under `target`, if there is one.
pub fn find_existing(target: &Target) -> Option<Existing> {
    let anonrc = std::fs::read_to_string(target.at("/etc/anon/anonrc")).ok();
    let keys_dir = target.at("/var/lib/anon/keys");
    let mut keys: Vec<(String, Vec<u8>)> = std::fs::read_dir(&keys_dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| entry.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|entry| Some((entry.file_name().to_str()?.to_owned(), std::fs::read(entry.path()).ok()?)))
        .collect();
    keys.sort();
    if anonrc.is_none() && keys.is_empty() {
        return None;
    }
    let carried = anonrc
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|line| {
            line.split_whitespace().next().is_some_and(|key| CARRIED.iter().any(|c| c.eq_ignore_ascii_case(key)))
        })
        .map(str::to_owned)
        .collect();
    Some(Existing { carried, keys })
}

/// The relay's data directory.
pub fn data_dir(target: &Target) -> PathBuf {
    target.data_dir().join("anon")
}

/// The relay's anonrc.
pub fn anonrc_file(target: &Target) -> PathBuf {
    target.config_dir().join("anonrc")
}

/// The anonrc for `options`, keeping `existing`'s carried lines (ours win where both say).
pub fn anonrc(
    target: &Target,
    options: &RelayOptions,
    node_name: &str,
    existing: Option<&Existing>,
    offset: u16,
) -> String {
    let carried: Vec<&String> = existing.map(|e| e.carried.iter().collect()).unwrap_or_default();
    let has =
        |key: &str| carried.iter().any(|l| l.split_whitespace().next().is_some_and(|k| k.eq_ignore_ascii_case(key)));
    let mut lines = vec![
        "# Written by `orama-supervisor install --anyone-relay`; the node runs `anon -f` on it.".to_owned(),
        format!("ORPort {}", OR_PORT + offset),
        format!("SocksPort 127.0.0.1:{}", SOCKS_PORT + offset),
        format!("ControlPort 127.0.0.1:{}", CONTROL_PORT + offset),
        "CookieAuthentication 1".to_owned(),
        format!("DataDirectory {}", data_dir(target).display()),
        "RunAsDaemon 0".to_owned(),
        "Log notice stdout".to_owned(),
    ];
    match &options.nickname {
        Some(nickname) => lines.push(format!("Nickname {nickname}")),
        None if !has("Nickname") => lines.push(format!("Nickname {}", default_nickname(node_name))),
        None => {}
    }
    if let Some(contact) = &options.contact {
        lines.push(format!("ContactInfo {contact}"));
    }
    for line in carried {
        let key = line.split_whitespace().next().unwrap_or_default();
        let overridden = (key.eq_ignore_ascii_case("Nickname") && options.nickname.is_some())
            || (key.eq_ignore_ascii_case("ContactInfo") && options.contact.is_some());
        if !overridden {
            lines.push(line.clone());
        }
    }
    if options.exit {
        lines.extend(
            [
                "ExitRelay 1",
                "IPv6Exit 0",
                "ExitPolicy reject private:*",
                "ExitPolicy accept *:80",
                "ExitPolicy accept *:443",
                "ExitPolicy reject *:*",
            ]
            .map(str::to_owned),
        );
    } else {
        lines.extend(["ExitRelay 0", "ExitPolicy reject *:*"].map(str::to_owned));
    }
    lines.join("\n") + "\n"
}

/// `orama` and the node's name's letters and digits, at most 19 characters (Anyone's limit).
fn default_nickname(node_name: &str) -> String {
    let own: String = node_name.chars().filter(char::is_ascii_alphanumeric).collect();
    format!("orama{own}").chars().take(19).collect()
}

/// Whether `nickname` is one Anyone accepts.
pub fn valid_nickname(nickname: &str) -> bool {
    (1..=19).contains(&nickname.len()) && nickname.chars().all(|c| c.is_ascii_alphanumeric())
}

/// The relay's items: its anonrc, its data directory, and the keys taken over.
pub fn items(target: &Target, anonrc_text: String, existing: Option<&Existing>, user: &Owner) -> Vec<Item> {
    let shared = Owner { user: "root".into(), group: user.user.clone() };
    let keys_dir = data_dir(target).join("keys");
    let mut items = vec![
        Item::dir(data_dir(target), 0o700, user.clone()),
        Item::file(anonrc_file(target), anonrc_text, 0o640, shared),
    ];
    if let Some(existing) = existing.filter(|e| !e.keys.is_empty()) {
        items.push(Item::dir(keys_dir.clone(), 0o700, user.clone()));
        for (name, content) in &existing.keys {
            items.push(Item::key(keys_dir.join(name), content.clone(), user.clone()));
        }
    }
    items
}

/// The config lines the relay adds: the external, and the anon proxy pointed at it.
pub fn config_lines(target: &Target, program: &Path, offset: u16) -> (String, String) {
    let external = format!(
        "  - name: anon\n    command: '{}'\n    args: [-f, '{}']\n    health: {{ tcp: '127.0.0.1:{}' }}\n",
        program.display(),
        anonrc_file(target).display(),
        SOCKS_PORT + offset
    );
    let section = format!(
        "anon:\n  socks: '127.0.0.1:{}'\n  control: '127.0.0.1:{}'\n  depends_on: [anon]\n",
        SOCKS_PORT + offset,
        CONTROL_PORT + offset
    );
    (section, external)
}
