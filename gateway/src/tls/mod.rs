//! HTTPS for the public listener: rustls (TLS 1.2 and 1.3, HTTP/2 and HTTP/1.1 by ALPN) with the
//! certificate behind a resolver that can be swapped while serving, so a renewed certificate
//! takes effect without a restart. Certificates come from PEM files, from an ACME CA
//! ([`acme`], kept current by [`renewal`]) or, for development, a self-signed one generated
//! once and kept in the data dir.

pub mod acme;
pub mod acme_http;
mod certificate;
pub mod companions;
pub mod redirect;
pub mod renewal;
mod setup;
pub mod store;

pub use certificate::{LiveCertificate, TlsError, certified_key};
pub use setup::{AcmeRenewal, Tls, setup};
