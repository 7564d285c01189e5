//! Logs under journald (issue 16): a journald started by the test, in a namespace of its own
//! so the machine's journal is untouched, receives every child's lines under the child's own
//! identifier (`orama-gateway`, ...), with its level as the priority; `ctl logs` then reads
//! the journal rather than the supervisor's buffer.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use orama_e2e::{Node, eventually, free_port};
use serde_json::Value;

use crate::FAST_SUPERVISOR;

/// `systemd-journald NAMESPACE`, stopped and its files removed when dropped.
struct Journald {
    child: Child,
    namespace: String,
}

impl Journald {
    fn start() -> Journald {
        let namespace = format!("oramatest{}", std::process::id());
        let child = Command::new("/lib/systemd/systemd-journald")
            .arg(&namespace)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start systemd-journald (the systemd package)");
        let journal = Journald { child, namespace };
        let up = eventually(Duration::from_secs(10), || journal.socket().exists());
        assert!(up, "journald made no socket at {}", journal.socket().display());
        journal
    }

    fn socket(&self) -> PathBuf {
        PathBuf::from(format!("/run/systemd/journal.{}/socket", self.namespace))
    }

    /// The entries of `identifier`, as JSON objects.
    fn entries(&self, identifier: &str) -> Vec<Value> {
        let output = Command::new("journalctl")
            .args(["--no-pager", "--output", "json", &format!("--namespace={}", self.namespace), "-t", identifier])
            .output()
            .expect("journalctl");
        String::from_utf8_lossy(&output.stdout).lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
    }
}

impl Drop for Journald {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(format!("/run/systemd/journal.{}", self.namespace));
        let machine = std::fs::read_to_string("/etc/machine-id").unwrap_or_default();
        for base in ["/var/log/journal", "/run/log/journal"] {
            let _ = std::fs::remove_dir_all(format!("{base}/{}.{}", machine.trim(), self.namespace));
        }
    }
}

#[test]
fn children_log_to_journald_under_their_own_names_and_ctl_logs_reads_it() {
    assert!(rustix::process::geteuid().is_root(), "journald runs as root only (CI runs as root)");
    let journal = Journald::start();
    let port = free_port();
    let config = format!("{FAST_SUPERVISOR}log: {{ format: journald }}\ngateway: {{ listen: '127.0.0.1:{port}' }}\n");
    let dir = tempfile::Builder::new().prefix("orama").tempdir().expect("tempdir");
    let socket = journal.socket();
    let node = Node::start_with_env(dir, &config, &[("ORAMA_JOURNAL_SOCKET", socket.as_os_str())]);
    node.wait_ready(&["gateway", "pubsub-bridge"]);

    for child in ["gateway", "pubsub-bridge"] {
        let identifier = format!("orama-{child}");
        let logged = eventually(Duration::from_secs(10), || !journal.entries(&identifier).is_empty());
        assert!(logged, "no entries for {identifier}");
        let entries = journal.entries(&identifier);
        let entry = &entries[0];
        assert_eq!(entry["ORAMA_CHILD"], child, "{entry}");
        assert!(entry["PRIORITY"].as_str().is_some_and(|p| ["3", "4", "6", "7"].contains(&p)), "{entry}");
        assert!(
            entry["MESSAGE"].as_str().is_some_and(|m| !m.starts_with('{')),
            "the event's message, not its JSON: {entry}"
        );
    }

    // `ctl logs` asks the supervisor, learns the journal, and reads it there.
    let logs = node.ctl(&["logs", "gateway", "-n", "5"]);
    let text = String::from_utf8_lossy(&logs.stdout);
    assert!(logs.status.success(), "{}", String::from_utf8_lossy(&logs.stderr));
    assert!(text.contains("orama-gateway["), "journalctl's lines name the identifier: {text}");
}
