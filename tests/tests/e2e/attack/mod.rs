//! Issue 13's attacks, each replayed by an ordinary tenant against a real node, each followed
//! by a check that other tenants are still served.
//!
//! - `sql`: results built to exhaust memory (peak RSS measured), statements built to overflow,
//!   panic or stall the parser, temporary tables, a namespace filling the shared store.
//! - `edge`: the route map behind 401, query-string credentials, IPv6 rate limits by /64, the
//!   wallet sign-in message and keys, `ctl apikey` on wallet-owned namespaces, directories.
//! - `storage`: uploads cut at the quota while streaming, unpinned and cut-off uploads counted,
//!   the disk floor.
//! - `functions`: a flood held to its namespace's share of the runner, invocation bodies past
//!   `max_input`, another tenant unpinning a function's module.
//! - `pubsub`: a stranger peer against a guarded network, directly and through a member;
//!   peering as an operator action; an exposed bridge without a key or a list refused.
//! - `triggers`: a function feeding its own trigger topic, held to the namespace's rate.
//! - `runner`: what a compromised WASM runner reaches (`probe-confinement`), on a node run by
//!   root and on one run by an ordinary user.

mod edge;
mod functions;
mod pubsub;
mod runner;
mod sql;
mod storage;
mod triggers;
