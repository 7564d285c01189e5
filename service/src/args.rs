//! The command line every Orama process accepts, so the supervisor starts each the same way and
//! an operator can run any of them alone.

use std::path::PathBuf;

/// `--config FILE --data-dir DIR --runtime-dir DIR`, all optional.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ProcessArgs {
    /// The node config file (`orama.yaml`); without it every default applies.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The node's data directory.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// The directory holding the internal sockets.
    #[arg(long, value_name = "DIR")]
    pub runtime_dir: Option<PathBuf>,
}

impl ProcessArgs {
    /// The same arguments with every path made absolute, so a child started in another working
    /// directory reads the same files.
    pub fn absolute(&self) -> ProcessArgs {
        let absolute = |p: &Option<PathBuf>| p.as_ref().map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone()));
        ProcessArgs {
            config: absolute(&self.config),
            data_dir: absolute(&self.data_dir),
            runtime_dir: absolute(&self.runtime_dir),
        }
    }

    /// The arguments that reproduce `self` on a child's command line.
    pub fn to_argv(&self) -> Vec<std::ffi::OsString> {
        let mut argv = Vec::new();
        let pairs = [("--config", &self.config), ("--data-dir", &self.data_dir), ("--runtime-dir", &self.runtime_dir)];
        for (flag, value) in pairs {
            if let Some(value) = value {
                argv.push(flag.into());
                argv.push(value.clone().into_os_string());
            }
        }
        argv
    }
}
