//! Talking to the cluster cache's Redis servers the way `dev up` and an installed node's
//! [`crate::cache_member`] do: `redis-cli` (or `valkey-cli`) over TLS with a certificate of the
//! cluster's CA, the password in its environment (never its arguments), and the servers'
//! `CLUSTER NODES` tables read into [`Member`]s.
//!
//! `redis-cli` rather than a client library: its `--cluster add-node` and `--cluster rebalance`
//! are the supported way to reshape a Redis Cluster (slot migration with `MIGRATE`, which
//! speaks TLS when the bus does), and the supervisor links no Redis client.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cluster_ca::TlsFiles;

/// `redis-cli` with what it needs to reach the servers.
#[derive(Debug, Clone)]
pub struct RedisCli {
    /// `redis-cli` or `valkey-cli`.
    pub program: PathBuf,
    /// The CA, and a certificate and key it issued.
    pub tls: TlsFiles,
    /// The servers' password (`requirepass`).
    pub password: String,
}

/// One line of `CLUSTER NODES`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The node id.
    pub id: String,
    /// `host:port` (the TLS port, as a TLS client is told).
    pub address: String,
    /// `myself`, `master`, `slave`, `fail?`, …
    pub flags: Vec<String>,
    /// The primary's id, for a replica.
    pub primary: Option<String>,
    /// Whether the asking server's link to it is up.
    pub connected: bool,
    /// Whether it serves any slot.
    pub has_slots: bool,
    /// How many slots it serves.
    pub slots: usize,
    /// Whether a slot migration to or from it was left half-done (`[slot->-id]`).
    pub open_slots: bool,
}

impl Member {
    /// A primary (`master`) that is not failing.
    pub fn is_serving_primary(&self) -> bool {
        self.has("master") && !self.has("fail") && !self.has("fail?")
    }

    /// Whether the flag is set.
    pub fn has(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }
}

/// The members in a `CLUSTER NODES` answer.
pub fn parse_nodes(table: &str) -> Vec<Member> {
    table
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            let address = fields.get(1)?.split(['@', ',']).next()?.to_owned();
            Some(Member {
                id: (*fields.first()?).to_owned(),
                address,
                flags: fields.get(2)?.split(',').map(str::to_owned).collect(),
                primary: fields.get(3).filter(|p| **p != "-").map(|p| (*p).to_owned()),
                connected: fields.get(7) == Some(&"connected"),
                has_slots: fields.len() > 8,
                slots: fields.iter().skip(8).map(|range| slot_count(range)).sum(),
                open_slots: fields.iter().skip(8).any(|range| range.starts_with('[')),
            })
        })
        .collect()
}

/// The slots in one range field of `CLUSTER NODES` (`0-5460`, `5461`; `[…]` marks a slot in
/// migration, counted where it is served).
fn slot_count(range: &str) -> usize {
    if range.starts_with('[') {
        return 0;
    }
    match range.split_once('-') {
        Some((first, last)) => match (first.parse::<usize>(), last.parse::<usize>()) {
            (Ok(first), Ok(last)) if last >= first => last - first + 1,
            _ => 0,
        },
        None => usize::from(range.parse::<u16>().is_ok()),
    }
}

/// The slots nobody in `table` (a `CLUSTER NODES` answer) serves, as `first last` range pairs
/// for `CLUSTER ADDSLOTSRANGE`.
pub fn unserved_ranges(table: &str, slots: usize) -> Vec<String> {
    let mut served = vec![false; slots];
    for range in table.lines().flat_map(|line| line.split(' ').skip(8)) {
        let (first, last) = range.split_once('-').unwrap_or((range, range));
        if let (Ok(first), Ok(last)) = (first.parse::<usize>(), last.parse::<usize>()) {
            served.iter_mut().take(last + 1).skip(first).for_each(|s| *s = true);
        }
    }
    let mut ranges = Vec::new();
    let mut slot = 0;
    while slot < slots {
        if served[slot] {
            slot += 1;
            continue;
        }
        let first = slot;
        while slot < slots && !served[slot] {
            slot += 1;
        }
        ranges.extend([first.to_string(), (slot - 1).to_string()]);
    }
    ranges
}

/// Longest one `redis-cli` run may take (a seed behind a firewall that drops packets would
/// otherwise hold it forever); `timeout` kills it beyond.
const RUN_LIMIT_SECONDS: &str = "120";

impl RedisCli {
    /// Runs the command `args` on the server at `address` (`host:port`).
    pub fn ask(&self, address: &str, args: &[&str]) -> Result<String, String> {
        let (host, port) = address.rsplit_once(':').ok_or_else(|| format!("{address}: no port"))?;
        let mut all = vec!["-h".to_owned(), host.trim_matches(['[', ']']).to_owned(), "-p".to_owned(), port.to_owned()];
        all.extend(args.iter().map(|a| (*a).to_owned()));
        self.run(&all)
    }

    /// The server's view of the cluster.
    pub fn members(&self, address: &str) -> Result<Vec<Member>, String> {
        Ok(parse_nodes(&self.ask(address, &["cluster", "nodes"])?))
    }

    /// Whether the server at `address` knows no other (is in no cluster yet).
    pub fn alone(&self, address: &str) -> Result<bool, String> {
        let info = self.ask(address, &["cluster", "info"])?;
        Ok(info.lines().any(|line| line.trim_end() == "cluster_known_nodes:1"))
    }

    /// A number from the server's `CLUSTER INFO` (`cluster_known_nodes`, …).
    pub fn cluster_number(&self, address: &str, key: &str) -> Result<usize, String> {
        let info = self.ask(address, &["cluster", "info"])?;
        info.lines()
            .find_map(|line| line.trim_end().strip_prefix(key)?.strip_prefix(':')?.parse().ok())
            .ok_or_else(|| format!("{address}: no {key} in CLUSTER INFO"))
    }

    /// Runs the client with `args`; its output, or why it failed.
    pub fn run(&self, args: &[String]) -> Result<String, String> {
        let path = |p: &Path| p.display().to_string();
        let output = Command::new("timeout")
            .args(["--kill-after=5", RUN_LIMIT_SECONDS])
            .arg(&self.program)
            .args(["--tls", "--cacert", &path(&self.tls.ca), "--cert", &path(&self.tls.certificate)])
            .args(["--key", &path(&self.tls.key)])
            .args(args)
            .env("REDISCLI_AUTH", &self.password)
            .output()
            .map_err(|e| format!("{}: {e}", self.program.display()))?;
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        if output.status.success() && !text.starts_with("ERR") && !text.contains("[ERR]") {
            Ok(text)
        } else {
            let name =
                self.program.file_name().map_or_else(|| path(&self.program), |n| n.to_string_lossy().into_owned());
            Err(format!("{name} {}: {text}{}", args.join(" "), String::from_utf8_lossy(&output.stderr)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_nodes_lines_become_members() {
        let table = "a1 10.0.0.1:6381@16381 myself,master - 0 0 1 connected 0-8191\n\
                     b2 10.0.0.2:6381@16381,host2 master,fail? - 0 0 2 disconnected\n\
                     c3 10.0.0.2:6383@16383 slave a1 0 0 1 connected\n";
        let members = parse_nodes(table);
        assert_eq!(members.len(), 3);
        assert_eq!((members[0].slots, members[0].open_slots), (8192, false));
        let open = parse_nodes("d4 10.0.0.3:6381@16381 master - 0 0 3 connected 5 7-9 [10->-a1]\n");
        assert_eq!((open[0].slots, open[0].open_slots), (4, true));
        let lone = "d4 10.0.0.3:6381@16381 myself,master - 0 0 3 connected 7629\n";
        assert_eq!(unserved_ranges(lone, 16384), ["0", "7628", "7630", "16383"]);
        assert!(unserved_ranges("a 1:1@2 master - 0 0 1 connected 0-16383\n", 16384).is_empty());
        assert!(members[0].has("myself") && members[0].is_serving_primary() && members[0].has_slots);
        assert_eq!(members[1].address, "10.0.0.2:6381");
        assert!(!members[1].is_serving_primary() && !members[1].connected && !members[1].has_slots);
        assert_eq!(members[2].primary.as_deref(), Some("a1"));
    }
}
