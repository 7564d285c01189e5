//! The protocol-version handshake every internal exchange carries: a server refuses a request
//! that announces another version, so processes of two builds never misread each other.

/// Name of the header carrying the internal protocol version on requests and responses.
pub const VERSION_HEADER: &str = "x-orama-ipc-version";

/// The internal protocol version spoken by this build. Bumped on any incompatible change to
/// an internal API; a server refuses requests that announce another version.
pub const PROTOCOL_VERSION: u32 = 1;
