//! A Kubo-compatible IPFS node for tests: the js-ipfs daemon from npm (`ORAMA_JSIPFS` names
//! the directory holding its `node_modules`, installed by `scripts/test`), with a repo in a
//! temp dir whose API, gateway and RPC listen on free loopback ports and whose swarm, bootstrap
//! and discovery are off, so it never dials out. The caller runs the daemon (usually as a
//! supervised external) with [`IpfsRepo::daemon_command`] and [`IpfsRepo::env`].

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::process::free_port;

/// An initialized js-ipfs repo.
pub struct IpfsRepo {
    /// The repo directory (`IPFS_PATH`).
    pub path: PathBuf,
    /// The RPC API port.
    pub api_port: u16,
    polyfill: PathBuf,
    bin: PathBuf,
}

impl IpfsRepo {
    /// Initializes a repo in `dir/ipfs` configured for loopback only.
    pub fn init(dir: &Path) -> IpfsRepo {
        let install = std::env::var("ORAMA_JSIPFS").expect("ORAMA_JSIPFS (set by scripts/test)");
        let bin = Path::new(&install).join("node_modules/.bin/jsipfs");
        let polyfill = dir.join("polyfill.cjs");
        std::fs::write(
            &polyfill,
            "if (!Promise.withResolvers) Promise.withResolvers = function () { let resolve, reject;\n\
             const promise = new Promise((a, b) => { resolve = a; reject = b; }); return { promise, resolve, reject }; };\n",
        )
        .expect("polyfill");
        let repo = IpfsRepo { path: dir.join("ipfs"), api_port: free_port(), polyfill, bin };
        let init =
            Command::new(&repo.bin).args(["init", "--profile", "test"]).envs(repo.env()).output().expect("jsipfs init");
        assert!(init.status.success(), "jsipfs init: {}", String::from_utf8_lossy(&init.stderr));
        let (gateway, rpc) = (free_port(), free_port());
        let script = format!(
            "const fs=require('fs'),p=process.env.IPFS_PATH+'/config',c=JSON.parse(fs.readFileSync(p));\
             c.Addresses={{Swarm:[],API:'/ip4/127.0.0.1/tcp/{}',Gateway:'/ip4/127.0.0.1/tcp/{gateway}',RPC:'/ip4/127.0.0.1/tcp/{rpc}',Delegates:[]}};\
             c.Bootstrap=[];c.Discovery={{MDNS:{{Enabled:false}},webRTCStar:{{Enabled:false}}}};fs.writeFileSync(p,JSON.stringify(c,null,2));",
            repo.api_port
        );
        let edit = Command::new("node").args(["-e", &script]).envs(repo.env()).output().expect("node");
        assert!(edit.status.success(), "config edit: {}", String::from_utf8_lossy(&edit.stderr));
        repo
    }

    /// The environment the daemon needs.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("IPFS_PATH".into(), self.path.display().to_string()),
            ("NODE_OPTIONS".into(), format!("--require {}", self.polyfill.display())),
        ]
    }

    /// The supervisor's `externals` entry running the daemon as `ipfs`.
    pub fn external(&self) -> String {
        let (program, args) = self.daemon_command();
        let env: String = self.env().iter().map(|(k, v)| format!("{k}: '{v}', ")).collect();
        format!(
            "  - name: ipfs\n    command: {program}\n    args: {args:?}\n    env: {{ {env} }}\n    health: {{ tcp: '127.0.0.1:{}' }}\n",
            self.api_port
        )
    }

    /// A node config: `prelude` (supervisor settings), a gateway on `port` storing on this
    /// repo's daemon, which the supervisor runs as the `ipfs` external.
    pub fn node_config(&self, prelude: &str, port: u16) -> String {
        format!(
            "{prelude}
gateway: {{ listen: '127.0.0.1:{port}', depends_on: [ipfs] }}
backends:
  storage: {{ engine: ipfs, api_url: 'http://127.0.0.1:{api}', timeout: 10s }}
externals:
{external}",
            api = self.api_port,
            external = self.external()
        )
    }

    /// The CID js-ipfs gives `file` with `add --only-hash --cid-version <version>` (base32 for
    /// CIDv1), computed offline by its command line: an independent implementation of the DAG.
    pub fn only_hash(&self, file: &Path, cid_version: u8) -> String {
        let output = Command::new(&self.bin)
            .args(["add", "--only-hash", "-q", "--progress", "false", "--cid-base", "base32"])
            .arg(format!("--cid-version={cid_version}"))
            .arg(file)
            .envs(self.env())
            .output()
            .expect("jsipfs add");
        assert!(output.status.success(), "jsipfs add: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// The daemon's program and arguments. js-ipfs leaves its repo lock behind when killed
    /// and then refuses to start (Kubo's lock dies with the process), so the command clears a
    /// stale lock first: only one daemon ever runs per repo here, under one supervisor.
    pub fn daemon_command(&self) -> (String, Vec<String>) {
        let script = format!("rm -rf \"$IPFS_PATH/repo.lock\"; exec '{}' daemon", self.bin.display());
        ("sh".into(), vec!["-c".into(), script])
    }
}

/// Writes `dir/ipfs`: Kubo's command line over js-ipfs, for `install --ipfs`, which runs
/// `ipfs init`, edits the repo's config and runs `ipfs daemon` as it would Kubo's. `daemon`
/// runs the launcher a dev cluster in `cluster_dir` wrote (js-ipfs with a private-network
/// protector reading the repo's `swarm.key`, which Kubo honours by itself); the rest goes to
/// `jsipfs`. Returns its path.
pub fn kubo_shim(dir: &Path, cluster_dir: &Path) -> PathBuf {
    let install = std::env::var("ORAMA_JSIPFS").expect("ORAMA_JSIPFS (set by scripts/test)");
    let modules = Path::new(&install).join("node_modules");
    let script = format!(
        "#!/bin/sh\n\
         export NODE_OPTIONS=\"--require {cluster}/jsipfs-polyfill.cjs\"\n\
         export ORAMA_JSIPFS_MODULES='{modules}' ORAMA_SWARM_KEY=\"$IPFS_PATH/swarm.key\"\n\
         case \"$1\" in\n\
         \x20 daemon) rm -rf \"$IPFS_PATH/repo.lock\"; exec node '{cluster}/jsipfs-launcher.mjs' ;;\n\
         \x20 *) exec '{modules}/.bin/jsipfs' \"$@\" ;;\n\
         esac\n",
        cluster = cluster_dir.display(),
        modules = modules.display(),
    );
    let path = dir.join("ipfs");
    std::fs::write(&path, script).expect("write the ipfs shim");
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod the ipfs shim");
    path
}
