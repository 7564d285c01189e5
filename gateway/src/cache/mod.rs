//! The cache API (`/v1/cache/*`, REFERENCE-API §4.5) over one [`CacheStore`] trait with three
//! engines: in-process ([`memory`], the default), Redis/Valkey ([`redis`]) and Olric
//! ([`olric`], its RESP `DM.*` commands). Every dmap belongs to a namespace ([`Dmap`]): the
//! engines only ever see names scoped by it, so tenants cannot collide or reach each other.
//! Values are stored as their JSON text, so they come back exactly as they were put.

mod engine;
pub mod handlers;
pub mod memory;
pub mod olric;
pub mod redis;
mod replies;
pub mod service;

pub use engine::{CacheError, CacheFuture, CacheStore, Dmap, MAX_SCAN_KEYS};

use std::sync::Arc;

use orama_service::config::{CacheBackendConfig, CacheEngine, CacheTlsConfig};

/// The engine `config` names. Remote engines connect lazily and reconnect on their own.
pub fn open(config: &CacheBackendConfig) -> Result<Arc<dyn CacheStore>, CacheError> {
    let url = config.urls.first().cloned().unwrap_or_default();
    let tls = config.tls.as_ref().map(certificates).transpose()?;
    let link = redis::LinkSettings { timeout: config.timeout, tls };
    Ok(match config.engine {
        CacheEngine::Memory => Arc::new(memory::MemoryCache::new(config.max_memory)),
        CacheEngine::Redis if config.cluster => Arc::new(redis::RedisCache::cluster(&config.urls, link)?),
        CacheEngine::Redis => Arc::new(redis::RedisCache::new(&url, link)?),
        CacheEngine::Olric => Arc::new(olric::OlricCache::new(&url, link)?),
    })
}

/// The PEM files `backends.cache.tls` names, read.
fn certificates(tls: &CacheTlsConfig) -> Result<::redis::TlsCertificates, CacheError> {
    let read = |path: &std::path::Path| {
        std::fs::read(path).map_err(|e| CacheError::Engine(format!("backends.cache.tls: {}: {e}", path.display())))
    };
    let client_tls = match (&tls.certificate_file, &tls.key_file) {
        (Some(certificate), Some(key)) => {
            Some(::redis::ClientTlsConfig { client_cert: read(certificate)?, client_key: read(key)? })
        }
        _ => None,
    };
    Ok(::redis::TlsCertificates { client_tls, root_cert: Some(read(&tls.ca_file)?) })
}
