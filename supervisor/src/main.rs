//! `orama-supervisor`: parses the command line and hands over to the library.

use std::process::ExitCode;

use clap::Parser;
use orama_service::args::ProcessArgs;
use orama_service::config::NodeConfig;
use orama_service::paths::Dirs;
use orama_service::telemetry::{self, LogSink};
use orama_supervisor::cli::{Cli, Command};
use orama_supervisor::forward::Sink;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Before any thread: the sockets systemd handed over (socket activation), and after a
    // re-exec (`ctl upgrade`) the previous image's sockets and children.
    let inherited = orama_supervisor::reexec::take();
    orama_supervisor::reexec::remember_own_path();
    // One thread: children's PR_SET_PDEATHSIG is tied to the thread that forked them, and this
    // one lives as long as the process (see `process`).
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => return fail(&format!("cannot start the async runtime: {err}")),
    };
    match cli.command {
        None => runtime.block_on(run_node(cli.process, inherited)),
        Some(Command::Dev { command }) => match runtime.block_on(orama_supervisor::dev::run(command)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => fail(&err),
        },
        Some(Command::Install(args)) => match orama_supervisor::install::install(&args, &mut std::io::stdout()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => fail(&err),
        },
        Some(Command::Uninstall(args)) => match orama_supervisor::install::uninstall(&args, &mut std::io::stdout()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => fail(&err),
        },
        Some(Command::CacheMember(args)) => match orama_supervisor::cache_member::run(&args) {
            Ok(never) => match never {},
            Err(err) => fail(&err),
        },
        Some(Command::IpfsDaemon(args)) => match orama_supervisor::ipfs_daemon::run(&args) {
            Ok(never) => match never {},
            Err(err) => fail(&err),
        },
        Some(Command::CheckConfig { file }) => match orama_supervisor::check::check_config(&file) {
            Ok(summary) => {
                println!("{summary}");
                ExitCode::SUCCESS
            }
            Err(problems) => fail(&problems),
        },
        Some(Command::Ctl { runtime_dir, data_dir, config, command }) => {
            let args = ProcessArgs {
                config: config.or(cli.process.config),
                runtime_dir: runtime_dir.or(cli.process.runtime_dir),
                data_dir: data_dir.or(cli.process.data_dir),
            };
            let (config, dirs) = match load(&args) {
                Ok(loaded) => loaded,
                Err(message) => return fail(&message),
            };
            let ready_timeout = orama_supervisor::ready::default_timeout(&config.supervisor);
            match runtime.block_on(orama_supervisor::ctl::run(&dirs.runtime_dir, ready_timeout, command)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(err) => fail(&err.to_string()),
            }
        }
    }
}

async fn run_node(args: ProcessArgs, inherited: orama_supervisor::reexec::Inheritance) -> ExitCode {
    let (config, dirs) = match load(&args) {
        Ok(loaded) => loaded,
        Err(message) => return fail(&message),
    };
    let telemetry = telemetry::init("supervisor", &config.log);
    // Children's lines go to the journal when it is asked for, even if this process's own
    // logger could not reach it (a journal given by ORAMA_JOURNAL_SOCKET, as tests run one).
    let journal_given = std::env::var_os("ORAMA_JOURNAL_SOCKET").is_some();
    let sink = match telemetry.sink {
        LogSink::Journald => Sink::journald(),
        _ if journal_given && telemetry::wants_journald(&config.log) => Sink::journald(),
        LogSink::JsonStderr => Sink::JsonStderr,
        LogSink::TextStderr => Sink::TextStderr { colour: orama_supervisor::log_text::stderr_in_colour() },
    };
    // SIGHUP reloads the config (see `reload`): only SIGTERM and SIGINT stop the node.
    let shutdown = match orama_service::shutdown::on_termination_signals() {
        Ok(token) => token,
        Err(err) => return fail(&format!("cannot install signal handlers: {err}")),
    };
    let outcome = orama_supervisor::run(config, dirs, args, inherited, sink, telemetry.level.clone(), shutdown).await;
    let _keep_logging_until_here = &telemetry;
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "supervisor failed");
            fail(&err.to_string())
        }
    }
}

fn load(args: &ProcessArgs) -> Result<(NodeConfig, Dirs), String> {
    let config = NodeConfig::load_or_default(args.config.as_deref()).map_err(|e| e.to_string())?;
    let dirs = Dirs::resolve(args, &config.node).map_err(|e| e.to_string())?;
    Ok((config, dirs))
}

fn fail(message: &str) -> ExitCode {
    eprintln!("orama-supervisor: {message}");
    ExitCode::FAILURE
}
