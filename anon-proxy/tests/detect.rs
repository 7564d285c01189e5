//! Finding an existing installation: of the usual SOCKS5 addresses, the first that answers a
//! real SOCKS5 server's handshake (microsocks here) is taken, and a request goes through it.

use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use orama_anon_proxy::target::TargetHost;
use orama_anon_proxy::upstream::SocksUpstream;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port")
}

#[tokio::test]
async fn the_first_usual_address_that_answers_is_used() {
    let (dead, live) = (free_addr(), free_addr());
    let child = Command::new("microsocks")
        .args(["-i", "127.0.0.1", "-p", &live.port().to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("microsocks (apt-get install microsocks)");
    let _socks = Killed(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(live).is_err() {
        assert!(Instant::now() < deadline, "microsocks did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let upstream = SocksUpstream::new(None, vec![dead, live], None, true);
    assert_eq!(upstream.server(), dead, "the first candidate is assumed until one answers");
    assert_eq!(upstream.check().await.expect("found"), live);
    assert_eq!(upstream.server(), live);

    let origin = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("origin");
    let port = origin.local_addr().expect("addr").port();
    tokio::spawn(async move {
        if let Ok((mut stream, _)) = origin.accept().await {
            let _ = stream.write_all(b"hello through socks").await;
        }
    });
    let host = TargetHost::Ip("127.0.0.1".parse().expect("ip"));
    let mut stream = upstream.dial("alpha", &host, port).await.expect("dial through microsocks");
    let mut got = String::new();
    stream.read_to_string(&mut got).await.expect("read");
    assert_eq!(got, "hello through socks");

    let configured = SocksUpstream::new(Some(dead), vec![live], None, true);
    assert!(configured.check().await.is_err(), "a configured address is never swapped for another");
}
