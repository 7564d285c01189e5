//! `orama-supervisor cache-member`: keeps an installed node's two Redis servers in the
//! cluster's cache, as a supervised external that never exits. Nodes are installed one by one
//! and know only the members they were given (`--seed`), so each node shapes its own part, one
//! step per round, again and again, rather than one `dev up` shaping the whole cluster:
//!
//! 1. its primary, never in a cluster: on the first node it takes every slot; elsewhere it
//!    joins through a seed (`--cluster add-node`). A node records the other primaries once its
//!    own serves slots (`--state`): a primary that lost its cluster's configuration rejoins
//!    through them, and a first node never starts a second cluster beside its first;
//! 2. its primary, demoted to a replica by a failover while the node was away, takes its role
//!    back (`CLUSTER FAILOVER`);
//! 3. a slot migration left half-done (an interrupted rebalance) is finished (`--cluster
//!    fix`); its primary, with less than four fifths of its share, gets its share
//!    (`--cluster rebalance --cluster-use-empty-masters`; keys move with them);
//! 4. its replica, alone, joins as the replica of another node's primary with the fewest
//!    replicas (its own node's only while it is the only node);
//! 5. its replica, following its own node's primary once another exists, moves there;
//! 6. its primary, with no replica while another primary has two, takes one of those.
//!
//! A replica left in a cluster its primary is not in (the primary lost its configuration) is
//! reset (`CLUSTER RESET SOFT`: it holds only a copy) and joins again.
//!
//! So every primary ends up with a replica on another node: losing one node loses no slot.
//! A step that fails (a seed unreachable, nodes not yet agreeing on the configuration) is
//! tried again in the next round.

use std::path::PathBuf;
use std::time::Duration;

use orama_service::cluster::ClusterSecret;

use crate::cluster_ca::TlsFiles;

/// A Redis Cluster's slots.
const SLOTS: usize = 16384;
use crate::redis_cli::{Member, RedisCli};

/// `cache-member`'s options (written by `install` into the node config).
#[derive(Debug, Clone, clap::Args)]
pub struct CacheMemberArgs {
    /// `redis-cli` or `valkey-cli`.
    #[arg(long, value_name = "FILE")]
    pub cli: PathBuf,
    /// The directory with the cluster CA's `ca.crt` and this node's `node.crt` and `node.key`.
    #[arg(long, value_name = "DIR")]
    pub tls_dir: PathBuf,
    /// The cluster secret's file (the servers' password derives from it).
    #[arg(long, value_name = "FILE")]
    pub secret_file: PathBuf,
    /// This node's primary as the other nodes reach it (`IP:TLS-PORT`).
    #[arg(long, value_name = "ADDRESS")]
    pub primary: String,
    /// This node's replica as the other nodes reach it.
    #[arg(long, value_name = "ADDRESS")]
    pub replica: String,
    /// A member's primary to join through (`IP:TLS-PORT`); repeated. None on the first node.
    #[arg(long = "seed", value_name = "ADDRESS")]
    pub seeds: Vec<String>,
    /// Where the node records the cluster's other primaries (see the module docs).
    #[arg(long, value_name = "FILE")]
    pub state: PathBuf,
    /// Seconds between rounds once nothing is left to do.
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    pub every: u64,
}

/// Runs rounds until killed; returns only when it cannot start.
pub fn run(args: &CacheMemberArgs) -> Result<std::convert::Infallible, String> {
    let secret = ClusterSecret::read(&args.secret_file).map_err(|e| e.to_string())?;
    let cli = RedisCli {
        program: args.cli.clone(),
        tls: TlsFiles::in_dir(&args.tls_dir),
        password: secret.password_for("redis"),
    };
    let node = Node { cli, args: args.clone() };
    let mut last_error = String::new();
    loop {
        let pause = match node.round() {
            Ok(Some(done)) => {
                println!("{done}");
                last_error.clear();
                Duration::from_secs(2)
            }
            Ok(None) => {
                last_error.clear();
                Duration::from_secs(args.every)
            }
            Err(why) => {
                if why != last_error {
                    eprintln!("not yet: {}", why.trim());
                    last_error = why;
                }
                Duration::from_secs(3)
            }
        };
        std::thread::sleep(pause);
    }
}

/// This node's servers and the client that reaches them.
struct Node {
    cli: RedisCli,
    args: CacheMemberArgs,
}

impl Node {
    /// Takes the first step the node's servers need (module docs); what it did, or `None`
    /// when they are in shape.
    fn round(&self) -> Result<Option<String>, String> {
        let (cli, primary, replica) = (&self.cli, self.args.primary.as_str(), self.args.replica.as_str());
        let alone = cli.cluster_number(primary, "cluster_known_nodes")? == 1;
        if alone && cli.cluster_number(primary, "cluster_slots_assigned")? < SLOTS {
            return self.join_primary().map(Some);
        }
        let members = cli.members(primary)?;
        let me = members.iter().find(|m| m.has("myself")).ok_or("the primary does not list itself")?;
        if me.has_slots {
            self.record(&members)?;
        }
        if me.has("slave") {
            // A failover asked before the sync finished waits for it anyway: ask once it has.
            let replication = cli.ask(primary, &["info", "replication"])?;
            let synced =
                replication.contains("master_link_status:up") && replication.contains("master_sync_in_progress:0");
            if !synced {
                return Err("the primary, a replica since a failover, syncs before taking its role back".into());
            }
            cli.ask(primary, &["cluster", "failover"])?;
            return Ok(Some("the primary takes its role back from its replica".into()));
        }
        let serving: Vec<&Member> = members.iter().filter(|m| m.is_serving_primary() && m.has_slots).collect();
        if members.iter().any(|m| m.open_slots) {
            cli.run(&["--cluster", "fix", primary].map(str::to_owned))?;
            return Ok(Some("a slot migration left half-done was finished".into()));
        }
        let primaries = serving.len() + usize::from(!me.has_slots);
        if !serving.is_empty() && me.slots * 5 < SLOTS * 4 / primaries {
            self.rebalance()?;
            return Ok(Some("the primary was given its share of the slots".into()));
        }
        let replicas_of =
            |id: &str| members.iter().filter(|m| m.primary.as_deref() == Some(id) && !m.has("fail")).count();
        let mut others: Vec<&Member> = serving.iter().copied().filter(|m| m.id != me.id).collect();
        others.sort_by_key(|m| (replicas_of(&m.id), m.id.clone()));
        let target = others.first().map_or(me.id.as_str(), |m| m.id.as_str());
        if cli.alone(replica)? {
            let add = ["--cluster", "add-node", replica, primary, "--cluster-slave", "--cluster-master-id", target];
            cli.run(&add.map(str::to_owned))?;
            return Ok(Some(format!("the replica joined, following {target}")));
        }
        let replica_id = cli.ask(replica, &["cluster", "myid"])?.trim().to_owned();
        let Some(mine) = members.iter().find(|m| m.id == replica_id) else {
            // A replica still in a cluster this primary is not in (its own configuration was
            // lost) holds only a copy: it starts over, and joins in the next round.
            if !cli.members(replica)?.iter().any(|m| m.id == me.id) {
                cli.ask(replica, &["cluster", "reset", "soft"])?;
                return Ok(Some("the replica, left in a cluster its primary is not in, starts over".into()));
            }
            return Err("the primary does not know the replica yet".into());
        };
        if mine.primary.as_deref() == Some(me.id.as_str()) && target != me.id {
            cli.ask(replica, &["cluster", "replicate", target])?;
            return Ok(Some(format!("the replica now follows {target}, on another node")));
        }
        if replicas_of(&me.id) == 0 {
            let donor = serving.iter().find(|m| replicas_of(&m.id) >= 2);
            let taken = donor.and_then(|d| {
                members
                    .iter()
                    .find(|m| m.primary.as_deref() == Some(d.id.as_str()) && m.id != replica_id && m.connected)
            });
            if let Some(taken) = taken {
                cli.ask(&taken.address, &["cluster", "replicate", &me.id])?;
                return Ok(Some(format!("{} now replicates this node's primary", taken.address)));
            }
        }
        Ok(None)
    }

    /// The primary, in no cluster, takes every slot (a first node, the first time) or joins
    /// through the first seed (given, or recorded) that lets it in. (A primary restarted
    /// without its cluster configuration but with its append-only file claims the slots of the
    /// keys it loaded: a first node takes the rest; elsewhere its keys, a copy of what the
    /// cluster serves from their promoted replicas now, are dropped so it can join.)
    fn join_primary(&self) -> Result<String, String> {
        let primary = self.args.primary.as_str();
        let recorded = std::fs::read_to_string(&self.args.state).ok();
        let mut seeds = self.args.seeds.clone();
        seeds.extend(recorded.iter().flat_map(|text| text.lines().map(str::to_owned)));
        seeds.retain(|s| !s.is_empty() && s != primary);
        // No seed given and none recorded: no other primary existed when this one last looked.
        if seeds.is_empty() {
            let unserved = crate::redis_cli::unserved_ranges(&self.cli.ask(primary, &["cluster", "nodes"])?, SLOTS);
            let mut args = vec!["cluster", "addslotsrange"];
            args.extend(unserved.iter().map(String::as_str));
            self.cli.ask(primary, &args)?;
            return Ok("the primary serves every slot: a cluster of one, until others join".into());
        }
        if self.cli.cluster_number(primary, "cluster_slots_assigned")? > 0 {
            self.cli.ask(primary, &["flushall"])?;
            self.cli.ask(primary, &["cluster", "reset", "hard"])?;
        }
        let mut why = Vec::new();
        for seed in &seeds {
            match self.cli.run(&["--cluster", "add-node", primary, seed].map(str::to_owned)) {
                Ok(_) => return Ok(format!("the primary joined the cluster through {seed}")),
                Err(err) => why.push(err),
            }
        }
        Err(format!("no seed let the primary in: {}", why.join("; ")))
    }

    /// Records the other primaries' addresses (when they changed).
    fn record(&self, members: &[Member]) -> Result<(), String> {
        let mut others: Vec<&str> =
            members.iter().filter(|m| m.has("master") && !m.has("myself")).map(|m| m.address.as_str()).collect();
        others.sort_unstable();
        let text = others.iter().map(|a| format!("{a}\n")).collect::<String>();
        if std::fs::read_to_string(&self.args.state).is_ok_and(|old| old == text) {
            return Ok(());
        }
        crate::cluster_keys::write_private(&self.args.state, text.as_bytes())
    }

    /// Moves slots to empty primaries (this one), once every member agrees on the cluster.
    fn rebalance(&self) -> Result<(), String> {
        let args = ["--cluster", "rebalance", self.args.primary.as_str(), "--cluster-use-empty-masters"];
        self.cli.run(&args.map(str::to_owned)).map(drop)
    }
}
