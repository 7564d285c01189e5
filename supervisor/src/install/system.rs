//! What an install asks of the system beyond files: the cache's Debian package when neither
//! Redis nor Valkey is there (`apt-get install`, the package's own service then disabled: the
//! node runs its servers itself), the node's user (`useradd --system`) and systemd
//! (`daemon-reload`, `enable`, `restart`; `disable --now` to uninstall). Under `--root` none
//! of it runs: the commands are named instead.

use std::io::Write;
use std::process::Command;

use super::owners::Owners;
use super::target::{Target, UNIT_NAME};

/// The system an install changes.
pub struct System<'a> {
    target: &'a Target,
    user: String,
    has_user: bool,
    can_chown: bool,
    /// The Debian package to install first, if any.
    package: Option<&'static str>,
}

impl<'a> System<'a> {
    /// The system `target` is on, for a node run as `user`.
    pub fn new(target: &'a Target, user: &str, owners: &Owners) -> System<'a> {
        let (has_user, can_chown) = (owners.has_user(user), owners.can_chown());
        System { target, user: user.to_owned(), has_user, can_chown, package: None }
    }

    /// The same, installing the Debian `package` first.
    pub fn with_package(self, package: Option<&'static str>) -> System<'a> {
        System { package, ..self }
    }

    /// Names the commands a real install runs.
    pub fn print_commands(&self, out: &mut dyn Write) {
        let mut commands = Vec::new();
        if let Some(package) = self.package {
            commands.push("apt-get update".to_owned());
            commands.push(format!("apt-get install -y {package}"));
            commands.push(format!("systemctl disable --now {package}"));
        }
        if !self.has_user {
            commands.push(useradd_line(&self.user));
        }
        commands.push("systemctl daemon-reload".to_owned());
        commands.push(format!("systemctl enable {UNIT_NAME}"));
        commands.push(format!("systemctl restart {UNIT_NAME}"));
        let when = if self.target.is_system() { "would run" } else { "not run under --root" };
        for command in commands {
            let _ = writeln!(out, "{when:<22} {command}");
        }
    }

    /// Installs the Debian package the node needs, and stops the service it comes with (the
    /// node runs the servers itself, with its own configs).
    pub fn install_package(&self, out: &mut dyn Write) -> Result<(), String> {
        let Some(package) = self.package else { return Ok(()) };
        let _ = writeln!(out, "installing the {package} package (apt-get update, apt-get install)");
        run(Command::new("apt-get").arg("update").env("DEBIAN_FRONTEND", "noninteractive"))?;
        run(Command::new("apt-get").args(["install", "-y", package]).env("DEBIAN_FRONTEND", "noninteractive"))?;
        run(Command::new("systemctl").args(["disable", "--now", package]))?;
        let _ = writeln!(out, "installed the {package} package (its own service disabled: the node runs its servers)");
        Ok(())
    }

    /// Makes the node's system user when it is missing (not under `--root`, where the files
    /// keep the installer's user unless the named one exists).
    pub fn ensure_user(&self, out: &mut dyn Write) -> Result<(), String> {
        if self.has_user {
            return Ok(());
        }
        if !self.target.is_system() {
            if self.can_chown {
                let _ = writeln!(out, "note: user {} does not exist here; the files keep their owner", self.user);
            }
            return Ok(());
        }
        let data = self.target.data_dir();
        run(Command::new("useradd")
            .args(["--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", "--home-dir"])
            .arg(&data)
            .arg(&self.user))?;
        let _ = writeln!(out, "created the system user {}", self.user);
        Ok(())
    }

    /// Tells systemd: the unit (re)loaded, enabled, and restarted when anything changed.
    pub fn activate(&self, changed: bool, out: &mut dyn Write) -> Result<(), String> {
        if !self.target.is_system() {
            let _ = writeln!(
                out,
                "not started (--root): run `orama-supervisor --config {}` to start it from this tree",
                self.target.config_file().display()
            );
            return Ok(());
        }
        if !changed {
            return Ok(());
        }
        for args in [vec!["daemon-reload"], vec!["enable", UNIT_NAME], vec!["restart", UNIT_NAME]] {
            run(Command::new("systemctl").args(&args))?;
        }
        let _ = writeln!(out, "started {UNIT_NAME} (enabled at boot)");
        Ok(())
    }

    /// Stops and disables the unit (a real uninstall).
    pub fn deactivate(&self, out: &mut dyn Write) -> Result<(), String> {
        if !self.target.is_system() || !self.target.unit_file().exists() {
            return Ok(());
        }
        run(Command::new("systemctl").args(["disable", "--now", UNIT_NAME]))?;
        let _ = writeln!(out, "stopped and disabled {UNIT_NAME}");
        Ok(())
    }
}

fn useradd_line(user: &str) -> String {
    format!("useradd --system --user-group --no-create-home --shell /usr/sbin/nologin --home-dir /var/lib/orama {user}")
}

/// Runs `command`; its stderr in the error when it fails.
fn run(command: &mut Command) -> Result<(), String> {
    let shown = format!("{command:?}").replace('"', "");
    let output = command.output().map_err(|e| format!("{shown}: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!("{shown}: {}", String::from_utf8_lossy(&output.stderr).trim()))
    }
}
