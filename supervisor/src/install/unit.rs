//! The systemd unit of an installed node. The supervisor notifies readiness (`Type=notify`)
//! and pings the watchdog; systemd makes its state, runtime and log directories for the node's
//! user; `check-config` runs before every start, so a bad edit is named in `systemctl status`
//! rather than a crash loop. Hardened as far as the node allows: no new privileges, the system
//! read-only but for the node's directories, only the capability to bind ports 80 and 443, a
//! system-service syscall filter; not `MemoryDenyWriteExecute`, which would stop wasmtime's
//! compiler.

use std::path::Path;

/// The unit for a node run as `user` by `supervisor` with the config at `config`.
pub fn unit_text(supervisor: &Path, config: &Path, user: &str) -> String {
    let (supervisor, config) = (supervisor.display(), config.display());
    format!(
        "# Written by `orama-supervisor install`; `orama-supervisor uninstall` removes it.
[Unit]
Description=Orama Network node
After=network-online.target
Wants=network-online.target

[Service]
Type=notify
NotifyAccess=main
User={user}
Group={user}
ExecStartPre={supervisor} check-config {config}
ExecStart={supervisor} --config {config}
# The children whose settings changed restart (the gateway without dropping a connection).
ExecReload={supervisor} ctl --config {config} reload
StateDirectory=orama
StateDirectoryMode=0700
RuntimeDirectory=orama
RuntimeDirectoryMode=0700
LogsDirectory=orama
LogsDirectoryMode=0750
Restart=on-failure
RestartSec=2s
WatchdogSec=30s
TimeoutStartSec=120s
TimeoutStopSec=60s
# The supervisor stops its children in order; systemd then kills whatever is left.
KillMode=mixed
AmbientCapabilities=CAP_NET_BIND_SERVICE
CapabilityBoundingSet=CAP_NET_BIND_SERVICE
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictSUIDSGID=yes
RestrictRealtime=yes
LockPersonality=yes
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallErrorNumber=EPERM
LimitNOFILE=65536
# Not MemoryDenyWriteExecute=: wasmtime's compiler writes code, then runs it.

[Install]
WantedBy=multi-user.target
"
    )
}
