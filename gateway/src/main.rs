//! `orama-gateway`: loads the node config, binds its listeners and hands over to the library.

use std::process::ExitCode;

use clap::Parser;
use orama_service::args::ProcessArgs;
use orama_service::config::NodeConfig;
use orama_service::listen_fds::{HTTP_SOCKET, Inherited, PUBLIC_SOCKET};

/// mimalloc: the request path allocates and frees many small objects across threads, which
/// glibc's allocator serves noticeably slower (about a tenth of CPU time under load).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The public HTTP API of an Orama node (normally started by `orama-supervisor`).
#[derive(Debug, Parser)]
#[command(name = "orama-gateway", version)]
struct Cli {
    #[command(flatten)]
    process: ProcessArgs,
}

fn main() -> ExitCode {
    let args = Cli::parse().process;
    // Before any thread: the sockets the supervisor (or systemd) handed over.
    let inherited = orama_service::listen_fds::take();
    // One crypto provider for every TLS use in the process.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let config = match NodeConfig::load_or_default(args.config.as_deref()) {
        Ok(config) => config,
        Err(err) => return fail(&err.to_string()),
    };
    // One worker: one thread serves everything, with no cross-thread hand-offs to pay for.
    let mut runtime = match config.gateway.worker_threads {
        1 => tokio::runtime::Builder::new_current_thread(),
        _ => tokio::runtime::Builder::new_multi_thread(),
    };
    if config.gateway.worker_threads > 1 {
        runtime.worker_threads(config.gateway.worker_threads);
    }
    match runtime.enable_all().build() {
        Ok(runtime) => runtime.block_on(serve(args, config, inherited)),
        Err(err) => fail(&format!("cannot start the async runtime: {err}")),
    }
}

async fn serve(args: ProcessArgs, config: NodeConfig, mut inherited: Inherited) -> ExitCode {
    let (started, internal) = match orama_service::process::start("gateway", &args, &config) {
        Ok(started) => started,
        Err(err) => return fail(&err),
    };
    let listen = config.gateway.listen;
    let public = match inherited.take_tcp(PUBLIC_SOCKET, listen) {
        Some(handed) => tokio::net::TcpListener::from_std(handed),
        None => tokio::net::TcpListener::bind(listen).await,
    };
    let plain_http = config.gateway.tls.http_listen.and_then(|address| inherited.take_tcp(HTTP_SOCKET, address));
    let public = match public {
        Ok(listener) => listener,
        Err(err) => return started.finish(Err(format!("cannot listen on {}: {err}", config.gateway.listen))),
    };
    let runtime_dir = &started.dirs.runtime_dir;
    let host_calls = match host_calls_listener(runtime_dir) {
        Ok(listener) => listener,
        Err(err) => return started.finish(Err(err)),
    };
    let paths = orama_gateway::GatewayPaths {
        data_dir: started.dirs.process_data("gateway"),
        runner_socket: started.dirs.socket("wasm-runner"),
        bridge_socket: started.dirs.socket("pubsub-bridge"),
        anon_socket: started.dirs.socket("anon-proxy"),
        host_calls_dir: orama_ipc::socket::host_calls_dir(runtime_dir),
        cluster_secret: started.dirs.cluster_secret(&config.node),
        supervisor_socket: started.dirs.socket("supervisor"),
    };
    let listeners = orama_gateway::Listeners { public, internal, host_calls, plain_http };
    let outcome =
        orama_gateway::run(&config, &paths, listeners, started.settings.clone(), started.shutdown.clone()).await;
    started.finish(outcome)
}

/// The host-call socket: in its own directory (which the runner may own: it is reached only
/// through that directory), open to whoever can enter the directory.
fn host_calls_listener(runtime_dir: &std::path::Path) -> Result<tokio::net::UnixListener, String> {
    use std::os::unix::fs::PermissionsExt;
    let path = orama_service::process::socket_to_bind(&orama_ipc::socket::host_calls_socket(runtime_dir));
    let listener = orama_ipc::bind(&path).map_err(|e| format!("host-call socket: {e}"))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666))
        .map_err(|e| format!("host-call socket {}: {e}", path.display()))?;
    Ok(listener)
}

fn fail(message: &str) -> ExitCode {
    orama_service::process::fail("gateway", message)
}
