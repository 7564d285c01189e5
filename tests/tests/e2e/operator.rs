//! The operator's status page (issue 17), in headless Chromium: refused (401, the sign-in
//! form) without an operator key and with a tenant's; signed in with a key from `ctl
//! operator-key create`, it shows every process, the backends and a plot of the last hour,
//! styled under its strict CSP with no script; a revoked key ends the session.

use std::time::Duration;

use orama_e2e::browser::Browser;
use orama_e2e::{Node, eventually, free_port, http};

use crate::FAST_SUPERVISOR;
use crate::auth::ctl_ok;

const PROCESSES: [&str; 4] = ["gateway", "wasm-runner", "pubsub-bridge", "anon-proxy"];
const PAGE: &str = "/v1/operator/status";

#[test]
fn without_an_operator_key_the_page_is_refused_and_a_tenants_key_is_not_one() {
    let port = free_port();
    let node = Node::start(&format!("{FAST_SUPERVISOR}gateway: {{ listen: '127.0.0.1:{port}' }}\n"));
    node.wait_ready(&["gateway"]);
    let anonymous = http(port, "GET", PAGE, "", None);
    assert_eq!(anonymous.status, 401, "{}", anonymous.head);
    assert!(anonymous.head.contains("content-type: text/html"), "{}", anonymous.head);
    assert!(anonymous.head.contains("content-security-policy: default-src 'none'"), "{}", anonymous.head);
    assert!(anonymous.body.contains("name=\"key\"") && !anonymous.body.contains("process-"), "the sign-in form only");
    let tenant = ctl_ok(&node, &["apikey", "create", "--namespace", "alpha"]).trim().to_owned();
    for header in [format!("Authorization: Bearer {tenant}\r\n"), format!("X-API-Key: {tenant}\r\n")] {
        assert_eq!(http(port, "GET", PAGE, &header, None).status, 401, "a tenant's key: {header}");
    }
    let form = format!("key={tenant}");
    let signed = orama_e2e::http_bytes(
        port,
        "POST",
        "/v1/operator/sign-in",
        "",
        "application/x-www-form-urlencoded",
        form.as_bytes(),
    );
    assert_eq!(signed.status, 401, "{}", signed.head);
    assert!(!signed.head.contains("set-cookie"), "{}", signed.head);
    let operator = ctl_ok(&node, &["operator-key", "create", "--name", "ci"]).trim().to_owned();
    let with_key = http(port, "GET", PAGE, &format!("Authorization: Bearer {operator}\r\n"), None);
    assert_eq!(with_key.status, 200, "scripts may send the key itself");
}

#[test]
fn an_operator_signs_in_and_sees_the_node_in_chromium() {
    let port = free_port();
    let node = Node::start(&format!("{FAST_SUPERVISOR}gateway: {{ listen: '127.0.0.1:{port}' }}\n"));
    node.wait_ready(&PROCESSES);
    let key = ctl_ok(&node, &["operator-key", "create", "--name", "laptop"]).trim().to_owned();
    assert!(key.starts_with("op_"), "{key}");
    let listed = ctl_ok(&node, &["operator-key", "list"]);
    assert!(listed.contains("laptop") && !listed.contains(&key), "{listed}");
    // Traffic for the plots, then a closed interval of history (one every 10 s).
    for _ in 0..20 {
        http(port, "GET", "/v1/health", "", None);
    }
    let bearer = format!("Authorization: Bearer {key}\r\n");
    let sampled = eventually(Duration::from_secs(25), || {
        let page = http(port, "GET", PAGE, &bearer, None).body;
        page.contains(">1 sample of ")
    });
    assert!(sampled, "a sample of history within an interval");

    let browser = Browser::start();
    let url = format!("http://127.0.0.1:{port}{PAGE}");
    browser.open(&url);
    assert!(browser.title().contains("sign-in"), "{}", browser.title());
    browser.fill("input[name=key]", "op_wrong");
    browser.click("button[type=submit]");
    let problem = browser.wait_for("return document.getElementById('problem')?.textContent");
    assert!(problem.as_str().is_some_and(|p| p.contains("not an operator key")), "{problem}");
    browser.fill("input[name=key]", &key);
    browser.click("button[type=submit]");
    let title = browser.wait_for("return document.title === 'Orama node · operator' && document.title");
    assert_eq!(title, "Orama node · operator");

    let shown = browser.eval(
        "return [...document.querySelectorAll('tr.process')].map(r => [r.id, r.dataset.state, r.cells[2].textContent])",
    );
    for name in PROCESSES {
        let row = shown.as_array().and_then(|rows| rows.iter().find(|r| r[0] == format!("process-{name}")));
        let row = row.unwrap_or_else(|| panic!("no row for {name}: {shown}"));
        assert_eq!(row[1], "ready", "{row}");
        assert_eq!(row[2], node.pid(name).to_string(), "the pid: {row}");
    }
    let backends = browser.eval("return [...document.querySelectorAll('tr.backend td.ok')].length");
    assert_eq!(backends, 3, "SQL, cache and storage answer");
    let peers = browser.eval("return document.getElementById('peers')?.textContent ?? ''");
    assert!(peers.as_str().is_some_and(|p| p.contains("No libp2p peer")), "a lone node's peers: {peers}");
    let plot = browser.eval(
        "const line = document.querySelector('#plot-requests svg polyline');\
         return line ? line.getAttribute('points').split(' ').length : 0",
    );
    assert!(plot.as_u64().is_some_and(|n| n >= 1), "the requests plot has points: {plot}");
    let styled = browser.eval("return getComputedStyle(document.querySelector('table')).borderCollapse");
    assert_eq!(styled, "collapse", "the stylesheet applies under the CSP");
    assert_eq!(browser.eval("return document.scripts.length"), 0);

    let png = browser.screenshot();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "a screenshot of {} bytes", png.len());
    let shot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("operator-page.png");
    std::fs::write(&shot, &png).expect("save the screenshot");
    eprintln!("screenshot: {}", shot.display());

    ctl_ok(&node, &["operator-key", "revoke", "1"]);
    browser.open(&url);
    assert!(browser.title().contains("sign-in"), "a revoked key's session ends: {}", browser.title());
}
