//! Headless Chromium, driven through ChromeDriver (W3C WebDriver over HTTP on loopback), for
//! tests of the pages the gateway serves: open a URL, fill and click, read the DOM with a
//! script, take a screenshot. Chromium starts with a fresh profile and every background
//! service off (no update checks, no sync, no QUIC), so it only ever talks to the pages the
//! test opens. Debian's `chromium` and `chromium-driver` packages (`scripts/test` installs
//! them); `ORAMA_CHROMIUM` and `ORAMA_CHROMEDRIVER` name other binaries.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};

use crate::process::{eventually, free_port};

/// A browser session; the browser and its driver end when it is dropped.
pub struct Browser {
    driver: Child,
    port: u16,
    session: String,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts ChromeDriver and a headless Chromium session.
    pub fn start() -> Browser {
        let port = free_port();
        let driver_bin = std::env::var("ORAMA_CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".to_owned());
        let driver = Command::new(&driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {driver_bin} (Debian's chromium-driver): {e}"));
        let up = eventually(Duration::from_secs(20), || {
            exchange(port, "GET", "/status", None, Duration::from_secs(2))
                .is_some_and(|(_, r)| r["value"]["ready"] == true)
        });
        assert!(up, "chromedriver did not start on port {port}");
        let profile = tempfile::tempdir().expect("profile dir");
        let binary = std::env::var("ORAMA_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
        let args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--window-size=1280,1800",
        ]
        .map(String::from)
        .into_iter()
        .chain([format!("--user-data-dir={}", profile.path().display())])
        .collect::<Vec<_>>();
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": binary, "args": args }
        } } });
        let mut browser = Browser { driver, port, session: String::new(), _profile: profile };
        let created = browser.call("POST", "/session", Some(&capabilities));
        browser.session = created["sessionId"].as_str().expect("a session id").to_owned();
        browser
    }

    /// Opens `url` and waits for it to load.
    pub fn open(&self, url: &str) {
        self.session_call("POST", "/url", Some(&json!({ "url": url })));
    }

    /// The document's title.
    pub fn title(&self) -> String {
        self.session_call("GET", "/title", None).as_str().unwrap_or_default().to_owned()
    }

    /// Types `text` into the element `css` selects.
    pub fn fill(&self, css: &str, text: &str) {
        let element = self.find(css);
        self.session_call("POST", &format!("/element/{element}/value"), Some(&json!({ "text": text })));
    }

    /// Clicks the element `css` selects (and waits for the navigation it starts).
    pub fn click(&self, css: &str) {
        let element = self.find(css);
        self.session_call("POST", &format!("/element/{element}/click"), Some(&json!({})));
    }

    /// What `script` (a function body; `return` its answer) returns in the page.
    pub fn eval(&self, script: &str) -> Value {
        self.session_call("POST", "/execute/sync", Some(&json!({ "script": script, "args": [] })))
    }

    /// Waits (at most 10 s) until `script` returns something truthy in the page, and returns
    /// it: a click that submits a form may return before the next page has loaded.
    pub fn wait_for(&self, script: &str) -> Value {
        let mut last = Value::Null;
        let truthy = |v: &Value| !(v.is_null() || *v == false || *v == "" || *v == 0);
        eventually(Duration::from_secs(10), || {
            last = self.eval(script);
            truthy(&last)
        });
        last
    }

    /// A PNG of the viewport.
    pub fn screenshot(&self) -> Vec<u8> {
        let encoded = self.session_call("GET", "/screenshot", None);
        base64::engine::general_purpose::STANDARD.decode(encoded.as_str().unwrap_or_default()).expect("base64 PNG")
    }

    fn find(&self, css: &str) -> String {
        let found = self.session_call("POST", "/element", Some(&json!({ "using": "css selector", "value": css })));
        let id = found.as_object().and_then(|o| o.values().next()).and_then(Value::as_str);
        id.unwrap_or_else(|| panic!("no element {css}: {found}")).to_owned()
    }

    fn session_call(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        self.call(method, &format!("/session/{}{path}", self.session), body)
    }

    /// One WebDriver command; its `value`.
    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let (status, reply) = exchange(self.port, method, path, body, Duration::from_secs(60))
            .unwrap_or_else(|| panic!("chromedriver did not answer {method} {path}"));
        assert_eq!(status, 200, "{method} {path}: {reply}");
        reply["value"].clone()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let path = format!("/session/{}", self.session);
            let _ = exchange(self.port, "DELETE", &path, None, Duration::from_secs(10));
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// One HTTP exchange with ChromeDriver, which refuses requests whose `Host` is not a loopback
/// name: the status and the JSON answer.
fn exchange(port: u16, method: &str, path: &str, body: Option<&Value>, timeout: Duration) -> Option<(u16, Value)> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), timeout).ok()?;
    stream.set_read_timeout(Some(timeout)).ok()?;
    let body = body.map(Value::to_string).unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(body.as_bytes())).ok()?;
    // ChromeDriver keeps the connection open whatever the request says: read by length.
    let mut response = Vec::new();
    let mut chunk = [0u8; 64 * 1024];
    let (head_end, length) = loop {
        let n = stream.read(&mut chunk).ok().filter(|n| *n > 0)?;
        response.extend_from_slice(&chunk[..n]);
        if let Some(end) = response.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&response[..end]).to_ascii_lowercase();
            let length = head.lines().find_map(|l| l.strip_prefix("content-length:")?.trim().parse::<usize>().ok());
            break (end + 4, length.unwrap_or(0));
        }
    };
    while response.len() < head_end + length {
        let n = stream.read(&mut chunk).ok().filter(|n| *n > 0)?;
        response.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&response[..head_end]);
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let body = String::from_utf8_lossy(&response[head_end..head_end + length]);
    Some((status, serde_json::from_str(body.trim()).unwrap_or_default()))
}
