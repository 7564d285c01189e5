//! Issue 13's attacks, each replayed by an ordinary tenant against a real node, each followed
//! by a check that other tenants are still served.
//!
//! - `sql`: results built to exhaust memory (peak RSS measured), statements built to overflow,
//!   panic or stall the parser, temporary tables, a namespace filling the shared store.

mod sql;
