//! Harness for end-to-end tests: a real `orama-supervisor` with its real children in a temp
//! dir, on free loopback ports, driven through the real `ctl` command.
//!
//! Waits poll a condition with a deadline (never a fixed sleep); a failed wait panics with the
//! supervisor's status and log so the failure explains itself. Dropping a [`Node`] SIGKILLs the
//! supervisor, and its children die with it.
//!
//! The binaries are found beside the test executable's target dir; `cargo nextest run
//! --workspace` builds them (the supervisor and gateway packages have tests of their own).

pub mod jsipfs;
pub mod keepalive;
pub mod load;
pub mod origin;
pub mod pebble;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

/// Default bound on a wait.
pub const WAIT: Duration = Duration::from_secs(20);

/// Path of one of our binaries in the target dir this executable was built into: beside it
/// (a bench binary) or one level up (a test, which lives in `deps/`).
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe.parent().expect("exe dir");
    let candidates = [dir.join(name), dir.parent().map(|d| d.join(name)).unwrap_or_default()];
    let found = candidates.iter().find(|p| p.is_file());
    found.cloned().unwrap_or_else(|| panic!("{name} is missing beside {}: build the workspace first", exe.display()))
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    listener.local_addr().expect("local addr").port()
}

/// True while `pid` exists and is not a zombie.
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat.rsplit_once(") ").is_some_and(|(_, rest)| !rest.starts_with('Z')),
        Err(_) => false,
    }
}

/// Sends `signal` to `pid`.
pub fn signal(pid: u32, signal: rustix::process::Signal) {
    let pid = rustix::process::Pid::from_raw(pid as i32).expect("pid");
    rustix::process::kill_process(pid, signal).expect("kill");
}

/// Memory of process `pid` in bytes: resident now, and the peak resident size since it started
/// or since the last [`reset_peak_memory`].
pub fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| -> u64 {
        let line = status.lines().find(|l| l.starts_with(name)).unwrap_or_default();
        line.split_whitespace().nth(1).and_then(|kib| kib.parse::<u64>().ok()).unwrap_or(0) * 1024
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Makes `pid`'s peak resident size its current one, so a later [`memory`] shows the peak
/// reached since now.
pub fn reset_peak_memory(pid: u32) {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").expect("reset the peak resident size");
}

/// `GET path` over the Unix socket at `socket`; the raw response, or `None` if it cannot connect.
pub fn unix_get(socket: &Path, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream = std::os::unix::net::UnixStream::connect(socket).ok()?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: local\r\nConnection: close\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

/// A reply read by [`http`].
#[derive(Debug)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// The head, lowercased (for header checks).
    pub head: String,
    /// The body as JSON (`Null` when it is not JSON).
    pub json: Value,
    /// The body as text.
    pub body: String,
}

/// `method path` on 127.0.0.1:`port` with extra header lines and an optional JSON body.
pub fn http(port: u16, method: &str, path: &str, headers: &str, body: Option<&Value>) -> Reply {
    let body = body.map(Value::to_string).unwrap_or_default();
    let content_type = if body.is_empty() { "" } else { "application/json" };
    http_bytes(port, method, path, headers, content_type, body.as_bytes())
}

/// `method path` on 127.0.0.1:`port` with extra header lines and a raw body of `content_type`
/// (none when empty).
pub fn http_bytes(port: u16, method: &str, path: &str, headers: &str, content_type: &str, body: &[u8]) -> Reply {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    let content_type =
        if content_type.is_empty() { String::new() } else { format!("Content-Type: {content_type}\r\n") };
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{content_type}Content-Length: {}\r\n{headers}\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(body)).expect("write");
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let json = serde_json::from_str(body.trim()).unwrap_or_default();
    Reply { status, head: head.to_ascii_lowercase(), json, body: body.to_owned() }
}

/// An answer to [`stream_post`].
#[derive(Debug)]
pub struct Streamed {
    /// Status code.
    pub status: u16,
    /// The body as text.
    pub body: String,
    /// Bytes of the body the client had sent when the answer began.
    pub sent_at_answer: u64,
}

/// `POST path` on 127.0.0.1:`port` declaring a body of `preamble`, `size` filler bytes and
/// `closing`, sent in 64 KiB chunks from another thread while the answer is read: shows how
/// much the server let in before it answered (a server that refuses early stops reading).
pub fn stream_post(port: u16, path: &str, headers: &str, (preamble, size, closing): (&str, u64, &str)) -> Streamed {
    use std::io::{Read, Write};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    let length = preamble.len() as u64 + size + closing.len() as u64;
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: t\r\n{headers}Content-Length: {length}\r\nConnection: close\r\n\r\n{preamble}"
    )
    .expect("head");
    let sent = Arc::new(AtomicU64::new(0));
    let (mut writer, counter, closing) = (stream.try_clone().expect("clone"), sent.clone(), closing.to_owned());
    let sending = std::thread::spawn(move || {
        let chunk = vec![0x5a_u8; 64 * 1024];
        while counter.load(Ordering::SeqCst) < size {
            let n = chunk.len().min((size - counter.load(Ordering::SeqCst)) as usize);
            if writer.write_all(&chunk[..n]).is_err() {
                return;
            }
            counter.fetch_add(n as u64, Ordering::SeqCst);
        }
        let _ = writer.write_all(closing.as_bytes());
    });
    let (mut response, mut buffer, mut sent_at_answer) = (Vec::new(), [0u8; 4096], None);
    while let Ok(n) = stream.read(&mut buffer) {
        if n == 0 {
            break;
        }
        sent_at_answer.get_or_insert(sent.load(Ordering::SeqCst));
        response.extend_from_slice(&buffer[..n]);
    }
    let _ = stream.shutdown(std::net::Shutdown::Both);
    let _ = sending.join();
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    Streamed { status, body, sent_at_answer: sent_at_answer.unwrap_or(u64::MAX) }
}

/// The package's directory, as cargo tells the running test (a binary built from another
/// checkout sharing the target dir would otherwise point at that checkout).
pub fn manifest_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
}

/// The module of guest program `name` (`wasm-runner/guests/<name>`, Rust for wasm32-wasip1),
/// built on first use into the target dir (needs `rustup target add wasm32-wasip1`).
pub fn guest_wasm(name: &str) -> PathBuf {
    let manifest = manifest_dir().join(format!("../wasm-runner/guests/{name}/Cargo.toml"));
    let target = bin("orama-supervisor").parent().expect("bin dir").join("guests");
    let built = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--quiet", "--release", "--target", "wasm32-wasip1", "--manifest-path"])
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target)
        .status()
        .expect("run cargo");
    assert!(built.success(), "building guest {name} failed (is the wasm32-wasip1 target installed?)");
    target.join(format!("wasm32-wasip1/release/{name}.wasm"))
}

/// Polls `condition` every 20 ms until it holds or `timeout` passes; returns whether it held.
pub fn eventually(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A running supervisor in its own temp dir.
pub struct Node {
    dir: Option<TempDir>,
    /// Where sockets live.
    pub runtime_dir: PathBuf,
    /// The supervisor process.
    pub process: Child,
    log_path: PathBuf,
    /// The uid and gid the node runs as, when not the test's own.
    user: Option<(u32, u32)>,
}

impl Node {
    /// Starts a supervisor on `config` (YAML; `{dir}` is replaced by the temp dir path).
    pub fn start(config: &str) -> Node {
        let dir = tempfile::Builder::new().prefix("orama").tempdir().expect("tempdir");
        let config = config.replace("{dir}", &dir.path().display().to_string());
        Node::start_in(dir, &config)
    }

    /// Starts a supervisor on `config` in an existing dir (e.g. after a previous one died).
    pub fn start_in(dir: TempDir, config: &str) -> Node {
        Node::start_with_env(dir, config, &[])
    }

    /// Starts a supervisor on `config` in `dir` with extra environment variables.
    pub fn start_with_env(dir: TempDir, config: &str, env: &[(&str, &std::ffi::OsStr)]) -> Node {
        Node::launch(dir, config, env, false)
    }

    /// Starts a supervisor from inside `dir`, naming its config by a relative path, as an
    /// operator in that directory would.
    pub fn start_relative(config: &str) -> Node {
        let dir = tempfile::Builder::new().prefix("orama").tempdir().expect("tempdir");
        Node::launch(dir, config, &[], true)
    }

    /// Starts a supervisor running as `uid`:`gid` (the test must be root), as the shipped
    /// systemd unit runs it as `orama`; its dir is given to that user, our binaries are linked
    /// into it (the target dir may be where that user cannot reach), and `ctl` runs as it.
    pub fn start_as(config: &str, uid: u32, gid: u32) -> Node {
        let dir = tempfile::Builder::new().prefix("orama").tempdir().expect("tempdir");
        let bin_dir = dir.path().join("bin");
        std::fs::create_dir(&bin_dir).expect("bin dir");
        for name in
            ["orama-supervisor", "orama-gateway", "orama-wasm-runner", "orama-pubsub-bridge", "orama-anon-proxy"]
        {
            let linked = std::fs::hard_link(bin(name), bin_dir.join(name));
            linked.or_else(|_| std::fs::copy(bin(name), bin_dir.join(name)).map(drop)).expect("our binaries");
        }
        for path in [dir.path(), bin_dir.as_path()] {
            std::os::unix::fs::chown(path, Some(uid), Some(gid)).expect("give the node its dir");
        }
        let config = config.replace("{dir}", &dir.path().display().to_string());
        let mut node = Node::spawn(dir, &config, &[], false, Some((uid, gid)));
        node.user = Some((uid, gid));
        node
    }

    fn launch(dir: TempDir, config: &str, env: &[(&str, &std::ffi::OsStr)], relative: bool) -> Node {
        Node::spawn(dir, config, env, relative, None)
    }

    fn spawn(
        dir: TempDir,
        config: &str,
        env: &[(&str, &std::ffi::OsStr)],
        relative: bool,
        user: Option<(u32, u32)>,
    ) -> Node {
        use std::os::unix::process::CommandExt;
        let config_path = dir.path().join("orama.yaml");
        std::fs::write(&config_path, config).expect("write config");
        let runtime_dir = dir.path().join("run");
        let log_path = dir.path().join(format!("supervisor-{}.log", std::process::id()));
        let log = File::options().create(true).append(true).open(&log_path).expect("log file");
        let config_arg = if relative { PathBuf::from("orama.yaml") } else { config_path.clone() };
        let mut command = match user {
            Some(_) => Command::new(dir.path().join("bin/orama-supervisor")),
            None => Command::new(bin("orama-supervisor")),
        };
        if let Some((uid, gid)) = user {
            for file in [&config_path, &log_path] {
                std::os::unix::fs::chown(file, Some(uid), Some(gid)).expect("give the node its files");
            }
            command.uid(uid).gid(gid).env("HOME", dir.path());
        }
        let process = command
            .current_dir(dir.path())
            .arg("--config")
            .arg(&config_arg)
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .arg("--runtime-dir")
            .arg(&runtime_dir)
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn supervisor");
        Node { dir: Some(dir), runtime_dir, process, log_path, user }
    }

    /// The temp dir holding config, data, sockets and the log.
    pub fn path(&self) -> &Path {
        self.dir.as_ref().map_or(Path::new("/nonexistent"), TempDir::path)
    }

    /// Kills the supervisor (if still running) and hands back its dir for a new one.
    pub fn into_dir(mut self) -> TempDir {
        let _ = self.process.kill();
        let _ = self.process.wait();
        self.dir.take().expect("dir present until dropped")
    }

    /// Runs `orama-supervisor ctl --runtime-dir <ours> <args>` (as the node's user).
    pub fn ctl(&self, args: &[&str]) -> Output {
        use std::os::unix::process::CommandExt;
        let mut command = Command::new(self.supervisor_binary());
        if let Some((uid, gid)) = self.user {
            command.uid(uid).gid(gid);
        }
        command.arg("ctl").arg("--runtime-dir").arg(&self.runtime_dir).args(args).output().expect("run ctl")
    }

    /// The supervisor binary this node runs (the linked copy for a node of another user).
    pub fn supervisor_binary(&self) -> PathBuf {
        match self.user {
            Some(_) => self.path().join("bin/orama-supervisor"),
            None => bin("orama-supervisor"),
        }
    }

    /// `ctl status --json`, or `None` while the supervisor does not answer.
    pub fn try_status(&self) -> Option<Vec<Value>> {
        let output = self.ctl(&["status", "--json"]);
        if !output.status.success() {
            return None;
        }
        serde_json::from_slice::<Vec<Value>>(&output.stdout).ok()
    }

    /// `GET /v1/children` straight from the control socket (no `ctl` process): for loops that
    /// poll fast, such as benchmarks.
    pub fn status_direct(&self) -> Option<Vec<Value>> {
        let response = unix_get(&self.runtime_dir.join("supervisor.sock"), "/v1/children")?;
        let (_, body) = response.split_once("\r\n\r\n")?;
        let body: Value = serde_json::from_str(body).ok()?;
        body["children"].as_array().cloned()
    }

    /// The status of child `name` (panics if the supervisor does not answer).
    pub fn child(&self, name: &str) -> Value {
        let status = self.try_status().unwrap_or_else(|| self.fail("ctl status failed"));
        status.into_iter().find(|c| c["name"] == name).unwrap_or_else(|| self.fail(&format!("no child {name}")))
    }

    /// Waits until child `name`'s status satisfies `condition`; returns that status.
    pub fn wait_child(&self, name: &str, what: &str, condition: impl Fn(&Value) -> bool) -> Value {
        let mut seen = Value::Null;
        let held = eventually(WAIT, || {
            let status = self.try_status().and_then(|all| all.into_iter().find(|c| c["name"] == name));
            match status {
                Some(status) if condition(&status) => {
                    seen = status;
                    true
                }
                _ => false,
            }
        });
        if !held {
            self.fail(&format!("{name} never became {what}"));
        }
        seen
    }

    /// Waits until every named child is ready.
    pub fn wait_ready(&self, names: &[&str]) {
        for name in names {
            self.wait_child(name, "ready", |c| c["state"] == "ready");
        }
    }

    /// Pid of child `name` (which must be running).
    pub fn pid(&self, name: &str) -> u32 {
        self.child(name)["pid"].as_u64().unwrap_or_else(|| self.fail(&format!("{name} has no pid"))) as u32
    }

    /// Waits for the supervisor to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let mut status = None;
        let process = &mut self.process;
        let exited = eventually(timeout, || {
            status = process.try_wait().ok().flatten();
            status.is_some()
        });
        match status {
            Some(status) if exited => status,
            _ => self.fail("supervisor did not exit"),
        }
    }

    /// The supervisor's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Panics with `message`, the children's status and the supervisor's log.
    pub fn fail(&self, message: &str) -> ! {
        let status = self.ctl(&["status"]);
        panic!(
            "{message}\n--- ctl status ---\n{}{}\n--- supervisor log ---\n{}",
            String::from_utf8_lossy(&status.stdout),
            String::from_utf8_lossy(&status.stderr),
            self.log()
        );
    }

    /// The socket files left in the runtime dir.
    pub fn sockets(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.runtime_dir) else { return Vec::new() };
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".sock"))
            .collect();
        names.sort();
        names
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}
