//! The public HTTP front end: how a connection is served and which layers every request passes.
//!
//! Layers, outermost first (each a small module or a tower-http layer):
//! 1. request ID: `X-Request-ID` accepted or generated, echoed on the response;
//! 2. [`observe`]: one access-log event and the metrics of every request;
//! 3. [`errors`]: every error reply becomes `{"error": "..."}`, whoever produced it;
//! 4. CORS (tower-http), configured origins, the reference's methods and headers;
//! 5. [`limits`]: body size limit (413) and per-request timeout (503), per route;
//! 6. panic → 500 without killing the process;
//! 7. the warp routes (authentication, namespaces and rate limits live there); [`websocket`]
//!    hands the routes that speak WebSocket themselves their connection's upgrade.

pub mod client_ip;
pub mod errors;
pub mod limits;
pub mod metrics;
pub mod observe;
pub mod serve;
pub mod stack;
pub mod websocket;
