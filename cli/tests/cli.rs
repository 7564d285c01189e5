//! The `orama` binary against a real node: every command's output for people and for scripts,
//! the saved profile (by key and by the browser callback), and the exit codes.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use orama_e2e::{Node, free_port};
use serde_json::Value;

const CONFIG: &str = "
supervisor:
  grace_period: 2s
  startup_timeout: 10s
  backoff: { initial: 1s, max: 5s, reset_after: 1s }
  probe: { interval: 100ms, timeout: 300ms, failure_threshold: 2 }
pubsub: { listen: ['/ip4/127.0.0.1/tcp/0'] }
";

struct Cli {
    gateway: String,
    key: String,
    profile: tempfile::TempDir,
}

impl Cli {
    /// `orama --gateway … [--api-key …] args`, with a profile of its own.
    fn command(&self, args: &[&str], with_key: bool) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_orama"));
        command.env_remove("ORAMA_GATEWAY").env_remove("ORAMA_API_KEY");
        command.env("ORAMA_PROFILE", self.profile.path().join("profile.json"));
        command.args(["--gateway", &self.gateway]);
        if with_key {
            command.args(["--api-key", &self.key]);
        }
        command.args(args);
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args, true).output().expect("orama runs")
    }

    /// Runs `args`, expecting success; stdout.
    fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(output.status.success(), "orama {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Runs `args` with `--json`, expecting success; the JSON printed.
    fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        serde_json::from_str(self.ok(&all).trim()).expect("one JSON value")
    }
}

/// The exit code and the stderr of a failed run.
fn failed(output: &Output) -> (i32, String) {
    assert!(!output.status.success(), "expected a failure: {}", String::from_utf8_lossy(&output.stdout));
    (output.status.code().unwrap_or(-1), String::from_utf8_lossy(&output.stderr).into_owned())
}

fn start() -> (Node, Cli) {
    let port = free_port();
    let node = Node::start(&format!("{CONFIG}gateway: {{ listen: '127.0.0.1:{port}' }}\n"));
    node.wait_ready(&["gateway", "pubsub-bridge"]);
    let created = node.ctl(&["apikey", "create", "--namespace", "cli"]);
    assert!(created.status.success());
    let key = String::from_utf8_lossy(&created.stdout).trim().to_owned();
    let cli = Cli { gateway: format!("http://127.0.0.1:{port}"), key, profile: tempfile::tempdir().expect("dir") };
    (node, cli)
}

#[test]
fn every_command_for_people_and_for_scripts() {
    let (_node, cli) = start();
    assert!(cli.ok(&["auth", "whoami"]).contains("namespace cli"));
    assert_eq!(cli.json(&["auth", "whoami"])["method"], "api_key");

    cli.ok(&["db", "exec", "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT, stars INTEGER)"]);
    let inserted = cli.json(&["db", "exec", "INSERT INTO notes (body, stars) VALUES (?, ?)", "hello", "3"]);
    assert_eq!(inserted["rows_affected"], 1);
    cli.ok(&["db", "exec", "INSERT INTO notes (body, stars) VALUES (?, ?)", "x'); DROP TABLE notes; --", "null"]);
    let table = cli.ok(&["db", "query", "SELECT body, stars FROM notes ORDER BY id"]);
    assert_eq!(
        table.lines().next().map(str::split_whitespace).map(Iterator::collect::<Vec<_>>),
        Some(vec!["body", "stars"])
    );
    assert!(table.contains("hello") && table.contains("NULL") && table.contains("(2 rows)"), "{table}");
    let rows = cli.json(&["db", "query", "SELECT * FROM notes WHERE stars > ?", "2"]);
    assert_eq!(rows, serde_json::json!([{"id": 1, "body": "hello", "stars": 3}]));
    assert!(cli.ok(&["db", "tables"]).contains("notes"));
    assert!(cli.ok(&["db", "schema", "notes"]).starts_with("CREATE TABLE notes"));

    cli.ok(&["cache", "put", "prefs", "theme", "{\"dark\":true}", "--ttl", "1h"]);
    cli.ok(&["cache", "put", "prefs", "lang", "en"]);
    assert_eq!(cli.ok(&["cache", "get", "prefs", "lang"]).trim(), "en");
    assert_eq!(cli.json(&["cache", "get", "prefs", "theme"])["value"], serde_json::json!({"dark": true}));
    assert_eq!(cli.ok(&["cache", "scan", "prefs"]).trim(), "lang\ntheme");
    cli.ok(&["cache", "delete", "prefs", "lang"]);
    let (code, stderr) = failed(&cli.run(&["cache", "get", "prefs", "lang"]));
    assert_eq!((code, stderr.lines().count()), (4, 1), "{stderr}");

    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("data.bin");
    let bytes: Vec<u8> = (0..600_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(&file, &bytes).expect("write");
    let uploaded = cli.json(&["storage", "upload", file.to_str().expect("utf-8")]);
    let cid = uploaded["cid"].as_str().expect("cid").to_owned();
    assert_eq!(uploaded["size"], 600_000);
    // On a terminal, a transfer shows its progress (`script` gives the command a pty).
    let on_terminal = format!(
        "{} --gateway {} --api-key '{}' storage upload {}",
        env!("CARGO_BIN_EXE_orama"),
        cli.gateway,
        cli.key,
        file.display()
    );
    let mut under_script = Command::new("script");
    under_script.env("ORAMA_PROFILE", cli.profile.path().join("profile.json"));
    let shown = under_script.args(["-qec", &on_terminal, "/dev/null"]).output().expect("script");
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.contains("uploading data.bin") && shown.contains("100%"), "{shown}");
    let copy = dir.path().join("copy.bin");
    cli.ok(&["storage", "get", &cid, "-o", copy.to_str().expect("utf-8")]);
    assert!(std::fs::read(&copy).expect("copy") == bytes, "the download is the upload");
    let piped = cli.run(&["storage", "get", &cid]);
    assert!(piped.status.success() && piped.stdout == bytes, "to stdout");
    let mut stdin_upload = cli.command(&["--json", "storage", "upload", "-"], true);
    let mut child = stdin_upload.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().expect("spawn");
    child.stdin.take().expect("stdin").write_all(&bytes).expect("pipe");
    let output = child.wait_with_output().expect("upload from stdin");
    assert_eq!(serde_json::from_slice::<Value>(&output.stdout).expect("json")["cid"], cid.as_str());
    assert!(cli.ok(&["storage", "status", &cid]).contains("pinned"));
    cli.ok(&["storage", "unpin", &cid]);
    assert_eq!(failed(&cli.run(&["storage", "status", &cid])).0, 4);
    assert_eq!(failed(&cli.run(&["storage", "get", "not/a/cid"])).0, 2, "refused before sending");

    let wasm = orama_e2e::guest_wasm("hello");
    let deployed = cli.json(&["functions", "deploy", "hello", wasm.to_str().expect("utf-8"), "--memory", "32"]);
    assert_eq!(deployed["version"], 1);
    let output = cli.ok(&["functions", "invoke", "hello", "{\"name\":\"Ada\"}"]);
    assert!(output.contains("Hello, Ada!"), "{output}");
    let mut from_stdin = cli.command(&["functions", "invoke", "hello"], true);
    let mut child = from_stdin.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().expect("spawn");
    child.stdin.take().expect("stdin").write_all(b"{\"name\":\"Bo\"}").expect("pipe");
    assert!(String::from_utf8_lossy(&child.wait_with_output().expect("invoke").stdout).contains("Hello, Bo!"));
    let listed = cli.ok(&["functions", "list"]);
    assert!(listed.starts_with("name") && listed.contains("hello") && listed.contains("32 MiB"), "{listed}");
    cli.ok(&["functions", "logs", "hello"]);
    cli.ok(&["functions", "delete", "hello"]);
    assert_eq!(failed(&cli.run(&["functions", "invoke", "hello", "{}"])).0, 4);

    let mut subscriber = cli.command(&["--json", "pubsub", "subscribe", "news", "--count", "1"], true);
    let mut child = subscriber.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("subscribe");
    let mut ready = String::new();
    BufReader::new(child.stderr.take().expect("stderr")).read_line(&mut ready).expect("subscribed line");
    assert!(ready.starts_with("subscribed to news"), "{ready}");
    cli.ok(&["pubsub", "publish", "news", "extra!"]);
    let mut printed = String::new();
    child.stdout.take().expect("stdout").read_to_string(&mut printed).expect("message");
    assert!(child.wait().expect("exit").success());
    assert_eq!(serde_json::from_str::<Value>(printed.trim()).expect("json")["data"], "extra!");

    assert!(cli.ok(&["network", "status"]).contains("peer id"));
    assert!(cli.json(&["network", "peers"])["peers"].is_array());
}

#[test]
fn exit_codes_and_the_saved_profile() {
    let (_node, cli) = start();
    let (code, stderr) = failed(&cli.command(&["auth", "whoami"], false).output().expect("run"));
    assert_eq!(code, 3, "no credential: {stderr}");
    assert!(stderr.starts_with("orama: 401") && stderr.lines().count() == 1, "{stderr}");
    let mut wrong = cli.command(&["--api-key", "ak_AAAAAAAAAAAAAAAAAAAAAAAA:cli", "auth", "whoami"], false);
    assert_eq!(failed(&wrong.output().expect("run")).0, 3);
    let nowhere = Command::new(env!("CARGO_BIN_EXE_orama"))
        .env("ORAMA_PROFILE", cli.profile.path().join("none.json"))
        .args(["--gateway", &format!("http://127.0.0.1:{}", free_port()), "network", "status"])
        .output()
        .expect("run");
    assert_eq!(failed(&nowhere).0, 5, "no gateway answers");
    assert_eq!(failed(&cli.run(&["cache", "frobnicate"])).0, 2, "usage");
    assert_eq!(failed(&cli.run(&["db", "query", "SELEKT 1"])).0, 1, "the server refused the SQL");

    // Logging in with a key (here from stdin) saves it (owner-only); later commands need no flag.
    let mut login = cli.command(&["auth", "login", "--key", "-"], false);
    let mut child = login.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().expect("login");
    child.stdin.take().expect("stdin").write_all(format!("{}\n", cli.key).as_bytes()).expect("key");
    let output = child.wait_with_output().expect("login");
    assert!(String::from_utf8_lossy(&output.stdout).contains("namespace cli"), "{output:?}");
    let saved = cli.profile.path().join("profile.json");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&saved).expect("profile").permissions().mode() & 0o777, 0o600);
    let plain =
        Command::new(env!("CARGO_BIN_EXE_orama")).env("ORAMA_PROFILE", &saved).args(["auth", "whoami"]).output();
    assert!(plain.expect("run").status.success(), "the profile names the gateway and the key");
    // Another gateway named on the command line is not given the saved key: a listener
    // standing in for it records what it was sent.
    let other = std::net::TcpListener::bind("127.0.0.1:0").expect("listener");
    let other_url = format!("http://127.0.0.1:{}", other.local_addr().expect("addr").port());
    let recorder = std::thread::spawn(move || {
        let (mut stream, _) = other.accept().expect("a request");
        let mut head = [0u8; 4096];
        let read = stream.read(&mut head).expect("head");
        let body = "{\"error\":\"missing API key\"}";
        let reply =
            format!("HTTP/1.1 401 Unauthorized\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
        stream.write_all(reply.as_bytes()).expect("reply");
        String::from_utf8_lossy(&head[..read]).into_owned()
    });
    let elsewhere = Command::new(env!("CARGO_BIN_EXE_orama"))
        .env("ORAMA_PROFILE", &saved)
        .args(["--gateway", &other_url, "auth", "whoami"])
        .output()
        .expect("run");
    assert_eq!(failed(&elsewhere).0, 3);
    let head = recorder.join().expect("recorded");
    assert!(head.starts_with("GET /v1/auth/whoami") && !head.to_lowercase().contains("x-api-key"), "{head}");
    std::fs::write(&saved, "not json").expect("corrupt the profile");
    assert_eq!(failed(&cli.command(&["auth", "whoami"], false).output().expect("run")).0, 1);
    cli.ok(&["auth", "logout"]);
    assert!(!saved.exists(), "a broken profile can still be removed");

    // The browser flow: the login page redirects to the CLI's loopback callback with a key.
    let mut login = cli.command(&["auth", "login", "--no-browser", "--namespace", "cli"], false);
    let mut child = login.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("login");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut lines = String::new();
    while !lines.contains("/v1/auth/login?") {
        assert!(stderr.read_line(&mut lines).expect("line") > 0, "no sign-in URL: {lines}");
    }
    let url = lines.split_whitespace().find(|w| w.contains("/v1/auth/login?")).expect("url");
    let url = url::Url::parse(url).expect("a URL");
    let callback = url.query_pairs().find(|(k, _)| k == "callback").expect("callback").1.into_owned();
    let page = reqwest_free_get(&url);
    assert!(page.contains("200"), "the gateway serves the login page: {page}");
    let (port, state) = {
        let callback = url::Url::parse(&callback).expect("callback URL");
        let state = callback.query_pairs().find(|(k, _)| k == "state").expect("a state").1.into_owned();
        (callback.port().expect("port"), state)
    };
    let key = cli.key.replace(':', "%3A");
    let planted = format!("http://127.0.0.1:{port}/callback?api_key=ak_planted:cli&namespace=cli");
    assert!(reqwest_free_get(&url::Url::parse(&planted).expect("url")).contains("400"), "no state, no key");
    let back =
        format!("http://127.0.0.1:{port}/callback?state={state}&api_key={key}&namespace=cli&wallet=0xabc&plan=free");
    assert!(reqwest_free_get(&url::Url::parse(&back).expect("callback URL")).contains("Signed in"));
    assert!(child.wait().expect("exit").success());
    assert!(saved.exists(), "the key from the callback is saved");
}

/// A GET over a plain TCP connection (the test needs no HTTP client); the whole answer.
fn reqwest_free_get(url: &url::Url) -> String {
    let address = (url.host_str().expect("host"), url.port_or_known_default().expect("port"));
    let mut stream = std::net::TcpStream::connect(address).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let target = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    };
    write!(stream, "GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").expect("send");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
}
