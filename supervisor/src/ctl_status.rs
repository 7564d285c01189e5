//! What `orama-supervisor ctl status` prints: a table of the children, then the node (version,
//! gateway URL, libp2p peer id and listen addresses), or with `--json` the children as a JSON
//! array, each entry carrying what concerns it (see [`ChildReport`]).

use std::time::Duration;

use crate::control_protocol::{ChildReport, StatusReport};
use crate::node_info::{BRIDGE, GATEWAY};
use crate::text_table::render_table;

/// The JSON of `ctl status --json`: the children, in start order.
pub fn status_json(report: &StatusReport) -> String {
    serde_json::to_string_pretty(&report.children).unwrap_or_default()
}

/// The text of `ctl status`: the children's table, then the node's lines.
pub fn status_text(report: &StatusReport) -> String {
    let mut text = status_table(&report.children);
    text.push('\n');
    text.push_str(&node_lines(report));
    if report.dropped_log_lines > 0 {
        text.push_str(&format!("({} output lines dropped: the log could not keep up)\n", report.dropped_log_lines));
    }
    text
}

/// The children's table: state, pid, restarts, uptime, CPU, memory and last exit of each.
pub fn status_table(children: &[ChildReport]) -> String {
    let mut rows =
        vec![["NAME", "STATE", "PID", "RESTARTS", "UPTIME", "CPU", "RSS", "LAST EXIT"].map(String::from).to_vec()];
    for c in children {
        rows.push(vec![
            c.name.clone(),
            c.state.clone(),
            c.pid.map_or("-".into(), |p| p.to_string()),
            c.restarts.to_string(),
            c.uptime_secs.map_or("-".into(), |s| humantime::format_duration(Duration::from_secs(s as u64)).to_string()),
            c.cpu_percent.map_or("-".into(), |p| format!("{p:.1}%")),
            c.rss_bytes.map_or("-".into(), |b| format!("{:.1}M", b as f64 / 1_048_576.0)),
            c.last_exit.clone().unwrap_or_else(|| "-".into()),
        ]);
    }
    render_table(&rows)
}

/// The node's version, gateway URL, peer id and listen addresses, `-` for what is unknown
/// (no gateway, or a bridge that is not running).
fn node_lines(report: &StatusReport) -> String {
    let entry = |name: &str| report.children.iter().find(|c| c.name == name && c.version.is_some());
    let version = if report.version.is_empty() { "-".to_owned() } else { report.version.clone() };
    let url = entry(GATEWAY).and_then(|c| c.url.clone());
    let bridge = entry(BRIDGE);
    let peer_id = bridge.and_then(|c| c.peer_id.clone());
    let addrs = bridge.and_then(|c| c.listen_addrs.clone()).unwrap_or_default();
    let dash = || "-".to_owned();
    let mut rows = vec![
        vec!["version".to_owned(), version],
        vec!["gateway url".to_owned(), url.unwrap_or_else(dash)],
        vec!["peer id".to_owned(), peer_id.unwrap_or_else(dash)],
    ];
    let mut labels = std::iter::once("listen addrs").chain(std::iter::repeat(""));
    if addrs.is_empty() {
        rows.push(vec!["listen addrs".to_owned(), dash()]);
    }
    for addr in addrs {
        rows.push(vec![labels.next().unwrap_or_default().to_owned(), addr]);
    }
    render_table(&rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn child(name: &str, version: Option<&str>) -> ChildReport {
        ChildReport {
            name: name.into(),
            state: "ready".into(),
            pid: Some(42),
            restarts: 0,
            uptime_secs: Some(61.0),
            last_exit: None,
            cpu_percent: Some(1.5),
            rss_bytes: Some(3 * 1_048_576),
            version: version.map(str::to_owned),
            url: None,
            peer_id: None,
            listen_addrs: None,
        }
    }

    #[test]
    fn the_table_comes_first_then_the_node() {
        let mut gateway = child("gateway", Some("1.2.3"));
        gateway.url = Some("http://127.0.0.1:6001".into());
        let mut bridge = child("pubsub-bridge", Some("1.2.3"));
        bridge.peer_id = Some("12D3KooWabc".into());
        bridge.listen_addrs = Some(vec!["/ip4/127.0.0.1/tcp/4001".into(), "/ip4/10.0.0.1/tcp/4001".into()]);
        let report = StatusReport {
            children: vec![child("redis", None), gateway, bridge],
            dropped_log_lines: 0,
            version: "1.2.3".into(),
            journal: None,
            image_started_ms: 0,
        };
        let text = status_text(&report);
        assert!(text.starts_with("NAME"), "{text}");
        assert!(text.contains("\nredis          ready  42   0         1m 1s   1.5%  3.0M  -\n"), "{text}");
        let node = text.split_once("\n\n").map_or("", |(_, node)| node);
        assert_eq!(
            node,
            "version       1.2.3\ngateway url   http://127.0.0.1:6001\npeer id       12D3KooWabc\n\
             listen addrs  /ip4/127.0.0.1/tcp/4001\n              /ip4/10.0.0.1/tcp/4001\n"
        );
    }

    #[test]
    fn what_is_unknown_is_a_dash() {
        let report = StatusReport { children: vec![child("pubsub-bridge", Some("1.2.3"))], ..Default::default() };
        let node = status_text(&report).split_once("\n\n").map_or(String::new(), |(_, node)| node.to_owned());
        assert_eq!(node, "version       -\ngateway url   -\npeer id       -\nlisten addrs  -\n");
    }
}
