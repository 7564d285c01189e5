//! HTTPS on the supervised gateway with a self-signed development certificate, checked by an
//! independent client (curl, OpenSSL): both HTTP/2 and HTTP/1.1 by ALPN, the certificate kept
//! across restarts, the plain-HTTP port redirecting.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use orama_e2e::{Node, free_port, http, signal};
use rustix::process::Signal;

use crate::FAST_SUPERVISOR;

/// `curl` over HTTPS trusting `ca`; returns (HTTP version, body).
fn curl(ca: &std::path::Path, port: u16, path: &str, version_flag: &str) -> (String, String) {
    let output = Command::new("curl")
        .args(["-sS", "--max-time", "10", version_flag, "--cacert"])
        .arg(ca)
        .args(["--resolve", &format!("localhost:{port}:127.0.0.1"), "-w", "\n%{http_version}"])
        .arg(format!("https://localhost:{port}{path}"))
        .output()
        .expect("curl");
    assert!(output.status.success(), "curl failed: {}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, version) = text.rsplit_once('\n').expect("version line");
    (version.to_owned(), body.to_owned())
}

#[test]
fn https_with_a_self_signed_certificate_speaks_h2_and_http1_and_redirects_plain_http() {
    let (port, http_port) = (free_port(), free_port());
    let config = format!(
        "{FAST_SUPERVISOR}
gateway:
  listen: '127.0.0.1:{port}'
  tls: {{ mode: self_signed, domains: [localhost, 127.0.0.1], http_listen: '127.0.0.1:{http_port}' }}
"
    );
    let node = Node::start(&config);
    node.wait_ready(&["gateway"]);
    let tls_dir = node.path().join("data/gateway/tls");
    let ca = tls_dir.join("self-signed.crt");
    let key_mode = std::fs::metadata(tls_dir.join("self-signed.key")).expect("key").permissions().mode() & 0o777;
    assert_eq!(key_mode, 0o600, "the private key is owner-only");

    let (version, body) = curl(&ca, port, "/v1/health", "--http2");
    assert_eq!(version, "2", "HTTP/2 negotiated by ALPN");
    assert!(body.contains(r#""status":"ok""#), "{body}");
    assert_eq!(curl(&ca, port, "/v1/version", "--http1.1").0, "1.1");

    let redirect = http(http_port, "GET", "/v1/health?x=1", "", None);
    assert_eq!(redirect.status, 301, "{redirect:?}");
    assert!(redirect.head.contains(&format!("location: https://t:{port}/v1/health?x=1")), "{}", redirect.head);

    let plain = Command::new("curl")
        .args(["-sS", "--max-time", "5"])
        .arg(format!("http://127.0.0.1:{port}/v1/health"))
        .output();
    assert!(!String::from_utf8_lossy(&plain.expect("curl").stdout).contains("\"ok\""), "no plain HTTP on the TLS port");

    let certificate = std::fs::read(&ca).expect("cert");
    let old = node.pid("gateway");
    signal(old, Signal::KILL);
    node.wait_child("gateway", "ready again", |c| c["state"] == "ready" && c["pid"] != old);
    assert_eq!(std::fs::read(&ca).expect("cert"), certificate, "the certificate is kept across restarts");
    assert_eq!(curl(&ca, port, "/v1/health", "--http2").0, "2");
}
