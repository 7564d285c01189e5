//! The internal transport end to end: a served handler called through the pooled client, the
//! version header both ways, and peers of another uid refused.

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::time::Duration;

use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use orama_ipc::{Body, Handler, IpcClient, IpcError, VERSION_HEADER, json_response, serve, socket_path};
use tokio_util::sync::CancellationToken;

struct Echo;

impl Handler for Echo {
    async fn handle(&self, request: Request<Incoming>) -> Response<Body> {
        match request.uri().path() {
            "/slow" => {
                tokio::time::sleep(Duration::from_secs(5)).await;
                json_response(StatusCode::OK, &serde_json::json!({}))
            }
            "/fail" => orama_ipc::error_response(StatusCode::CONFLICT, "already there"),
            path => json_response(StatusCode::OK, &serde_json::json!({ "path": path })),
        }
    }
}

fn start(dir: &std::path::Path) -> (std::path::PathBuf, CancellationToken, tokio::task::JoinHandle<()>) {
    let path = socket_path(dir, "echo");
    let listener = orama_ipc::bind(&path).expect("bind");
    let stop = CancellationToken::new();
    let task = tokio::spawn(serve(listener, Arc::new(Echo), stop.clone()));
    (path, stop, task)
}

#[tokio::test]
async fn client_and_server_round_trip_with_typed_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, stop, task) = start(dir.path());
    let client = IpcClient::new(&path).with_timeout(Duration::from_millis(300));

    let body: serde_json::Value = client.get_json("/hello").await.expect("get");
    assert_eq!(body["path"], "/hello");
    let response = client.send(Method::GET, "/again", None).await.expect("send");
    assert_eq!(response.headers()[VERSION_HEADER], "1");

    let err = client.get_json::<serde_json::Value>("/fail").await.expect_err("409");
    assert!(
        matches!(&err, IpcError::Status { status, message, .. } if *status == StatusCode::CONFLICT && message == "already there")
    );
    let err = client.get_json::<serde_json::Value>("/slow").await.expect_err("timeout");
    assert!(matches!(err, IpcError::Timeout { .. }) && err.is_unavailable());

    stop.cancel();
    task.await.expect("server task");
    let err = IpcClient::new(&path).get_json::<serde_json::Value>("/hello").await.expect_err("down");
    assert!(err.is_unavailable(), "{err}");
}

#[tokio::test]
async fn another_protocol_version_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, stop, _task) = start(dir.path());
    let mut stream = tokio::net::UnixStream::connect(&path).await.expect("connect");
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let request = format!("GET /x HTTP/1.1\r\nHost: l\r\n{VERSION_HEADER}: 99\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    assert!(response.starts_with("HTTP/1.1 400"), "{response}");
    assert!(response.contains("internal protocol version 99 is not supported"), "{response}");
    stop.cancel();
}

/// Runs only as root (it needs to act as another uid); CI runs as root.
#[tokio::test]
async fn peers_of_another_uid_are_refused() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipped: needs root to connect as another uid");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, stop, _task) = start(&dir.path().join("run"));
    // Open the file permissions so only SO_PEERCRED stands between the other uid and us.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::fs::set_permissions(dir.path().join("run"), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    // The server may drop us before our write (broken pipe), after it (EOF), or mid-way (reset):
    // all three are a refusal. What must never come back is an HTTP answer.
    let script = r#"$SIG{PIPE} = "IGNORE"; use Socket;
        socket(my $s, PF_UNIX, SOCK_STREAM, 0) or die "socket: $!";
        connect($s, sockaddr_un($ARGV[0])) or die "connect: $!";
        defined syswrite($s, "GET /x HTTP/1.1\r\nHost: l\r\n\r\n") or do { print "error: $!"; exit 0 };
        my $n = sysread($s, my $buf, 100); print defined $n ? "read $n bytes: $buf" : "error: $!";"#;
    let output = tokio::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/perl", "-e", script])
        .arg(&path)
        .output()
        .await
        .expect("setpriv");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    let refused = ["read 0 bytes: ", "error: Connection reset by peer", "error: Broken pipe"];
    assert!(refused.contains(&stdout.as_ref()), "answered: {stdout}");
    stop.cancel();
}
