//! The public HTTP front end: how a connection is served, which layers every request passes,
//! and what every API shares below its routes: reading bodies ([`body`]), the one path from an
//! error to a reply ([`error`]), rate limits ([`rate_limit`]) and the reference's wire
//! formats ([`wire`]), shared state for routes ([`state`]). Nothing here imports an API.
//!
//! Layers, outermost first (each a small module or a tower-http layer):
//! 1. [`front`]: oversized heads refused (431); `X-Request-ID` accepted or generated and
//!    echoed; every error reply made `{"error": "..."}`, whoever produced it; [`observe`]d:
//!    one access-log event and the metrics of every request;
//! 2. [`cors`]: tower-http's CORS for requests with an `Origin` and preflights, its headers
//!    worked out once for the rest; configured origins, the reference's methods and headers;
//! 5. [`limits`]: body size limit (413) and per-request timeout (503), per route;
//! 6. [`guard`]: panic → 500 without killing the process, the routes' body boxed once;
//! 7. the warp routes (authentication, namespaces and rate limits live there); [`websocket`]
//!    hands the routes that speak WebSocket themselves their connection's upgrade.

pub mod allowance;
pub mod body;
pub mod client_ip;
pub mod cors;
pub mod error;
pub mod front;
pub mod guard;
pub mod head_timer;
pub mod history;
pub mod labels;
pub mod limits;
pub mod metrics;
pub mod observe;
pub mod rate_limit;
pub mod request_metrics;
pub mod serve;
pub mod stack;
pub mod state;
pub mod websocket;
pub mod wire;
