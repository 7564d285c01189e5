//! `orama-supervisor install --root DIR` (issue 16): the tree a first node and a joining node
//! get (paths, modes, owners), a second run that changes nothing, an edited config kept unless
//! `--force`, a dry run that writes nothing, `uninstall` keeping the data unless `--purge`, a
//! unit `systemd-analyze verify` accepts, and a node installed into a temp dir and started from
//! there joining a running dev cluster with the secret and swarm key the first node printed.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use serde_json::json;

use orama_e2e::cluster::Cluster;
use orama_e2e::{bin, eventually, http, http_bytes};

/// `orama-supervisor install --root <root> --vps-ip 127.0.0.1 <args>`, with an `--ipfs` beside
/// the root unless `args` name one (never run: the tests that start a node give their own).
pub(crate) fn install(root: &Path, args: &[&str]) -> Output {
    let mut command = Command::new(bin("orama-supervisor"));
    command.args(["install", "--vps-ip", "127.0.0.1", "--root"]).arg(root).args(args);
    if !args.contains(&"--ipfs") {
        let beside = root.parent().expect("a root inside a temp dir");
        std::fs::create_dir_all(beside).expect("temp dir");
        command.arg("--ipfs").arg(orama_e2e::jsipfs::kubo_shim(beside, beside));
    }
    command.env("ORAMA_RQLITED", crate::cluster::rqlited()).output().expect("run install")
}

pub(crate) fn said(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// Every path under `root`: `path type mode user:group`, sorted.
fn tree(root: &Path) -> Vec<String> {
    let names = |file: &str| -> HashMap<u32, String> {
        std::fs::read_to_string(file)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                Some((f.get(2)?.parse().ok()?, f.first()?.to_string()))
            })
            .collect()
    };
    let (users, groups) = (names("/etc/passwd"), names("/etc/group"));
    let mut lines = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir").flatten() {
            let meta = entry.metadata().expect("metadata");
            let kind = if meta.is_dir() { "d" } else { "f" };
            let path = entry.path();
            let relative = path.strip_prefix(root).expect("under root").display().to_string();
            let owner = format!("{}:{}", users[&meta.uid()], groups[&meta.gid()]);
            lines.push(format!("{relative} {kind} {:o} {owner}", meta.permissions().mode() & 0o7777));
            if meta.is_dir() {
                stack.push(path);
            }
        }
    }
    lines.sort();
    lines
}

const FIRST_NODE_TREE: &[&str] = &[
    "etc d 755 root:root",
    "etc/orama d 750 root:nogroup",
    "etc/orama/cache-replica.conf f 600 nobody:nogroup",
    "etc/orama/cache-tls d 750 root:nogroup",
    "etc/orama/cache-tls/ca.crt f 644 root:nogroup",
    "etc/orama/cache-tls/node.crt f 644 root:nogroup",
    "etc/orama/cache-tls/node.key f 600 nobody:nogroup",
    "etc/orama/cache.conf f 600 nobody:nogroup",
    "etc/orama/cluster.secret f 600 nobody:nogroup",
    "etc/orama/orama.yaml f 640 root:nogroup",
    "etc/orama/raft-tls d 750 root:nogroup",
    "etc/orama/raft-tls/ca.crt f 644 root:nogroup",
    "etc/orama/raft-tls/node.crt f 644 root:nogroup",
    "etc/orama/raft-tls/node.key f 600 nobody:nogroup",
    "etc/orama/rqlite-auth.json f 600 nobody:nogroup",
    "etc/orama/swarm.key f 600 nobody:nogroup",
    "etc/systemd d 755 root:root",
    "etc/systemd/system d 755 root:root",
    "etc/systemd/system/orama-supervisor.service f 644 root:root",
    "run d 755 root:root",
    "run/orama d 700 nobody:nogroup",
    "var d 755 root:root",
    "var/lib d 755 root:root",
    "var/lib/orama d 700 nobody:nogroup",
    "var/lib/orama/cache d 700 nobody:nogroup",
    "var/lib/orama/cache-replica d 700 nobody:nogroup",
    "var/lib/orama/ipfs d 700 nobody:nogroup",
    "var/lib/orama/pubsub-bridge d 700 nobody:nogroup",
    "var/lib/orama/pubsub-bridge/identity.key f 600 nobody:nogroup",
    "var/log d 755 root:root",
    "var/log/orama d 750 nobody:nogroup",
];

#[test]
fn a_first_node_gets_its_tree_once_and_edits_are_kept_unless_forced() {
    let dir = tempfile::Builder::new().prefix("orama-install").tempdir().expect("tempdir");
    let root = dir.path().join("root");

    let dry = install(&root, &["--user", "nobody", "--dry-run"]);
    assert!(dry.status.success(), "{}", said(&dry));
    assert!(!root.exists(), "a dry run wrote nothing");
    let text = said(&dry);
    assert!(text.contains("would create") && text.contains("| node:") && text.contains("ExecStart="), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate().filter(|(_, l)| l.ends_with("cluster.secret") || l.ends_with("node.key"))
    {
        assert!(
            !lines.get(i + 1).is_some_and(|next| next.starts_with("    |")),
            "a secret printed after {line}: {text}"
        );
    }

    let first = install(&root, &["--user", "nobody"]);
    let text = said(&first);
    assert!(first.status.success(), "{text}");
    assert_eq!(tree(&root), FIRST_NODE_TREE, "{text}");
    let secret = std::fs::read_to_string(root.join("etc/orama/cluster.secret")).expect("secret");
    assert!(text.contains(&format!("--cluster-secret {}", secret.trim())), "the first node prints its secret: {text}");
    assert!(text.contains("--join 127.0.0.1:7001") && text.contains("--peers /ip4/127.0.0.1/tcp/4001/p2p/12D3KooW"));
    assert!(text.contains("--ipfs-peers /ip4/127.0.0.1/tcp/4101/p2p/12D3KooW"), "{text}");
    assert!(text.contains("--cache-peers 127.0.0.1:6381"), "{text}");
    let config = std::fs::read_to_string(root.join("etc/orama/orama.yaml")).expect("config");
    assert!(config.contains(&format!("data_dir: '{}/var/lib/orama'", root.display())), "{config}");
    assert!(config.contains("-node-verify-client") && !config.contains("-join,"), "{config}");

    let again = install(&root, &["--user", "nobody"]);
    assert!(again.status.success() && said(&again).contains("nothing to change"), "{}", said(&again));
    assert_eq!(std::fs::read_to_string(root.join("etc/orama/cluster.secret")).expect("secret"), secret);

    let edited = config.replace("log: { format: auto }", "log: { format: json }");
    std::fs::write(root.join("etc/orama/orama.yaml"), &edited).expect("edit");
    let refused = install(&root, &["--user", "nobody"]);
    let text = said(&refused);
    assert!(!refused.status.success(), "{text}");
    assert!(text.contains("DIFFERS") && text.contains("- log: { format: json }") && text.contains("--force"), "{text}");
    assert_eq!(std::fs::read_to_string(root.join("etc/orama/orama.yaml")).expect("kept"), edited);
    let other = install(&root, &["--user", "nobody", "--cluster-secret", &"ab".repeat(32)]);
    let text = said(&other);
    assert!(!other.status.success() && text.contains("a secret: not shown") && !text.contains(secret.trim()), "{text}");
    let forced = install(&root, &["--user", "nobody", "--force"]);
    assert!(forced.status.success(), "{}", said(&forced));
    assert_eq!(std::fs::read_to_string(root.join("etc/orama/orama.yaml")).expect("replaced"), config);

    let kept = Command::new(bin("orama-supervisor")).args(["uninstall", "--root"]).arg(&root).output().expect("run");
    assert!(kept.status.success(), "{}", said(&kept));
    assert!(
        !root.join("etc/orama/orama.yaml").exists()
            && !root.join("etc/systemd/system/orama-supervisor.service").exists()
    );
    assert!(
        root.join("var/lib/orama/pubsub-bridge/identity.key").exists()
            && root.join("etc/orama/cluster.secret").exists()
    );
    let purged = Command::new(bin("orama-supervisor"))
        .args(["uninstall", "--purge", "--root"])
        .arg(&root)
        .output()
        .expect("run");
    assert!(purged.status.success(), "{}", said(&purged));
    assert!(!root.join("var/lib/orama").exists() && !root.join("etc/orama").exists());
}

#[test]
fn the_unit_passes_systemd_analyze_verify() {
    let dir = tempfile::Builder::new().prefix("orama-install").tempdir().expect("tempdir");
    let root = dir.path().join("root");
    let done = install(&root, &["--domain", "node1.example.com"]);
    assert!(done.status.success(), "{}", said(&done));
    let unit = root.join("etc/systemd/system/orama-supervisor.service");
    let verify = Command::new("systemd-analyze").arg("verify").arg(&unit).output().expect("systemd-analyze");
    assert!(verify.status.success() && said(&verify).trim().is_empty(), "{}", said(&verify));
    let text = std::fs::read_to_string(&unit).expect("unit");
    for line in ["Type=notify", "WatchdogSec=", "User=orama", "StateDirectory=orama", "ExecStartPre=", "ExecReload="] {
        assert!(text.contains(line), "{line}: {text}");
    }
    assert!(!text.lines().any(|l| l.starts_with("MemoryDenyWriteExecute")), "{text}");
    let config = std::fs::read_to_string(root.join("etc/orama/orama.yaml")).expect("config");
    assert!(config.contains("mode: acme, domains: ['node1.example.com']"), "{config}");
}

/// A supervisor started on an installed tree, killed when dropped.
pub(crate) struct Started(Child);

impl Started {
    /// `orama-supervisor --config <config>`, its output discarded.
    pub(crate) fn from_tree(config: &Path) -> Started {
        Started(
            Command::new(bin("orama-supervisor"))
                .arg("--config")
                .arg(config)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start the installed node"),
        )
    }
}

impl Drop for Started {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_node_installed_with_the_printed_secret_joins_a_running_dev_cluster() {
    let cluster = Cluster::up(3);
    let dir = tempfile::Builder::new().prefix("orama-install").tempdir().expect("tempdir");
    let root = dir.path().join("root");
    let offset = free_offset();
    let secret = format!("@{}", cluster.dir().join("cluster.secret").display());
    let swarm = format!("@{}", cluster.dir().join("swarm.key").display());
    let join = format!("127.0.0.1:{}", cluster.nodes[1].rqlite_raft);
    let ipfs = orama_e2e::jsipfs::kubo_shim(dir.path(), &cluster.dir());
    // Every daemon: js-ipfs finds content only on the peers it is connected to (Kubo would
    // also look it up in the cluster's DHT, through any one of them).
    let ipfs_peers: Vec<String> = cluster.nodes.iter().filter_map(|n| n.ipfs_swarm.clone()).collect();
    let ipfs_peers = ipfs_peers.join(",");
    let args = ["--join", &join, "--cluster-secret", &secret, "--swarm-key", &swarm, "--node-name", "node4"];
    let cache_peer = format!("127.0.0.1:{}", cluster.nodes[0].cache_tls.expect("the cluster caches in Redis"));
    let ipfs = ipfs.display().to_string();
    let engines = [
        ["--ipfs", &ipfs],
        ["--ipfs-peers", &ipfs_peers],
        ["--peers", &cluster.nodes[0].bridge],
        ["--cache-peers", &cache_peer],
    ]
    .concat();
    let mine = ["--user", "nobody", "--port-offset", &offset.to_string()];
    let done = install(&root, &[&args[..], &engines, &mine].concat());
    let text = said(&done);
    assert!(done.status.success(), "{text}");
    assert_eq!(tree(&root), FIRST_NODE_TREE, "a joining node's tree is a first node's");
    assert!(!text.contains("This node started a cluster") && !text.contains(&cluster.secret()), "{text}");
    let given = std::fs::read_to_string(root.join("etc/orama/cluster.secret")).expect("secret");
    assert_eq!(given.trim(), cluster.secret(), "the secret given is the node's");
    let config = root.join("etc/orama/orama.yaml");
    assert!(std::fs::read_to_string(&config).expect("config").contains(&format!("-join, '{join}'")));
    let _node = Started::from_tree(&config);
    let port = 6001 + offset;
    let up = eventually(Duration::from_secs(60), || {
        orama_e2e::try_http(port, "GET", "/v1/health", "", None, Duration::from_secs(2))
            .is_some_and(|r| r.status == 200)
    });
    assert!(up, "the installed node's gateway did not answer");
    let key = cluster.ctl(0, &["apikey", "create", "--namespace", "installed"]);
    let header = format!("X-API-Key: {}\r\n", String::from_utf8_lossy(&key.stdout).trim());
    let whoami = http(port, "GET", "/v1/auth/whoami", &header, None);
    assert_eq!((whoami.status, whoami.json["namespace"].as_str()), (200, Some("installed")), "{whoami:?}");
    let status = http(cluster.nodes[0].port, "GET", "/v1/status", "", None);
    assert_eq!(status.json["network"]["cluster"]["members"].as_array().map(Vec::len), Some(4), "{status:?}");

    // Its IPFS daemon (the node's peer id, the cluster's swarm key) shares content both ways.
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("var/lib/orama/ipfs/config")).expect("repo")).expect("json");
    let bridge_key = std::fs::read(root.join("var/lib/orama/pubsub-bridge/identity.key")).expect("identity");
    use base64::Engine as _;
    assert_eq!(config["Identity"]["PrivKey"], base64::engine::general_purpose::STANDARD.encode(&bridge_key));
    for (from, to) in [(cluster.nodes[0].port, port), (port, cluster.nodes[1].port)] {
        let content = format!("stored through :{from}, read through :{to}").repeat(500);
        let cid = upload(from, &header, content.as_bytes());
        let got = http_bytes(to, "GET", &format!("/v1/storage/get/{cid}"), &header, "", b"");
        assert_eq!(got.status, 200, "{cid} through :{to}: {}", got.body.get(..200).unwrap_or(&got.body));
        assert!(got.body == content, "the same bytes through :{to}");
    }

    // Its cache servers join the Redis Cluster: its primary serves a share of the slots, with
    // a replica on another node, as every other primary has.
    // (Asked on a plain port, which the installed servers lack: they show by their bus port.)
    let primary = format!("@{}", 16381 + offset);
    let plain = cluster.nodes[0].cache.expect("cache ports").0;
    let mut table = String::new();
    let formed = eventually(Duration::from_secs(90), || {
        table = cluster.redis(plain, &["cluster", "nodes"]);
        crate::install_cache::cache_formed(&table, 4)
    });
    assert!(formed && table.contains(&primary), "the cache did not take the node in:\n{table}");
    let recorded = eventually(Duration::from_secs(30), || {
        std::fs::read_to_string(root.join("var/lib/orama/cache-members")).is_ok_and(|m| m.lines().count() == 3)
    });
    assert!(recorded, "the node records the other primaries, to rejoin through them");
    for (from, to) in [(cluster.nodes[2].port, port), (port, cluster.nodes[1].port)] {
        for i in 0..20 {
            let (dmap, key) = (format!("m{i}"), format!("from-{from}"));
            let put =
                http(from, "POST", "/v1/cache/put", &header, Some(&json!({"dmap": dmap, "key": key, "value": i})));
            assert_eq!(put.status, 200, "{put:?}");
            let get = http(to, "POST", "/v1/cache/get", &header, Some(&json!({"dmap": dmap, "key": key})));
            assert_eq!((get.status, &get.json["value"]), (200, &json!(i)), "through :{to}: {get:?}");
        }
    }
}

/// Uploads `content` through the gateway on `port`; its CID.
fn upload(port: u16, header: &str, content: &[u8]) -> String {
    let boundary = "orama-install-test";
    let mut form = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    form.extend_from_slice(content);
    form.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let content_type = format!("multipart/form-data; boundary={boundary}");
    let reply = http_bytes(port, "POST", "/v1/storage/upload", header, &content_type, &form);
    assert_eq!(reply.status, 200, "{reply:?}");
    reply.json["cid"].as_str().expect("cid").to_owned()
}

/// A port offset under which the installed node's ports (4001 to 16382, plus it) are free,
/// below the ranges dev clusters (20000-31999) and the system's `bind(0)` draw from.
pub(crate) fn free_offset() -> u16 {
    (0..200)
        .map(|i| 1_000 + ((std::process::id() as u16).wrapping_mul(7).wrapping_add(i * 13) % 2500))
        .find(|offset| {
            [6001, 5001, 7001, 4001, 4101, 5101, 6381, 6382, 16381, 16382]
                .iter()
                .all(|base| std::net::TcpListener::bind(("0.0.0.0", base + offset)).is_ok())
        })
        .expect("a free port offset")
}

/// A relay node: the anonrc (no exit without the acknowledgement), the relay supervised as an
/// external that the anon proxy uses, and a relay the `anon` package set up taken over with
/// its identity keys and its nickname, contact and family. (The daemon is never started here:
/// its ORPort would reach the network. `--anon` names a program that exists, as install checks.)
#[test]
fn a_relay_node_gets_its_anonrc_and_takes_over_an_existing_relay_with_its_keys() {
    let dir = tempfile::Builder::new().prefix("orama-install").tempdir().expect("tempdir");
    let root = dir.path().join("root");
    let relay = ["--user", "nobody", "--anyone-relay", "--anon", "/bin/true"];

    let exit = install(&root, &[&relay[..], &["--exit"]].concat());
    let text = said(&exit);
    assert!(!exit.status.success() && text.contains("--i-accept-exit-relay-risks"), "{text}");
    assert!(!root.exists(), "nothing written for a refused exit");

    std::fs::create_dir_all(root.join("etc/anon")).expect("anon dir");
    std::fs::write(
        root.join("etc/anon/anonrc"),
        "Nickname oldrelay\nContactInfo ops@example.com\nMyFamily ABCDEF\nSocksPort 0\nORPort 9001\n",
    )
    .expect("anonrc");
    std::fs::create_dir_all(root.join("var/lib/anon/keys")).expect("keys dir");
    for (name, bytes) in [("secret_id_key", &b"rsa identity"[..]), ("ed25519_master_id_secret_key", b"ed25519")] {
        std::fs::write(root.join("var/lib/anon/keys").join(name), bytes).expect("key");
    }
    let done = install(&root, &relay);
    let text = said(&done);
    assert!(done.status.success(), "{text}");
    assert!(text.contains("Anyone: a relay (no exit traffic) on 9001/tcp"), "{text}");
    let anonrc = std::fs::read_to_string(root.join("etc/orama/anonrc")).expect("anonrc");
    for line in [
        "ORPort 9001",
        "SocksPort 127.0.0.1:9050",
        "ControlPort 127.0.0.1:9051",
        "CookieAuthentication 1",
        &format!("DataDirectory {}/var/lib/orama/anon", root.display()),
        "Nickname oldrelay",
        "ContactInfo ops@example.com",
        "MyFamily ABCDEF",
        "ExitRelay 0",
    ] {
        assert!(anonrc.lines().any(|l| l == line), "{line} in:\n{anonrc}");
    }
    assert!(!anonrc.contains("SocksPort 0"), "{anonrc}");
    let keys = root.join("var/lib/orama/anon/keys");
    assert_eq!(std::fs::read(keys.join("secret_id_key")).expect("kept key"), b"rsa identity");
    let listing: Vec<String> = tree(&root).into_iter().filter(|l| l.contains("orama/anon")).collect();
    assert_eq!(
        listing,
        [
            "etc/orama/anonrc f 640 root:nogroup",
            "var/lib/orama/anon d 700 nobody:nogroup",
            "var/lib/orama/anon/keys d 700 nobody:nogroup",
            "var/lib/orama/anon/keys/ed25519_master_id_secret_key f 600 nobody:nogroup",
            "var/lib/orama/anon/keys/secret_id_key f 600 nobody:nogroup",
        ]
    );
    let config = std::fs::read_to_string(root.join("etc/orama/orama.yaml")).expect("config");
    assert!(
        config.contains("- name: anon\n    command: '/bin/true'") && config.contains("depends_on: [anon]"),
        "{config}"
    );

    let exit = install(&root, &[&relay[..], &["--exit", "--i-accept-exit-relay-risks", "--force"]].concat());
    assert!(exit.status.success(), "{}", said(&exit));
    let anonrc = std::fs::read_to_string(root.join("etc/orama/anonrc")).expect("anonrc");
    assert!(anonrc.contains("ExitRelay 1\n") && anonrc.contains("ExitPolicy reject private:*"), "{anonrc}");
}
