//! `orama-wasm-runner probe-confinement`: confines this process exactly as the runner confines
//! itself ([`isolation`](crate::isolation), then [`containment`](crate::containment)), then
//! tries what code that escaped wasmtime inside the runner would try, and prints what it
//! reached as one JSON object: `{"<attempt>": {"reached": bool, "detail": "..."}}`.
//!
//! The only thing a confined runner should reach is the gateway's host-call socket.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use orama_service::args::ProcessArgs;
use orama_service::config::NodeConfig;
use orama_service::paths::Dirs;
use serde_json::{Value, json};

/// Confines this process, probes, prints the report.
pub fn main(args: &ProcessArgs, signal_pid: Option<i32>) -> ExitCode {
    let fail = |message: String| {
        eprintln!("orama-wasm-runner probe-confinement: {message}");
        ExitCode::FAILURE
    };
    let config = match NodeConfig::load_or_default(args.config.as_deref()) {
        Ok(config) => config,
        Err(err) => return fail(err.to_string()),
    };
    let dirs = match Dirs::resolve(args, &config.node) {
        Ok(dirs) => dirs,
        Err(err) => return fail(err.to_string()),
    };
    let isolation = match crate::isolation::isolate(&crate::isolation::Plan::for_runner(&dirs, &config.wasm_runner)) {
        Ok(isolation) => isolation,
        Err(err) => return fail(err),
    };
    let containment = match crate::containment::confine(&dirs.process_data("wasm-runner").join("probe-empty")) {
        Ok(containment) => containment,
        Err(err) => return fail(format!("containment: {err}")),
    };
    let mut report = attempts(&dirs, signal_pid);
    let state = json!({
        "user": isolation.user,
        "view": isolation.view.err().unwrap_or_else(|| "private".into()),
        "landlock": isolation.landlock.unwrap_or_else(|e| e),
        "seccomp": containment.syscall_filter.err().unwrap_or_else(|| "active".into()),
    });
    report.insert("confinement".into(), state);
    println!("{}", Value::Object(report.into_iter().collect()));
    ExitCode::SUCCESS
}

/// Every attempt, by name.
fn attempts(dirs: &Dirs, signal_pid: Option<i32>) -> BTreeMap<String, Value> {
    let gateway_data = dirs.process_data("gateway");
    let runtime = &dirs.runtime_dir;
    let mut report = BTreeMap::new();
    let mut note = |name: &str, outcome: Result<String, String>| {
        let (reached, detail) = match outcome {
            Ok(detail) => (true, detail),
            Err(detail) => (false, detail),
        };
        report.insert(name.to_owned(), json!({ "reached": reached, "detail": detail }));
    };
    note("list the gateway's data", list(&gateway_data));
    note("read the gateway's system store", read(&gateway_data.join("system.db")));
    note("read the gateway's signing keys", read_tree(&gateway_data.join("jwt")));
    note("read the functions' secrets key", read(&gateway_data.join("functions/secrets.key")));
    note("read another process's environment", read(Path::new("/proc/1/environ")));
    note("write outside its data", write(&dirs.data_dir.join("probe-was-here")));
    note("write to /tmp", write(Path::new("/tmp/orama-probe-was-here")));
    let operator = "POST /v1/apikeys HTTP/1.1\r\nHost: local\r\nContent-Type: application/json\r\nContent-Length: 24\r\nConnection: close\r\n\r\n{\"namespace\":\"stolen\"}\r\n";
    note("create an API key on the gateway's operator socket", exchange(&runtime.join("gateway.sock"), operator));
    let children = "GET /v1/children HTTP/1.1\r\nHost: local\r\nConnection: close\r\n\r\n";
    note("drive the supervisor's control socket", exchange(&runtime.join("supervisor.sock"), children));
    note("reach the pub/sub bridge", exchange(&runtime.join("pubsub-bridge.sock"), children));
    note("reach the anonymous proxy", exchange(&runtime.join("anon-proxy.sock"), children));
    let health = "GET /health HTTP/1.1\r\nHost: local\r\nConnection: close\r\n\r\n";
    note("make host calls", exchange(&orama_ipc::socket::host_calls_socket(runtime), health));
    note("open a TCP connection", tcp());
    note(
        "start a program",
        std::process::Command::new("/bin/true").status().map(|s| s.to_string()).map_err(|e| e.to_string()),
    );
    if let Some(pid) = signal_pid {
        note("signal another process", signal(pid));
    }
    report
}

fn list(dir: &Path) -> Result<String, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| e.to_string())?;
    Ok(format!("{} entries", entries.count()))
}

fn read(file: &Path) -> Result<String, String> {
    std::fs::read(file).map(|bytes| format!("{} bytes", bytes.len())).map_err(|e| e.to_string())
}

/// Reads every file beneath `dir` (or says why it could not list it).
fn read_tree(dir: &Path) -> Result<String, String> {
    let mut read_any = Err(String::from("no file"));
    for entry in std::fs::read_dir(dir).map_err(|e| e.to_string())? {
        let path = entry.map_err(|e| e.to_string())?.path();
        read_any = read(&path).map(|detail| format!("{}: {detail}", path.display()));
        if read_any.is_ok() {
            break;
        }
    }
    read_any
}

fn write(file: &Path) -> Result<String, String> {
    std::fs::write(file, b"x").map(|()| "written".to_owned()).map_err(|e| e.to_string())
}

/// Sends `request` on the socket at `path`; the answer's status line.
fn exchange(path: &Path, request: &str) -> Result<String, String> {
    let mut stream = UnixStream::connect(path).map_err(|e| e.to_string())?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).map_err(|e| e.to_string())?;
    stream.write_all(request.as_bytes()).map_err(|e| e.to_string())?;
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    match answer.lines().next() {
        Some(status) if !status.is_empty() => Ok(status.to_owned()),
        _ => Err("connected, then closed without an answer".into()),
    }
}

fn tcp() -> Result<String, String> {
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], 9));
    match std::net::TcpStream::connect_timeout(&address, Duration::from_secs(2)) {
        Ok(_) => Ok("connected".into()),
        // Refused by the port means the connection left the process: reached.
        Err(err) if err.kind() == std::io::ErrorKind::ConnectionRefused => Ok(format!("left the process: {err}")),
        Err(err) => Err(err.to_string()),
    }
}

fn signal(pid: i32) -> Result<String, String> {
    let pid = rustix::process::Pid::from_raw(pid).ok_or_else(|| "not a pid".to_owned())?;
    rustix::process::test_kill_process(pid).map(|()| "signalled".to_owned()).map_err(|e| e.to_string())
}
