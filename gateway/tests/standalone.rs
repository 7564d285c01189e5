//! The gateway binary run on its own, as an operator could: it serves the public status routes,
//! answers `/ready` on its internal socket, and on SIGTERM exits 0 and removes its socket.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("port")
}

fn request(mut stream: impl Read + Write, path: &str) -> String {
    write!(stream, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    response
}

#[test]
fn serves_status_and_internal_health_then_stops_cleanly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let config = dir.path().join("orama.yaml");
    std::fs::write(&config, format!("gateway:\n  listen: 127.0.0.1:{port}\n")).expect("config");
    let runtime = dir.path().join("run");
    let mut gateway = Command::new(env!("CARGO_BIN_EXE_orama-gateway"))
        .arg("--config")
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .arg("--runtime-dir")
        .arg(&runtime)
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn gateway");

    let socket = runtime.join("gateway.sock");
    let deadline = Instant::now() + Duration::from_secs(20);
    let ready = loop {
        let answer = UnixStream::connect(&socket).map(|s| request(s, "/ready")).unwrap_or_default();
        if answer.starts_with("HTTP/1.1 200") || Instant::now() > deadline {
            break answer;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(ready.contains(r#""ready":true"#), "{ready}");
    assert!(ready.to_ascii_lowercase().contains("x-orama-ipc-version: 1"), "{ready}");

    let tcp = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let version = request(tcp, "/v1/version");
    assert!(version.starts_with("HTTP/1.1 200"), "{version}");
    assert!(version.contains(r#""version":""#), "{version}");

    let tcp = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let secret = request(tcp, "/v1/health?api_key=ak_SECRETSECRET:ns");
    assert!(secret.starts_with("HTTP/1.1 200"), "{secret}");
    let tcp = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let metrics = request(tcp, "/metrics");
    assert!(metrics.starts_with("HTTP/1.1 200"), "loopback may read metrics: {metrics}");
    assert!(
        metrics.contains(r#"orama_http_requests_total{route="/v1/version",method="GET",status="200"} 1"#),
        "{metrics}"
    );
    assert!(metrics.contains("orama_http_request_duration_seconds_bucket"), "{metrics}");
    let internal = UnixStream::connect(&socket).map(|s| request(s, "/metrics")).expect("internal metrics");
    assert!(internal.contains("orama_http_requests_in_flight"), "{internal}");
    assert!(internal.contains(r#"orama_backend_up{backend="sql",engine="sqlite"} 1"#), "{internal}");

    let pid = rustix::process::Pid::from_raw(gateway.id() as i32).expect("pid");
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("SIGTERM");
    let status = gateway.wait().expect("wait");
    let mut stderr = String::new();
    let _ = gateway.stderr.take().map(|mut e| e.read_to_string(&mut stderr));
    assert!(status.success(), "{status:?}\n{stderr}");
    assert!(!socket.exists(), "the socket is removed on a clean stop");
    assert!(stderr.lines().all(|l| l.starts_with('{')), "logs are JSON lines: {stderr}");
    assert!(!stderr.contains("SECRETSECRET"), "credentials never reach the log: {stderr}");
    let access: Vec<serde_json::Value> = stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["message"] == "request")
        .collect();
    let version = access.iter().find(|e| e["route"] == "/v1/version").expect("access event for /v1/version");
    assert_eq!(version["status"], 200);
    assert_eq!(version["method"], "GET");
    assert_eq!(version["client"], "127.0.0.1");
    assert!(version["request_id"].as_str().is_some_and(|id| id.len() == 24), "{version}");
    assert!(version["duration_ms"].is_number() && version["bytes"].is_number(), "{version}");
}
