//! Function triggers (beyond the reference, as Spin and wasmCloud have them): a function
//! deployed with `triggers` runs on each message of a pub/sub topic of its namespace (its
//! input the reference's message envelope) and on cron schedules (five fields, UTC), once per
//! message and per tick across the whole cluster.
//!
//! [`definition`] parses what a deploy declares, [`cron`] reads schedules, [`store`] keeps the
//! triggers and claims each event in the system store, and [`scheduler`] is each node's
//! engine that follows topics, ticks, claims and runs.

pub mod cron;
pub mod definition;
pub mod scheduler;
pub mod store;
