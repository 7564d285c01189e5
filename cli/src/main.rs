//! `orama`: see [`orama_cli`].

fn main() -> std::process::ExitCode {
    orama_cli::main(std::env::args_os())
}
