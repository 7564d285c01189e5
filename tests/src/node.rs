//! A running node under test: one supervisor in its own temp dir, started on a config, with
//! its children, and the waits and `ctl` calls the end-to-end tests drive it through.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::Duration;

use serde_json::Value;
use tempfile::TempDir;

use crate::http_client::unix_get;
use crate::process::{WAIT, bin, eventually};

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
        let bin_dir = own_binaries(dir.path());
        for path in [dir.path(), bin_dir.as_path()] {
            std::os::unix::fs::chown(path, Some(uid), Some(gid)).expect("give the node its dir");
        }
        let config = config.replace("{dir}", &dir.path().display().to_string());
        let mut node = Node::spawn(dir, &config, &[], false, Some((uid, gid)));
        node.user = Some((uid, gid));
        node
    }

    /// Starts a supervisor from a copy of our binaries in `<dir>/bin`, which a test may then
    /// replace (an upgrade) without touching the target dir's.
    pub fn start_from_own_binaries(config: &str) -> Node {
        let dir = tempfile::Builder::new().prefix("orama").tempdir().expect("tempdir");
        own_binaries(dir.path());
        let config = config.replace("{dir}", &dir.path().display().to_string());
        Node::spawn(dir, &config, &[], false, None)
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
        let own = dir.path().join("bin/orama-supervisor");
        let mut command = Command::new(if own.exists() { own } else { bin("orama-supervisor") });
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

    /// The supervisor's whole status report (`Null` when it does not answer).
    pub fn report(&self) -> Value {
        let response = unix_get(&self.runtime_dir.join("supervisor.sock"), "/v1/children").unwrap_or_default();
        let body = response.split_once("\r\n\r\n").map_or("", |(_, body)| body);
        serde_json::from_str(body).unwrap_or_default()
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

/// Links (or copies) our binaries into `<dir>/bin`; that dir.
fn own_binaries(dir: &Path) -> PathBuf {
    let bin_dir = dir.join("bin");
    std::fs::create_dir(&bin_dir).expect("bin dir");
    for name in ["orama-supervisor", "orama-gateway", "orama-wasm-runner", "orama-pubsub-bridge", "orama-anon-proxy"] {
        let linked = std::fs::hard_link(bin(name), bin_dir.join(name));
        linked.or_else(|_| std::fs::copy(bin(name), bin_dir.join(name)).map(drop)).expect("our binaries");
    }
    bin_dir
}
