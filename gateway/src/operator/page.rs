//! The operator page's HTML: the node at a glance, plots of the last hour drawn as inline SVG
//! on the server, and a `<meta>` refresh every ten seconds. No script at all, no external
//! font or image; the one stylesheet is allowed by its hash, and every value from outside
//! (process names, exit reasons, engine errors, peer ids) is escaped.

use std::fmt::Write as _;
use std::sync::LazyLock;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use orama_ipc::control::ChildReport;
use sha2::{Digest, Sha256};

use super::snapshot::{Backend, Snapshot};
use crate::http::history::{INTERVAL, KEPT, Sample};
use crate::http::wire::escape_html as esc;

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:1.5rem auto;max-width:64rem;padding:0 1rem;\
color:#1f2328}h1{font-size:1.4rem;margin:0}h2{font-size:1.1rem;margin:1.6rem 0 .5rem}header{display:flex;\
justify-content:space-between;align-items:center;gap:1rem}table{border-collapse:collapse;width:100%}\
th,td{text-align:left;padding:.3rem .6rem;border-bottom:1px solid #d0d7de;font-variant-numeric:tabular-nums}\
.ok{color:#1a7f37}.bad{color:#cf222e}.muted{color:#656d76}figure{margin:0 0 1rem}figcaption{font-size:.9rem}\
svg.plot{width:100%;height:auto;background:#f6f8fa;border:1px solid #d0d7de}.grid{display:grid;\
grid-template-columns:repeat(auto-fit,minmax(28rem,1fr));gap:0 1.5rem}form.sign-in{max-width:24rem;margin-top:3rem}\
input{width:100%;font-size:1rem;padding:.4rem;margin:.3rem 0 .8rem}button{font-size:1rem;padding:.4rem 1rem}";

/// The pages' `Content-Security-Policy`: the stylesheet by hash and forms to this origin;
/// no scripts, no fetches, no frames, no images, no base changes.
pub static POLICY: LazyLock<String> = LazyLock::new(|| {
    format!(
        "default-src 'none'; style-src 'sha256-{}'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        STANDARD.encode(Sha256::digest(STYLE.as_bytes()))
    )
});

/// The sign-in page, with `problem` said when there is one.
pub fn sign_in(problem: Option<&str>) -> String {
    let problem = problem.map(|p| format!("<p class=\"bad\" id=\"problem\">{}</p>", esc(p))).unwrap_or_default();
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Orama node · operator sign-in</title>\
         <style>{STYLE}</style></head><body><form class=\"sign-in\" method=\"post\" action=\"/v1/operator/sign-in\">\
         <h1>Operator sign-in</h1><p class=\"muted\">Make a key on the node with \
         <code>orama-supervisor ctl operator-key create</code>.</p>{problem}<label>Operator key \
         <input type=\"password\" name=\"key\" autocomplete=\"off\" required autofocus></label>\
         <button type=\"submit\">Sign in</button></form></body></html>"
    )
}

/// The status page of `snapshot`.
pub fn status(snapshot: &Snapshot) -> String {
    let mut html = String::with_capacity(32 * 1024);
    html.push_str(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"10\">\
         <title>Orama node · operator</title>",
    );
    let _ = write!(html, "<style>{STYLE}</style></head><body>");
    header(&mut html, snapshot);
    processes(&mut html, snapshot);
    backends(&mut html, &snapshot.backends);
    cluster(&mut html, snapshot);
    plots(&mut html, &snapshot.history);
    html.push_str("</body></html>");
    html
}

fn header(html: &mut String, snapshot: &Snapshot) {
    let version = snapshot.processes.as_ref().map(|r| r.version.clone()).unwrap_or_default();
    let node = match &snapshot.node {
        Some(node) => format!("peer <code>{}</code>, {} peers connected", esc(&node.peer_id), node.peer_count),
        None => "<span class=\"bad\">the pub/sub bridge did not answer</span>".to_owned(),
    };
    let _ = write!(
        html,
        "<header><div><h1>Orama node {}</h1><p class=\"muted\">gateway up {} · {node}</p></div>\
         <form method=\"post\" action=\"/v1/operator/sign-out\"><button type=\"submit\">Sign out</button></form></header>",
        esc(&version),
        duration(snapshot.uptime)
    );
}

fn processes(html: &mut String, snapshot: &Snapshot) {
    html.push_str("<section id=\"processes\"><h2>Processes</h2>");
    let report = match &snapshot.processes {
        Ok(report) => report,
        Err(problem) => {
            let _ = write!(html, "<p class=\"bad\">{}</p></section>", esc(problem));
            return;
        }
    };
    html.push_str(
        "<table><thead><tr><th>Process</th><th>State</th><th>PID</th><th>Restarts</th><th>Uptime</th>\
         <th>CPU</th><th>Memory</th><th>Last exit</th></tr></thead><tbody>",
    );
    for child in &report.children {
        process_row(html, child);
    }
    html.push_str("</tbody></table></section>");
}

fn process_row(html: &mut String, child: &ChildReport) {
    let class = if child.state == "ready" { "ok" } else { "bad" };
    let _ = write!(
        html,
        "<tr class=\"process\" id=\"process-{name}\" data-state=\"{state}\"><td>{name}</td>\
         <td class=\"{class}\">{state}</td><td>{pid}</td><td>{restarts}</td><td>{uptime}</td><td>{cpu}</td>\
         <td>{rss}</td><td class=\"muted\">{exit}</td></tr>",
        name = esc(&child.name),
        state = esc(&child.state),
        pid = child.pid.map(|p| p.to_string()).unwrap_or_default(),
        restarts = child.restarts,
        uptime = child.uptime_secs.map(|s| duration(Duration::from_secs_f64(s))).unwrap_or_default(),
        cpu = child.cpu_percent.map(|c| format!("{c:.1}%")).unwrap_or_default(),
        rss = child.rss_bytes.map(mebibytes).unwrap_or_default(),
        exit = esc(child.last_exit.as_deref().unwrap_or("")),
    );
}

fn backends(html: &mut String, backends: &[Backend]) {
    html.push_str(
        "<section id=\"backends\"><h2>Backends</h2><table><thead><tr><th>Serves</th><th>Engine</th>\
         <th>Health</th></tr></thead><tbody>",
    );
    for backend in backends {
        let health = match &backend.answer {
            Ok(took) => format!("<td class=\"ok\">answered in {:.1} ms</td>", took.as_secs_f64() * 1000.0),
            Err(problem) => format!("<td class=\"bad\">{}</td>", esc(problem)),
        };
        let _ = write!(
            html,
            "<tr class=\"backend\" id=\"backend-{}\"><td>{}</td><td>{}</td>{health}</tr>",
            backend.role.to_lowercase(),
            backend.role,
            esc(backend.engine)
        );
    }
    html.push_str("</tbody></table></section>");
}

fn cluster(html: &mut String, snapshot: &Snapshot) {
    html.push_str("<section id=\"cluster\"><h2>Cluster</h2>");
    match &snapshot.cluster.cluster {
        Some(sql) => {
            html.push_str("<table><thead><tr><th>SQL member</th><th>Role</th><th>Reachable</th></tr></thead><tbody>");
            for member in &sql.members {
                let role = if member.leader { "leader" } else { "follower" };
                let (class, reachable) = if member.reachable { ("ok", "yes") } else { ("bad", "no") };
                let _ = write!(
                    html,
                    "<tr class=\"member\"><td>{}</td><td>{role}</td><td class=\"{class}\">{reachable}</td></tr>",
                    esc(&member.id)
                );
            }
            html.push_str("</tbody></table>");
        }
        None => html.push_str("<p class=\"muted\">A single node: the SQL engine is not clustered.</p>"),
    }
    peers(html, &snapshot.peers);
    if let Some(ipfs) = &snapshot.cluster.ipfs {
        let _ = write!(
            html,
            "<p>IPFS peer <code>{}</code> at {}</p>",
            esc(&ipfs.peer_id),
            esc(&ipfs.swarm_addresses.join(", "))
        );
    }
    let tls = match snapshot.tls_expiry {
        None => "<p id=\"tls\" class=\"muted\">TLS is off on this gateway.</p>".to_owned(),
        Some(expiry) => {
            let left = expiry.duration_since(SystemTime::now()).unwrap_or_default();
            let class = if left < Duration::from_secs(14 * 86_400) { "bad" } else { "ok" };
            format!(
                "<p id=\"tls\">TLS certificate expires <span class=\"{class}\">{} (in {})</span></p>",
                humantime::format_rfc3339_seconds(expiry),
                duration(left)
            )
        }
    };
    html.push_str(&tls);
    html.push_str("</section>");
}

fn peers(html: &mut String, peers: &[(String, Vec<String>)]) {
    if peers.is_empty() {
        html.push_str("<p id=\"peers\" class=\"muted\">No libp2p peer is connected.</p>");
        return;
    }
    html.push_str("<table id=\"peers\"><thead><tr><th>libp2p peer</th><th>Addresses</th></tr></thead><tbody>");
    for (id, addresses) in peers {
        let _ = write!(
            html,
            "<tr class=\"peer\"><td><code>{}</code></td><td>{}</td></tr>",
            esc(id),
            esc(&addresses.join(", "))
        );
    }
    html.push_str("</tbody></table>");
}

fn plots(html: &mut String, history: &[Sample]) {
    let _ = write!(
        html,
        "<section id=\"plots\"><h2>The last hour</h2><p class=\"muted\">{} of {} s each, the newest at the right.</p>\
         <div class=\"grid\">",
        match history.len() {
            1 => "1 sample".to_owned(),
            n => format!("{n} samples"),
        },
        INTERVAL.as_secs()
    );
    let series = |f: fn(&Sample) -> f64| history.iter().map(f).collect::<Vec<f64>>();
    plot(html, "requests", "Requests/s", "", &[("#0969da", series(|s| s.requests_per_sec))]);
    plot(
        html,
        "latency",
        "Latency p50 (blue) and p99 (orange)",
        " ms",
        &[("#0969da", series(|s| s.p50_ms)), ("#bc4c00", series(|s| s.p99_ms))],
    );
    plot(html, "errors", "Server errors per interval", "", &[("#cf222e", series(|s| s.errors as f64))]);
    plot(
        html,
        "invocations",
        "Function invocations per interval",
        "",
        &[("#8250df", series(|s| s.invocations as f64))],
    );
    plot(html, "deliveries", "Pub/sub deliveries per interval", "", &[("#1a7f37", series(|s| s.deliveries as f64))]);
    html.push_str("</div></section>");
}

/// One plot: each series a line over the hour, the newest sample at the right edge.
fn plot(html: &mut String, id: &str, title: &str, unit: &str, series: &[(&str, Vec<f64>)]) {
    const WIDTH: f64 = 720.0;
    const HEIGHT: f64 = 140.0;
    let max = series.iter().flat_map(|(_, s)| s.iter().copied()).fold(0.0, f64::max);
    let scale = if max > 0.0 { max * 1.1 } else { 1.0 };
    let now = series.first().and_then(|(_, s)| s.last().copied()).unwrap_or(0.0);
    let _ = write!(
        html,
        "<figure id=\"plot-{id}\"><figcaption>{title}: now {} · max {}</figcaption>\
         <svg class=\"plot\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-label=\"{title}\">",
        number(now, unit),
        number(max, unit)
    );
    for (colour, values) in series {
        let step = WIDTH / (KEPT - 1) as f64;
        let first = KEPT.saturating_sub(values.len());
        let mut points = String::new();
        for (i, value) in values.iter().enumerate() {
            let x = (first + i) as f64 * step;
            let y = HEIGHT - value / scale * (HEIGHT - 4.0) - 2.0;
            let _ = write!(points, "{x:.1},{y:.1} ");
        }
        let _ = write!(
            html,
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.5\" points=\"{}\"/>",
            points.trim_end()
        );
        // The newest value as a dot, so a line of one sample shows too.
        if let Some((x, y)) = points.split_whitespace().last().and_then(|p| p.split_once(',')) {
            let _ = write!(html, "<circle cx=\"{x}\" cy=\"{y}\" r=\"3\" fill=\"{colour}\"/>");
        }
    }
    let _ = write!(
        html,
        "<text x=\"4\" y=\"{}\" font-size=\"11\" fill=\"#656d76\">an hour ago</text>\
         <text x=\"{}\" y=\"{}\" font-size=\"11\" fill=\"#656d76\" text-anchor=\"end\">now</text></svg></figure>",
        HEIGHT - 4.0,
        WIDTH - 4.0,
        HEIGHT - 4.0
    );
}

fn number(value: f64, unit: &str) -> String {
    match value {
        v if v >= 100.0 => format!("{v:.0}{unit}"),
        v if v >= 10.0 => format!("{v:.1}{unit}"),
        v => format!("{v:.2}{unit}"),
    }
}

fn mebibytes(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// A duration as people read it: `3d 4h`, `2h 5m`, `4m 10s`, `12s`.
fn duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {}s", s / 60, s % 60),
        3600..86_400 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d {}h", s / 86_400, s % 86_400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::cluster::ClusterFacts;
    use orama_ipc::control::StatusReport;

    fn child(name: &str, state: &str) -> ChildReport {
        serde_json::from_value(serde_json::json!({
            "name": name, "state": state, "pid": 42, "restarts": 1, "uptime_secs": 75.0,
            "last_exit": "<script>alert(1)</script>", "cpu_percent": 1.5, "rss_bytes": 10_485_760
        }))
        .expect("a report")
    }

    #[test]
    fn the_page_shows_each_process_and_plot_and_escapes_what_it_is_told() {
        let snapshot = Snapshot {
            uptime: Duration::from_secs(60),
            node: None,
            peers: vec![("12D3KooPeer".into(), vec!["/ip4/10.0.0.2/tcp/4001".into()])],
            processes: Ok(StatusReport {
                children: vec![child("gateway", "ready"), child("wasm-runner", "backoff")],
                version: "0.1.0".into(),
                ..StatusReport::default()
            }),
            backends: vec![Backend { role: "SQL", engine: "sqlite", answer: Err("<b>down</b>".into()) }],
            cluster: ClusterFacts::default(),
            tls_expiry: None,
            history: vec![Sample {
                at: 1,
                requests_per_sec: 12.0,
                p50_ms: 1.0,
                p99_ms: 9.0,
                errors: 0,
                invocations: 3,
                deliveries: 4,
            }],
        };
        let page = status(&snapshot);
        assert!(page.contains("id=\"process-gateway\" data-state=\"ready\""), "{page}");
        assert!(page.contains("id=\"process-wasm-runner\" data-state=\"backoff\""));
        assert!(page.contains("1m 15s") && page.contains("10.0 MiB") && page.contains("1.5%"));
        for plot in ["requests", "latency", "errors", "invocations", "deliveries"] {
            assert!(page.contains(&format!("id=\"plot-{plot}\"")), "{plot}");
        }
        assert!(!page.contains("<script") && !page.contains("<b>down"), "escaped");
        assert!(page.contains("&lt;b&gt;down&lt;/b&gt;"));
        assert!(page.contains("<code>12D3KooPeer</code></td><td>/ip4/10.0.0.2/tcp/4001"), "the peers");
    }

    #[test]
    fn the_policy_allows_the_stylesheet_and_nothing_runs() {
        assert!(POLICY.starts_with("default-src 'none'; style-src 'sha256-"));
        assert!(!POLICY.contains("script-src") && !POLICY.contains("unsafe"));
        assert!(sign_in(Some("<x>")).contains("&lt;x&gt;"));
    }
}
