//! What `install` tells the operator: each directory and file with what happens to it (and,
//! in a dry run, every file's contents but secrets'), then the next steps, and on a first node
//! the command that adds the next one.

use std::io::Write;

use super::files::{Change, Item};
use super::node_config::ports;
use super::plan::{Plan, PlanOptions};
use super::target::UNIT_NAME;

/// One line per item (`create 0640 root:orama /etc/orama/orama.yaml`), differences below the
/// items refused; file contents too in a dry run.
pub fn changes(items: &[Item], changes: &[Change], dry_run: bool, out: &mut dyn Write) {
    for (item, change) in items.iter().zip(changes) {
        let verb = match (change, dry_run) {
            (Change::Create, false) => "created",
            (Change::Create, true) => "would create",
            (Change::Unchanged, _) => "unchanged",
            (Change::Fix, false) => "fixed mode/owner",
            (Change::Fix, true) => "would fix mode/owner",
            (Change::Replace, false) => "replaced",
            (Change::Replace, true) => "would replace",
            (Change::Kept, _) => "kept (already made)",
            (Change::Refused(_), _) => "DIFFERS",
        };
        let owner = format!("{}:{}", item.owner.user, item.owner.group);
        let _ = writeln!(out, "{verb:<22} {:04o} {owner:<12} {}", item.mode, item.path.display());
        if let Change::Refused(diff) = change {
            for line in diff.lines() {
                let _ = writeln!(out, "    {line}");
            }
        }
        if let (true, Some(content), false, Change::Create | Change::Replace) =
            (dry_run, &item.content, item.secret, change)
        {
            for line in String::from_utf8_lossy(content).lines() {
                let _ = writeln!(out, "    | {line}");
            }
        }
    }
    if changes.iter().all(|c| matches!(c, Change::Unchanged | Change::Kept)) {
        let _ = writeln!(out, "nothing to change: the node is installed as these options say");
    }
}

/// DNS, ports, logs; and on a node that made the cluster, how to add the next.
pub fn next_steps(options: &PlanOptions, plan: &Plan, changed: bool, out: &mut dyn Write) {
    if !changed {
        return;
    }
    let port = |base: u16| base + options.port_offset;
    let ip = options.vps_ip;
    let _ = writeln!(out, "\nNext:");
    let gateway = match &options.domain {
        Some(domain) => {
            let _ = writeln!(out, "  DNS: point {domain} at {ip} (an A or AAAA record); the certificate follows");
            format!("{}/tcp and {}/tcp (HTTPS, ACME)", port(ports::HTTPS), port(ports::HTTP))
        }
        None => format!("{}/tcp (HTTP; pass --domain for HTTPS)", port(ports::GATEWAY)),
    };
    let _ = writeln!(
        out,
        "  open ports: {gateway}, {}/tcp (pub/sub), {}/tcp (IPFS), {}/tcp (RQLite Raft), \
         {}-{}/tcp and {}-{}/tcp (cache servers and their cluster bus); every link between nodes is encrypted",
        port(ports::P2P),
        port(ports::IPFS_SWARM),
        port(ports::RQLITE_RAFT),
        port(ports::CACHE),
        port(ports::CACHE_REPLICA),
        port(ports::CACHE_BUS),
        port(ports::CACHE_REPLICA_BUS),
    );
    if let Some(relay) = &options.relay {
        let or_port = super::relay::OR_PORT + options.port_offset;
        let kind = if relay.exit { "an exit relay" } else { "a relay (no exit traffic)" };
        let _ = writeln!(
            out,
            "  Anyone: {kind} on {or_port}/tcp, which must be reachable from the internet; the anon proxy \
             uses its SOCKS port. A relay earns rewards only once registered: see the relay requirements \
             (hardware, tokens, registration) in Anyone's documentation"
        );
        if std::net::TcpListener::bind(("0.0.0.0", or_port)).is_err() {
            let _ = writeln!(
                out,
                "  warning: port {or_port} is in use (the anon package's own service?): \
                 `systemctl disable --now anon` so the node's relay can take it"
            );
        }
    }
    let _ = writeln!(out, "  logs: journalctl -u {UNIT_NAME} -f  (or orama-supervisor ctl logs gateway)");
    let _ = writeln!(out, "  status: orama-supervisor ctl --config {} status", options.target.config_file().display());
    if options.join.is_none() {
        let (proto, host) = if ip.is_ipv4() { ("ip4", ip.to_string()) } else { ("ip6", format!("[{ip}]")) };
        let _ = writeln!(
            out,
            "\nThis node started a cluster. Keep the secret below private: it admits a node to the cluster.\n\
             To add a node, run on it:\n  sudo orama-supervisor install --vps-ip <ITS IP> --join {host}:{raft} \\\n    \
             --cluster-secret {secret} \\\n    --swarm-key {swarm} \\\n    --peers /{proto}/{ip}/tcp/{p2p}/p2p/{peer} \\\n    \
             --ipfs-peers /{proto}/{ip}/tcp/{ipfs}/p2p/{peer} \\\n    --cache-peers {cache}",
            raft = port(ports::RQLITE_RAFT),
            secret = plan.secret.expose(),
            swarm = plan.swarm_key_hex,
            p2p = port(ports::P2P),
            ipfs = port(ports::IPFS_SWARM),
            cache = super::cache::primary_address(ip, options.port_offset),
            peer = plan.peer_id,
        );
    }
}
