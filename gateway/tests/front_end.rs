//! The public front end through a real socket: request ids, CORS, limits, timeouts, panics,
//! slow and oversized clients, JSON errors everywhere. Test routes stand in for handlers that
//! are slow or panic; the layers are the real ones.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use orama_gateway::http::{serve::serve, stack::stack};
use orama_service::config::{GatewayConfig, HttpLimits};
use tokio_util::sync::CancellationToken;
use warp::Filter;

/// A gateway front end on a free port around test routes; stops when dropped.
struct FrontEnd {
    addr: SocketAddr,
    stop: CancellationToken,
}

impl Drop for FrontEnd {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn front_end(config: GatewayConfig) -> FrontEnd {
    let routes = warp::path!("slow")
        .and_then(|| async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Ok::<_, warp::Rejection>("late")
        })
        .or(warp::path!("panic").map(|| -> &'static str { panic!("boom") }))
        .or(warp::path!("only-get").and(warp::get()).map(|| "got"))
        .or(warp::path!("echo")
            .and(orama_gateway::http::body::bytes())
            .map(|b: bytes::Bytes| format!("{} bytes", b.len())))
        .or(warp::path!("ok").map(|| "ok"))
        .recover(orama_gateway::http::error::rejection_reply);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let stop = CancellationToken::new();
    let service = stack(warp::service(routes), &config, Vec::new());
    let limits = config.limits.clone();
    let token = stop.clone();
    tokio::spawn(async move { serve(listener, service, &limits, None, token).await });
    FrontEnd { addr, stop }
}

fn config() -> GatewayConfig {
    GatewayConfig {
        limits: HttpLimits {
            max_body_bytes: 1024,
            request_timeout: Duration::from_millis(300),
            header_read_timeout: Duration::from_millis(300),
            max_header_bytes: 16 * 1024,
        },
        ..GatewayConfig::default()
    }
}

/// Sends raw bytes; returns everything the server sent until it closed (or 5 s passed).
async fn exchange(addr: SocketAddr, request: Vec<u8>) -> String {
    tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
        let _ = stream.write_all(&request);
        let mut response = Vec::new();
        let _ = stream.read_to_end(&mut response);
        String::from_utf8_lossy(&response).into_owned()
    })
    .await
    .expect("client thread")
}

fn get(path: &str, extra: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{extra}\r\n").into_bytes()
}

fn status(response: &str) -> u16 {
    response.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

fn header<'a>(response: &'a str, name: &str) -> Option<&'a str> {
    let head = response.split("\r\n\r\n").next()?;
    head.lines().find_map(|l| l.split_once(':').filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim()))
}

fn json_error(response: &str) -> Option<String> {
    let body = response.split_once("\r\n\r\n")?.1;
    let body = if header(response, "transfer-encoding") == Some("chunked") { body.lines().nth(1)? } else { body };
    let value: serde_json::Value = serde_json::from_str(body.trim()).ok()?;
    value["error"].as_str().map(str::to_owned)
}

#[tokio::test]
async fn request_ids_are_generated_or_echoed() {
    let fe = front_end(config()).await;
    let response = exchange(fe.addr, get("/ok", "")).await;
    let generated = header(&response, "x-request-id").expect("generated id");
    assert_eq!(generated.len(), 24, "{generated}");
    let second = exchange(fe.addr, get("/ok", "")).await;
    assert_ne!(header(&second, "x-request-id"), Some(generated), "ids are unique");
    let echoed = exchange(fe.addr, get("/ok", "X-Request-ID: trace-42\r\n")).await;
    assert_eq!(header(&echoed, "x-request-id"), Some("trace-42"));
    let error = exchange(fe.addr, get("/missing", "X-Request-ID: trace-43\r\n")).await;
    assert_eq!(header(&error, "x-request-id"), Some("trace-43"), "errors carry the id too");
}

#[tokio::test]
async fn cors_follows_the_reference() {
    let fe = front_end(config()).await;
    let preflight = b"OPTIONS /ok HTTP/1.1\r\nHost: t\r\nOrigin: https://app.example\r\nAccess-Control-Request-Method: POST\r\nConnection: close\r\n\r\n";
    let response = exchange(fe.addr, preflight.to_vec()).await;
    assert!(status(&response) < 300, "{response}");
    assert_eq!(header(&response, "access-control-allow-origin"), Some("*"));
    assert_eq!(header(&response, "access-control-max-age"), Some("600"));
    let methods = header(&response, "access-control-allow-methods").unwrap_or_default();
    assert!(["GET", "PUT", "POST", "DELETE", "OPTIONS"].iter().all(|m| methods.contains(m)), "{methods}");
    let allowed = header(&response, "access-control-allow-headers").unwrap_or_default().to_ascii_lowercase();
    assert!(allowed.contains("x-api-key") && allowed.contains("authorization"), "{allowed}");

    // Without an Origin, the headers CORS adds to every reply are there too (worked out once).
    let plain = exchange(fe.addr, get("/ok", "")).await;
    assert_eq!(header(&plain, "access-control-allow-origin"), Some("*"), "{plain}");
    assert_eq!(header(&plain, "access-control-expose-headers"), Some("x-request-id"), "{plain}");
    assert!(header(&plain, "vary").is_some_and(|v| v.contains("origin")), "{plain}");

    let listed = GatewayConfig { cors_origins: vec!["https://good.example".into()], ..config() };
    let fe = front_end(listed).await;
    let good = exchange(fe.addr, get("/ok", "Origin: https://good.example\r\n")).await;
    assert_eq!(header(&good, "access-control-allow-origin"), Some("https://good.example"));
    assert!(header(&good, "vary").is_some_and(|v| v.contains("origin")), "{good}");
    let bad = exchange(fe.addr, get("/ok", "Origin: https://evil.example\r\n")).await;
    assert_eq!(header(&bad, "access-control-allow-origin"), None);
    let plain = exchange(fe.addr, get("/ok", "")).await;
    assert_eq!(header(&plain, "access-control-allow-origin"), None, "{plain}");
    assert!(header(&plain, "vary").is_some_and(|v| v.contains("origin")), "{plain}");
}

#[tokio::test]
async fn oversized_bodies_get_413_in_json_whether_declared_or_streamed() {
    let fe = front_end(config()).await;
    let declared = b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5000000\r\nConnection: close\r\n\r\n".to_vec();
    let response = exchange(fe.addr, declared).await;
    assert_eq!(status(&response), 413, "{response}");
    assert_eq!(json_error(&response).as_deref(), Some("request body too large"));

    let mut chunked =
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".to_vec();
    for _ in 0..4 {
        chunked.extend_from_slice(format!("{:x}\r\n{}\r\n", 600, "x".repeat(600)).as_bytes());
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let response = exchange(fe.addr, chunked).await;
    assert_eq!(status(&response), 413, "{response}");
    assert!(json_error(&response).is_some(), "{response}");

    let small = b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello".to_vec();
    assert!(exchange(fe.addr, small).await.ends_with("5 bytes"));
}

#[tokio::test]
async fn slow_handlers_time_out_and_panics_become_500() {
    let fe = front_end(config()).await;
    let started = Instant::now();
    let response = exchange(fe.addr, get("/slow", "")).await;
    assert_eq!(status(&response), 503, "{response}");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(json_error(&response).is_some(), "{response}");

    let response = exchange(fe.addr, get("/panic", "")).await;
    assert_eq!(status(&response), 500, "{response}");
    assert_eq!(json_error(&response).as_deref(), Some("internal error"));
    assert_eq!(status(&exchange(fe.addr, get("/ok", "")).await), 200, "the process survives a panic");
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_are_json() {
    let fe = front_end(config()).await;
    let response = exchange(fe.addr, get("/nope", "")).await;
    assert_eq!((status(&response), json_error(&response).is_some()), (404, true), "{response}");
    let post = b"POST /only-get HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec();
    let response = exchange(fe.addr, post).await;
    assert_eq!((status(&response), json_error(&response).is_some()), (405, true), "{response}");
}

#[tokio::test]
async fn huge_heads_and_slow_clients_are_cut_off_without_hurting_others() {
    let fe = front_end(config()).await;
    let big = format!("X-Filler: {}\r\n", "a".repeat(20 * 1024));
    let response = exchange(fe.addr, get("/ok", &big)).await;
    assert_eq!(status(&response), 431, "{response}");
    assert_eq!(json_error(&response).as_deref(), Some("request headers too large"));
    let huge = format!("X-Filler: {}\r\n", "a".repeat(200 * 1024));
    assert_eq!(status(&exchange(fe.addr, get("/ok", &huge)).await), 431);

    // Slowloris: half a request head, then nothing. The server hangs up after its deadline.
    let addr = fe.addr;
    let held = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
        stream.write_all(b"GET /ok HTTP/1.1\r\nHost: t\r\nX-Slow: ").expect("write");
        let started = Instant::now();
        let mut sink = Vec::new();
        let _ = stream.read_to_end(&mut sink);
        started.elapsed()
    });
    assert_eq!(status(&exchange(fe.addr, get("/ok", "")).await), 200, "others are served meanwhile");
    let held_for = held.await.expect("slow client");
    assert!(held_for < Duration::from_secs(3), "slow client held the connection for {held_for:?}");

    let garbage = exchange(fe.addr, b"NOT HTTP AT ALL\r\n\r\n".to_vec()).await;
    assert_eq!(status(&garbage), 400, "{garbage}");
    assert_eq!(status(&exchange(fe.addr, get("/ok", "")).await), 200);
}

#[tokio::test]
async fn each_head_on_a_kept_alive_connection_gets_its_own_deadline() {
    // The head deadline (300 ms) runs from when the server starts waiting for each head. Three
    // requests 200 ms apart on one connection are all served, the last after the first head's
    // deadline had passed; once the client goes quiet, the connection is closed.
    let fe = front_end(config()).await;
    let addr = fe.addr;
    let (served, closed_after) = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
        let mut served = 0;
        for _ in 0..3 {
            stream.write_all(b"GET /ok HTTP/1.1\r\nHost: t\r\n\r\n").expect("write");
            let mut reply = [0u8; 1024];
            let n = stream.read(&mut reply).expect("reply");
            if String::from_utf8_lossy(&reply[..n]).starts_with("HTTP/1.1 200") {
                served += 1;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let quiet = Instant::now();
        let _ = stream.read_to_end(&mut Vec::new());
        (served, quiet.elapsed())
    })
    .await
    .expect("client thread");
    assert_eq!(served, 3, "every head within its own deadline is served");
    assert!(closed_after < Duration::from_secs(3), "an idle connection is closed, after {closed_after:?}");
}
