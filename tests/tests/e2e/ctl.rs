//! `ctl stop`, `start`, `restart` and `logs`, and its one-line errors.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use orama_e2e::{Node, WAIT, alive, bin, eventually};

use crate::FAST_SUPERVISOR_ALONE;

fn talker_node() -> Node {
    let config = format!(
        "{FAST_SUPERVISOR_ALONE}
gateway: {{ enabled: false }}
externals:
  - name: talker
    command: sh
    args: [-c, 'echo hello-from-talker; echo to-stderr >&2; exec sleep 600']
"
    );
    let node = Node::start(&config);
    node.wait_ready(&["talker"]);
    node
}

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn stop_start_restart_act_and_report() {
    let node = talker_node();
    let first = node.pid("talker");

    let output = node.ctl(&["stop", "talker"]);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(stdout(&output), "talker: stopped\n");
    assert!(!alive(first), "stop ends the process");
    assert_eq!(node.child("talker")["pid"], serde_json::Value::Null);

    assert!(node.ctl(&["start", "talker"]).status.success());
    let second = node.wait_child("talker", "ready", |c| c["state"] == "ready")["pid"].as_u64().expect("pid");

    let output = node.ctl(&["restart", "talker"]);
    assert!(output.status.success());
    let status = node.wait_child("talker", "ready", |c| c["state"] == "ready");
    assert_ne!(status["pid"], second);
    assert_eq!(status["restarts"], 1, "an operator restart counts");
    assert!(!alive(second as u32));
}

#[test]
fn logs_show_the_childs_own_output_and_follow_it() {
    let node = talker_node();
    let has_lines = eventually(WAIT, || {
        let out = stdout(&node.ctl(&["logs", "talker"]));
        out.contains("hello-from-talker\n") && out.contains("to-stderr\n")
    });
    assert!(has_lines, "{}", stdout(&node.ctl(&["logs", "talker"])));
    assert_eq!(stdout(&node.ctl(&["logs", "talker", "-n", "1"])).lines().count(), 1);

    let mut follower = Command::new(bin("orama-supervisor"))
        .args(["ctl", "--runtime-dir"])
        .arg(&node.runtime_dir)
        .args(["logs", "talker", "-f", "-n", "0"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("follow");
    // Read the follower on a thread, so every wait below is bounded.
    let stdout = follower.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    // The follower subscribes some time after it starts: restart the child (which prints) until
    // a line comes through.
    let mut followed = None;
    for _ in 0..10 {
        assert!(node.ctl(&["restart", "talker"]).status.success());
        if let Ok(line) = rx.recv_timeout(std::time::Duration::from_secs(2)) {
            followed = Some(line);
            break;
        }
    }
    let line = followed.expect("a followed line");
    assert!(line == "hello-from-talker" || line == "to-stderr", "{line}");
    let _ = follower.kill();
    let _ = follower.wait();
}

#[test]
fn unknown_children_and_missing_supervisors_are_one_line_errors() {
    let node = talker_node();
    let output = node.ctl(&["restart", "nope"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("unknown child \"nope\" (children: talker)"), "{stderr}");

    let dir = tempfile::tempdir().expect("tempdir");
    let output = Command::new(bin("orama-supervisor"))
        .args(["ctl", "--runtime-dir"])
        .arg(dir.path())
        .arg("status")
        .output()
        .expect("ctl");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("no supervisor is running"), "{stderr}");
}
