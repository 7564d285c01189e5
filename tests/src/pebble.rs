//! A real ACME CA for tests: Debian's Pebble with its DNS companion `pebble-challtestsrv`
//! (which answers every name with 127.0.0.1), on free loopback ports in a temp dir, killed on
//! drop. Pebble validates HTTP-01 challenges on `http01_port`, the node's plain-HTTP listener.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use crate::process::{WAIT, eventually, free_port};

/// A running Pebble.
pub struct Pebble {
    dir: TempDir,
    children: Vec<Child>,
    management_port: u16,
    /// The ACME directory URL.
    pub directory_url: String,
    /// The root Pebble's own HTTPS is signed with (for the ACME client).
    pub ca_file: PathBuf,
}

impl Pebble {
    /// Starts Pebble issuing certificates valid for `validity`, refusing `nonce_reject` % of
    /// nonces, validating challenges against 127.0.0.1:`http01_port`.
    pub fn start(http01_port: u16, validity: Duration, nonce_reject: u32) -> Pebble {
        let dir = tempfile::Builder::new().prefix("pebble").tempdir().expect("tempdir");
        let (listen, management, tls, dns, dns_management) =
            (free_port(), free_port(), free_port(), free_port(), free_port());
        let openssl = Command::new("openssl")
            .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2"])
            .args(["-subj", "/CN=pebble-test", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
            .args(["-addext", "basicConstraints=critical,CA:FALSE", "-addext", "extendedKeyUsage=serverAuth"])
            .args(["-keyout", "key.pem", "-out", "cert.pem"])
            .current_dir(dir.path())
            .stderr(Stdio::null())
            .status()
            .expect("openssl");
        assert!(openssl.success(), "openssl could not make Pebble's certificate");
        let config = format!(
            r#"{{"pebble":{{"listenAddress":"127.0.0.1:{listen}","managementListenAddress":"127.0.0.1:{management}",
"certificate":"cert.pem","privateKey":"key.pem","httpPort":{http01_port},"tlsPort":{tls},
"ocspResponderURL":"","externalAccountBindingRequired":false,"certificateValidityPeriod":{}}}}}"#,
            validity.as_secs()
        );
        std::fs::write(dir.path().join("pebble-config.json"), config).expect("pebble config");
        let log = |name: &str| std::fs::File::create(dir.path().join(name)).expect("log file");
        let dns_server = Command::new("pebble-challtestsrv")
            .args(["-dns01", &format!("127.0.0.1:{dns}"), "-http01", "", "-https01", "", "-tlsalpn01", ""])
            .args(["-management", &format!("127.0.0.1:{dns_management}"), "-defaultIPv6", ""])
            .current_dir(dir.path())
            .stdout(log("challtestsrv.log"))
            .stderr(Stdio::null())
            .spawn()
            .expect("pebble-challtestsrv (apt-get install pebble)");
        let pebble = Command::new("pebble")
            .args(["-config", "pebble-config.json", "-dnsserver", &format!("127.0.0.1:{dns}")])
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", nonce_reject.to_string())
            .current_dir(dir.path())
            .stdout(log("pebble.log"))
            .stderr(Stdio::null())
            .spawn()
            .expect("pebble (apt-get install pebble)");
        let ca_file = dir.path().join("cert.pem");
        let pebble = Pebble {
            directory_url: format!("https://127.0.0.1:{listen}/dir"),
            ca_file,
            management_port: management,
            children: vec![dns_server, pebble],
            dir,
        };
        let up = eventually(WAIT, || pebble.fetch(&pebble.directory_url).is_some_and(|d| d.contains("newOrder")));
        assert!(up, "Pebble did not start: {}", pebble.log());
        pebble
    }

    /// Writes the root that Pebble's certificates chain to and returns its path.
    pub fn issuing_root(&self) -> PathBuf {
        let url = format!("https://127.0.0.1:{}/roots/0", self.management_port);
        let root = self.fetch(&url).expect("Pebble's issuing root");
        let path = self.dir.path().join("issuing-root.pem");
        std::fs::write(&path, root).expect("write root");
        path
    }

    /// Pebble's log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("pebble.log")).unwrap_or_default()
    }

    fn fetch(&self, url: &str) -> Option<String> {
        let output = Command::new("curl")
            .args(["-sf", "--max-time", "5", "--cacert"])
            .arg(&self.ca_file)
            .arg(url)
            .output()
            .ok()?;
        output.status.success().then(|| String::from_utf8_lossy(&output.stdout).into_owned())
    }
}

impl Drop for Pebble {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The certificate `127.0.0.1:port` serves for `name`, checked against `root`: its serial, or
/// `None` when the handshake fails or the chain does not verify.
pub fn served_serial(port: u16, name: &str, root: &std::path::Path) -> Option<String> {
    let connect = Command::new("openssl")
        .args(["s_client", "-connect", &format!("127.0.0.1:{port}"), "-servername", name, "-verify_return_error"])
        .args(["-verify_hostname", name, "-CAfile"])
        .arg(root)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !connect.status.success() {
        return None;
    }
    let mut x509 = Command::new("openssl")
        .args(["x509", "-noout", "-serial"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    std::io::Write::write_all(&mut x509.stdin.take()?, &connect.stdout).ok()?;
    let out = x509.wait_with_output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}
