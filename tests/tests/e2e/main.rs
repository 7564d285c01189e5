//! End-to-end tests of the supervised node: real `orama-supervisor`, real `orama-gateway`, real
//! engines (redis, valkey, rqlited, js-ipfs, Pebble), real shell children, temp dirs and free
//! loopback ports.
//!
//! Index:
//! - `start`: dependency-ordered start of the gateway after redis; `ctl status --json`.
//! - `restart`: SIGKILLed gateway restarted with a fresh socket; crash-loop and its reset;
//!   a hung child restarted by its liveness probe.
//! - `auth`: API keys created with `ctl apikey`, read from every place the reference reads
//!   them, confined to their namespace, revoked at once, kept across gateway restarts.
//! - `ctl`: stop, start, restart, logs (also `-f`), and the one-line errors.
//! - `reload`: `ctl reload` restarts only the children whose settings changed; a broken or
//!   restart-only change changes nothing.
//! - `handoff`: the gateway's public socket held by the supervisor: ten restarts under load
//!   refuse and fail nothing; a SIGKILLed gateway's successor serves who connected meanwhile.
//! - `notify`: READY=1 once all children are ready, WATCHDOG=1, STOPPING=1; systemd's
//!   variables do not leak into children.
//! - `shutdown`: SIGTERM stops children in reverse order and leaves nothing; SIGKILL of the
//!   supervisor takes its children with it.
//! - `bodies`: strict JSON and multipart bodies on every route group; every documented
//!   request shape accepted.
//! - `wallet`: the wallet sign-in flow with a real secp256k1 key; the login page.
//! - `tls`, `acme`: HTTPS with a self-signed certificate; ACME against Pebble.
//! - `sql`: `/v1/rqlite/*` on the embedded engine and a supervised rqlited; tenant isolation.
//! - `cluster`: a dev cluster of three nodes (`dev up`): keys, tokens (and a rotation), wallet
//!   nonces, refresh tokens and SQL served by any node; content, cache and functions with
//!   their secrets across nodes; `dev status`, `dev down`, resuming; a 4th node joining by
//!   config; a stranger without the secret refused. `cluster_failure`: a node SIGKILLed under
//!   load, counting lost and duplicated writes.
//! - `cache`: `/v1/cache/*` in-process, on redis-server, a Redis Cluster and valkey-server.
//! - `storage`: `/v1/storage/*` on the embedded store and a supervised js-ipfs daemon.
//! - `functions`: `/v1/functions*` and `/v1/invoke/*` with Rust and WAT guests: versions,
//!   namespaces, host functions on redis and rqlited, egress rules, hostile guests, a flood,
//!   a killed runner, WebSocket invocations.
//! - `wasm`: the runner's own socket API under the supervisor.
//! - `pubsub`: WebSocket pub/sub across two and three nodes: exactly-once ordered delivery,
//!   presence across nodes, namespace isolation, large and empty messages, a killed bridge,
//!   a slow client cut off.
//! - `sdk`: the Rust SDK (`orama-client`): every sub-client's routes and errors, the ORM on
//!   both SQL engines, retries through a restarting engine, a dead gateway URL skipped, and
//!   subscriptions delivering across a killed bridge and a killed gateway.
//! - `anon`: `/v1/proxy/anon` through microsocks, dante and a confined tor to a local origin: bodies, headers stripped, redirects, caps, per-namespace limits, the SSRF
//!   refusals, an upstream down and back, credentials, tor's bootstrap report.
//! - `attack`: what an ordinary tenant may try against the node (issue 13), each followed by
//!   proof that the other tenants are still served.

mod acme;
mod anon;
mod attack;
mod auth;
mod bodies;
mod cache;
mod cluster;
mod cluster_failure;
mod cluster_grow;
mod cluster_strangers;
mod ctl;
mod functions;
mod functions_pubsub;
mod functions_storage;
mod functions_triggers;
mod handoff;
mod install;
mod install_cache;
mod journald;
mod notify;
mod operator;
mod pubsub;
mod reload;
mod restart;
mod sdk;
mod shutdown;
mod sql;
mod start;
mod storage;
mod storage_v1;
mod tls;
mod upgrade;
mod wallet;
mod wasm;
mod ws;

/// Quick probes, short grace, visible backoff.
macro_rules! supervisor_settings {
    () => {
        "
supervisor:
  grace_period: 2s
  startup_timeout: 10s
  backoff: { initial: 1s, max: 5s, reset_after: 1s }
  crashloop_after: 3
  probe: { interval: 100ms, timeout: 300ms, failure_threshold: 2 }
"
    };
}

/// The supervisor settings tests that write their own `pubsub` section use.
pub const SUPERVISOR_SETTINGS: &str = supervisor_settings!();

/// The settings every other test uses: the supervisor's, and the pub/sub bridge on a port of
/// its own.
pub const FAST_SUPERVISOR: &str = concat!(supervisor_settings!(), "pubsub: { listen: ['/ip4/127.0.0.1/tcp/0'] }\n");

/// For tests whose node runs only the gateway and the externals they name.
pub const FAST_SUPERVISOR_ALONE: &str = concat!(
    supervisor_settings!(),
    "wasm_runner: { enabled: false }\npubsub: { enabled: false }\nanon: { enabled: false }\n"
);

/// A config with the gateway on `gateway_port` depending on a redis-server on `redis_port`
/// (and no WASM runner or pub/sub bridge, so the children are exactly these two).
pub fn gateway_and_redis(gateway_port: u16, redis_port: u16) -> String {
    format!(
        "{FAST_SUPERVISOR_ALONE}
gateway:
  listen: 127.0.0.1:{gateway_port}
  depends_on: [redis]
externals:
  - name: redis
    command: redis-server
    args: [--port, '{redis_port}', --bind, 127.0.0.1, --save, '', --appendonly, 'no', --dir, '{{dir}}']
    health: {{ tcp: '127.0.0.1:{redis_port}' }}
"
    )
}

/// `GET path` on 127.0.0.1:`port` with a raw HTTP/1.1 request; returns status and body.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split(' ').nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    Some((status, body))
}

/// A namespace's API key on a node, posting to one API (`prefix`, e.g. `/v1/rqlite`).
pub struct Tenant {
    port: u16,
    prefix: &'static str,
    /// The header line carrying the key.
    pub header: String,
}

impl Tenant {
    /// Creates a key for `namespace` with `ctl apikey create`.
    pub fn new(node: &orama_e2e::Node, port: u16, namespace: &str, prefix: &'static str) -> Tenant {
        let key = auth::ctl_ok(node, &["apikey", "create", "--namespace", namespace]).trim().to_owned();
        Tenant { port, prefix, header: format!("X-API-Key: {key}\r\n") }
    }

    /// `POST <prefix>/<route>` with `body`.
    pub fn post(&self, route: &str, body: serde_json::Value) -> orama_e2e::Reply {
        orama_e2e::http(self.port, "POST", &format!("{}/{route}", self.prefix), &self.header, Some(&body))
    }

    /// Like [`Tenant::post`], asserting a 2xx; the reply's JSON.
    pub fn ok(&self, route: &str, body: serde_json::Value) -> serde_json::Value {
        let reply = self.post(route, body.clone());
        assert!((200..300).contains(&reply.status), "{route} {body}: {reply:?}");
        reply.json
    }
}
