//! `/v1/proxy/anon` through real SOCKS5 servers on loopback (microsocks, dante, a confined
//! tor) to a local origin on 127.0.0.2, the one network the test configs allow: methods,
//! bodies and headers (identifying ones stripped), redirects, caps and limits, HTTPS
//! verified (openssl s_server with a CA of the test's own); the SSRF
//! refusals in every spelling; an upstream that goes down and comes back; fixed credentials;
//! tor's handshake, its held CONNECT cut at the time limit, and its bootstrap report.

use std::time::Duration;

use base64::Engine as _;
use orama_e2e::{Node, Reply, free_port, http, http_bytes};
use serde_json::{Value, json};

use crate::FAST_SUPERVISOR;
use orama_e2e::origin::{Daemon, Origin, confined_tor, dante, microsocks, tls_origin};

/// A node whose anonymous proxy uses `anon` (YAML flow mapping entries), and a caller.
struct Anon {
    node: Node,
    port: u16,
    header: String,
}

impl Anon {
    fn start(anon: &str) -> Anon {
        let port = free_port();
        let config = format!(
            "{FAST_SUPERVISOR}gateway: {{ listen: '127.0.0.1:{port}' }}\n\
             anon: {{ allow_networks: [127.0.0.2/32], {anon} }}\n"
        );
        let node = Node::start(&config);
        node.wait_ready(&["gateway", "anon-proxy"]);
        let key = crate::auth::ctl_ok(&node, &["apikey", "create", "--namespace", "alpha"]).trim().to_owned();
        Anon { node, port, header: format!("X-API-Key: {key}\r\n") }
    }

    /// A node behind a microsocks of its own (kept alive by the returned daemon).
    fn behind_microsocks(anon: &str) -> (Anon, Daemon, u16) {
        let socks_port = free_port();
        let socks = microsocks(socks_port, None);
        let settings = [format!("socks: '127.0.0.1:{socks_port}'"), anon.to_owned()];
        (Anon::start(settings.join(", ").trim_end_matches(", ")), socks, socks_port)
    }

    /// The proxy's state, as the gateway's `/v1/status` reports it.
    fn status(&self) -> Value {
        http(self.port, "GET", "/v1/status", "", None).json["anon"].take()
    }

    fn send(&self, request: &Value) -> Reply {
        self.send_as(&self.header, request)
    }

    /// `request` with another namespace's key.
    fn send_as_namespace(&self, namespace: &str, request: &Value) -> Reply {
        let key = crate::auth::ctl_ok(&self.node, &["apikey", "create", "--namespace", namespace]).trim().to_owned();
        self.send_as(&format!("X-API-Key: {key}\r\n"), request)
    }

    fn send_as(&self, header: &str, request: &Value) -> Reply {
        http(self.port, "POST", "/v1/proxy/anon", header, Some(request))
    }

    /// A request that must succeed: the target's status and its body as JSON (or text).
    fn ok(&self, request: &Value) -> (u64, Value, Reply) {
        let reply = self.send(request);
        assert_eq!(reply.status, 200, "{request}: {reply:?}");
        (reply.json["status_code"].as_u64().unwrap_or(0), target_body(&reply), reply)
    }
}

/// The target's body in a reply: JSON when it is, text otherwise.
fn target_body(reply: &Reply) -> Value {
    let body = base64::engine::general_purpose::STANDARD
        .decode(reply.json["body"].as_str().unwrap_or_default())
        .expect("base64 body");
    let text = String::from_utf8_lossy(&body).into_owned();
    serde_json::from_str(&text).unwrap_or(Value::String(text))
}

#[test]
fn requests_go_through_socks_with_bodies_and_without_identifying_headers() {
    let origin = Origin::start();
    let (anon, _socks, _) = Anon::behind_microsocks("max_response: 64KiB");
    let headers = json!({
        "X-Test": "yes", "X-Forwarded-For": "10.1.2.3", "Via": "1.1 secret", "Cookie": "session=1",
        "X-Real-IP": "10.1.2.3", "Forwarded": "for=10.1.2.3"
    });
    let (status, echo, reply) = anon.ok(&json!({ "url": origin.url("/echo?q=1"), "headers": headers }));
    assert_eq!((status, echo["method"].as_str(), echo["path"].as_str()), (200, Some("GET"), Some("/echo")));
    let seen = echo["headers"].as_object().expect("headers");
    assert_eq!(seen.get("x-test"), Some(&json!("yes")));
    for gone in ["x-forwarded-for", "via", "cookie", "x-real-ip", "forwarded", "x-api-key"] {
        assert!(!seen.contains_key(gone), "{gone} must not reach the target: {seen:?}");
    }
    assert!(seen["user-agent"].as_str().is_some_and(|ua| ua.starts_with("Mozilla/5.0")), "{seen:?}");
    assert_eq!(reply.json["headers"]["X-Origin"], "yes", "canonical response header names: {reply:?}");
    assert!(reply.json.get("error").is_none(), "{reply:?}");

    let post = json!({ "url": origin.url("/echo"), "method": "post", "body": "hello anon",
                       "headers": { "Content-Type": "text/plain", "Cookie": "a=b" }, "keep_cookies": true });
    let (_, echo, _) = anon.ok(&post);
    assert_eq!((echo["method"].as_str(), echo["body"].as_str()), (Some("POST"), Some("hello anon")));
    assert_eq!(echo["headers"]["cookie"], "a=b", "asked-for cookies are sent");
    assert_eq!(echo["headers"]["content-type"], "text/plain");
    for method in ["PUT", "PATCH", "DELETE"] {
        let (_, echo, _) = anon.ok(&json!({ "url": origin.url("/echo"), "method": method, "body": method }));
        assert_eq!((echo["method"].as_str(), echo["body"].as_str()), (Some(method), Some(method)));
    }
    let (_, again, _) = anon.ok(&json!({ "url": origin.url("/echo") }));
    let (_, once_more, _) = anon.ok(&json!({ "url": origin.url("/echo") }));
    assert_eq!(again["connection"], once_more["connection"], "a namespace's connection is kept and reused");
    let beta = target_body(&anon.send_as_namespace("beta", &json!({ "url": origin.url("/echo") })));
    assert_ne!(beta["connection"], once_more["connection"], "never another namespace's connection");
    let (status, body, _) = anon.ok(&json!({ "url": origin.url("/echo"), "method": "HEAD" }));
    assert_eq!((status, body), (200, Value::String(String::new())));
    let (_, body, _) = anon.ok(&json!({ "url": origin.url("/close") }));
    assert_eq!(body, "closing");
    let (_, body, _) = anon.ok(&json!({ "url": origin.url("/big?n=65536") }));
    assert_eq!(body.as_str().map(str::len), Some(65536));

    let local = format!("/to?url={}", origin.url("/echo"));
    let (status, echo, _) = anon.ok(&json!({ "url": origin.url(&local), "method": "POST", "body": "x" }));
    assert_eq!((status, echo["method"].as_str()), (200, Some("GET")), "a 302 is followed as GET");
    let refused = anon.send(&json!({ "url": origin.url("/to?url=http://127.0.0.1:9/") }));
    assert_eq!(refused.status, 403, "a redirect to loopback: {refused:?}");
    assert!(refused.json["error"].as_str().is_some_and(|e| e.starts_with("redirect refused")), "{refused:?}");
    let big = anon.send(&json!({ "url": origin.url("/big?n=65537") }));
    assert_eq!((big.status, big.json["status_code"].as_u64()), (502, Some(200)), "{big:?}");
    assert!(big.json["error"].as_str().is_some_and(|e| e.contains("exceeds the limit")), "{big:?}");

    let status = anon.status();
    assert_eq!((&status["reachable"], &status["isolation"]), (&json!(true), &json!(true)), "{status}");
    let ready = orama_e2e::unix_get(&anon.node.runtime_dir.join("anon-proxy.sock"), "/ready").unwrap_or_default();
    assert!(ready.contains("\"reachable\":true"), "{ready}");
}

#[test]
fn https_targets_are_verified_against_the_roots() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_trusted, trusted_port, ca) = tls_origin(dir.path(), "trusted");
    let (_stranger, stranger_port, _) = tls_origin(dir.path(), "stranger");
    let (anon, _socks, _) = Anon::behind_microsocks(&format!("ca_file: '{}'", ca.display()));
    let (status, page, reply) = anon.ok(&json!({ "url": format!("https://127.0.0.2:{trusted_port}/") }));
    assert_eq!(status, 200, "{reply:?}");
    assert!(page.as_str().is_some_and(|p| p.contains("s_server")), "{page}");
    let untrusted = anon.send(&json!({ "url": format!("https://127.0.0.2:{stranger_port}/") }));
    assert_eq!(untrusted.status, 502, "{untrusted:?}");
    let error = untrusted.json["error"].as_str().unwrap_or_default();
    assert!(error.contains("TLS handshake") && error.contains("certificate"), "{untrusted:?}");
}

#[test]
fn every_spelling_of_a_local_target_and_every_bad_request_is_refused() {
    let (anon, _socks, _) = Anon::behind_microsocks("max_request: 64KiB");
    let private = [
        "http://127.0.0.1:1/",
        "http://2130706433/",
        "http://0x7f000001/",
        "http://0177.0.0.1/",
        "http://0x7f.1/",
        "http://127.1/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:a9fe:a9fe]/",
        "http://localhost/",
        "http://LOCALHOST./",
        "http://app.localhost/",
        "http://169.254.169.254/latest/meta-data/",
        "http://metadata.google.internal/",
        "http://10.0.0.1/",
        "http://172.16.0.1/",
        "http://192.168.1.1/",
        "http://100.64.0.1/",
        "http://0.0.0.0/",
        "http://[fd00::1]/",
        "http://intranet/",
    ];
    for url in private {
        let reply = anon.send(&json!({ "url": url }));
        assert_eq!(reply.status, 403, "{url}: {reply:?}");
        assert!(
            reply.json["error"].as_str().is_some_and(|e| e.starts_with("requests to private/local")),
            "{url}: {reply:?}"
        );
    }
    for (body, status, needle) in [
        (json!({ "url": "ftp://example.com/" }), 400, "only http/https schemes are allowed"),
        (json!({ "url": "file:///etc/passwd" }), 400, "only http/https schemes are allowed"),
        (json!({ "url": "not a url" }), 400, "invalid URL"),
        (json!({ "method": "GET" }), 400, "invalid JSON payload"),
        (json!({ "url": "http://example.com/", "method": "BREW" }), 400, "method BREW not allowed"),
        (json!({ "url": "http://example.com/", "headers": { "Bad Header": "x" } }), 400, "invalid header"),
    ] {
        let reply = anon.send(&body);
        assert_eq!(reply.status, status, "{body}: {reply:?}");
        assert!(reply.json["error"].as_str().is_some_and(|e| e.contains(needle)), "{body}: {reply:?}");
    }
    let bad_json = http_bytes(anon.port, "POST", "/v1/proxy/anon", &anon.header, "application/json", b"{not json");
    assert_eq!(bad_json.status, 400, "{bad_json:?}");
    let huge = json!({ "url": "http://example.com/", "body": "x".repeat(70 * 1024) });
    assert_eq!(anon.send(&huge).status, 413);
    let get = http(anon.port, "GET", "/v1/proxy/anon", &anon.header, None);
    assert_eq!((get.status, get.json["error"].as_str()), (405, Some("only POST method is allowed")));
    assert!(
        get.head.contains("ratelimit-remaining:"),
        "a refused method still carries the caller's allowance: {get:?}"
    );
    let anonymous = http(anon.port, "POST", "/v1/proxy/anon", "", Some(&json!({ "url": "http://example.com/" })));
    assert_eq!(anonymous.status, 401, "{anonymous:?}");
}

#[test]
fn a_namespace_has_its_share_of_requests_in_flight() {
    let origin = Origin::start();
    let (anon, _socks, _) = Anon::behind_microsocks("namespace_concurrency: 1");
    let slow = json!({ "url": origin.url("/slow") });
    let (port, header, request) = (anon.port, anon.header.clone(), slow.clone());
    let first = std::thread::spawn(move || http(port, "POST", "/v1/proxy/anon", &header, Some(&request)));
    let holding = orama_e2e::eventually(Duration::from_secs(10), || anon.status()["in_flight"] == 1);
    assert!(holding, "the first request is in flight");
    let second = anon.send(&slow);
    assert_eq!(second.status, 429, "{second:?}");
    let other = anon.send_as_namespace("beta", &json!({ "url": origin.url("/echo") }));
    assert_eq!(other.status, 200, "another namespace is not held up: {other:?}");
    assert_eq!(first.join().expect("first").status, 200);
    assert_eq!(anon.send(&slow).status, 200, "the slot came back");
}

#[test]
fn an_upstream_that_goes_down_answers_503_and_its_return_is_noticed() {
    let origin = Origin::start();
    let (anon, socks, socks_port) = Anon::behind_microsocks("");
    let request = json!({ "url": origin.url("/echo") });
    anon.ok(&request);
    drop(socks);
    let down = anon.send(&request);
    assert_eq!(down.status, 503, "{down:?}");
    let error = down.json["error"].as_str().unwrap_or_default();
    assert!(error.starts_with(&format!("Anyone proxy not available at 127.0.0.1:{socks_port}")), "{down:?}");
    assert_eq!((down.json["status_code"].as_u64(), down.json["body"].as_str()), (Some(0), Some("")));
    let reported_down = orama_e2e::eventually(Duration::from_secs(10), || anon.status()["reachable"] == false);
    assert!(reported_down, "the status reports the upstream down");
    let _socks = microsocks(socks_port, None);
    anon.ok(&request);
    let reported_up = orama_e2e::eventually(Duration::from_secs(10), || anon.status()["reachable"] == true);
    assert!(reported_up, "the status reports the upstream back");
}

#[test]
fn fixed_credentials_and_dante_work_and_wrong_credentials_are_unavailable() {
    let origin = Origin::start();
    let socks_port = free_port();
    let _socks = microsocks(socks_port, Some(("alice", "secret")));
    let good = Anon::start(&format!("socks: '127.0.0.1:{socks_port}', socks_username: alice, socks_password: secret"));
    let request = json!({ "url": origin.url("/echo") });
    good.ok(&request);
    assert_eq!(good.status()["isolation"], false);
    drop(good);
    let wrong = Anon::start(&format!("socks: '127.0.0.1:{socks_port}', socks_username: alice, socks_password: wrong"));
    let refused = wrong.send(&request);
    assert_eq!(refused.status, 503, "{refused:?}");
    assert!(refused.json["error"].as_str().is_some_and(|e| e.contains("rejected")), "{refused:?}");
    drop(wrong);

    let dir = tempfile::tempdir().expect("tempdir");
    let dante_port = free_port();
    let _dante = dante(dir.path(), dante_port);
    let through_dante = Anon::start(&format!("socks: '127.0.0.1:{dante_port}'"));
    let (_, echo, _) = through_dante.ok(&json!({ "url": origin.url("/echo"), "method": "POST", "body": "via dante" }));
    assert_eq!(echo["body"], "via dante");
}

#[test]
fn a_confined_tor_is_handshaken_and_its_bootstrap_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (socks, control) = (free_port(), free_port());
    let _tor = confined_tor(dir.path(), socks, control);
    let request = json!({ "url": "http://example.com/" });

    // Without the control port: tor takes the SOCKS5 handshake (per-namespace credentials
    // included: a refusal would be a 503 at once) and holds the CONNECT, having no circuit,
    // until the request's time is up.
    let blind = Anon::start(&format!("socks: '127.0.0.1:{socks}', timeout: 2s"));
    let started = std::time::Instant::now();
    let held = blind.send(&request);
    assert_eq!(held.status, 504, "{held:?}");
    assert!(held.json["error"].as_str().is_some_and(|e| e.contains("no answer within 2s")), "{held:?}");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    drop(blind);

    let watched = Anon::start(&format!("socks: '127.0.0.1:{socks}', control: '127.0.0.1:{control}'"));
    let reported =
        orama_e2e::eventually(Duration::from_secs(10), || watched.status()["bootstrap"]["progress"].as_u64().is_some());
    let status = watched.status();
    assert!(reported, "bootstrap progress reported: {status}");
    assert!(status["bootstrap"]["progress"].as_u64() < Some(100), "{status}");
    let not_ready = watched.send(&request);
    assert_eq!(not_ready.status, 503, "{not_ready:?}");
    let error = not_ready.json["error"].as_str().unwrap_or_default();
    assert!(error.starts_with("the Anyone network is not ready: bootstrapped"), "{not_ready:?}");
    let ready = orama_e2e::unix_get(&watched.node.runtime_dir.join("anon-proxy.sock"), "/ready").unwrap_or_default();
    assert!(ready.contains("\"bootstrap\":{"), "{ready}");
}
