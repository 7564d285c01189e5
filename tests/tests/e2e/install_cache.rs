//! An installed node's cache (issue 16): a first node forms a Redis Cluster of its own (its
//! primary with every slot, its replica following it) and forms it again, without a second
//! cluster, when its primary lost its configuration. (Joining a dev cluster's cache is in
//! `install`.)

use std::process::Command;
use std::time::Duration;

use orama_e2e::eventually;

use crate::install::{Started, free_offset, install, said};

#[test]
fn a_first_node_forms_a_cache_of_its_own_and_takes_its_slots_once() {
    let dir = tempfile::Builder::new().prefix("orama-install").tempdir().expect("tempdir");
    let root = dir.path().join("root");
    let offset = free_offset();
    let done = install(&root, &["--user", "nobody", "--port-offset", &offset.to_string()]);
    assert!(done.status.success(), "{}", said(&done));
    let config = root.join("etc/orama/orama.yaml");
    let start = || Started::from_tree(&config);
    let conf = std::fs::read_to_string(root.join("etc/orama/cache.conf")).expect("cache.conf");
    let password = conf.lines().find_map(|l| l.strip_prefix("requirepass ")).expect("requirepass").to_owned();
    let ask = |args: &[&str]| -> String {
        let output = Command::new("redis-cli")
            .arg("-s")
            .arg(root.join("run/orama/cache.sock"))
            .args(args)
            .env("REDISCLI_AUTH", &password)
            .output()
            .expect("redis-cli");
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let mut table = String::new();
    let formed = |table: &mut String| {
        eventually(Duration::from_secs(60), || {
            *table = ask(&["cluster", "nodes"]);
            cache_formed(table, 1) && table.contains(" 0-16383")
        })
    };
    let node = start();
    assert!(formed(&mut table), "a cluster of one with its replica:\n{table}");
    assert!(ask(&["set", "k", "v"]).contains("OK"));
    drop(node);

    // Its configuration lost, the primary takes the slots again: it knew no other primary.
    std::fs::remove_file(root.join("var/lib/orama/cache/nodes.conf")).expect("nodes.conf");
    let _node = start();
    assert!(formed(&mut table), "formed again:\n{table}");
    assert!(std::fs::read_to_string(root.join("var/lib/orama/cache-members")).is_ok_and(|m| m.is_empty()));
}

/// Whether a `CLUSTER NODES` table shows `primaries` primaries serving slots, each followed by
/// a connected replica.
pub(crate) fn cache_formed(table: &str, primaries: usize) -> bool {
    let lines: Vec<Vec<&str>> = table.lines().map(|l| l.split(' ').collect()).collect();
    let serving: Vec<&str> = lines
        .iter()
        .filter(|f| f.len() > 8 && f[2].contains("master") && !f[2].contains("fail"))
        .map(|f| f[0])
        .collect();
    let followed = |id: &str| lines.iter().any(|f| f.get(3) == Some(&id) && f.get(7) == Some(&"connected"));
    serving.len() == primaries && serving.iter().all(|id| followed(id))
}
