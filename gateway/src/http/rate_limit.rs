//! Token-bucket rate limits: one bucket per API key (or JWT subject) for authenticated calls,
//! one per client address for failed authentications and the public auth handshake, so neither
//! a busy tenant nor a key-guessing client can take the gateway from everyone else.
//! Refusals are 429 with `Retry-After`; every limited reply carries `RateLimit-*` headers.
//! The quotas change while the gateway runs (`ctl reload`): new quotas start with full buckets.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use arc_swap::ArcSwap;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::{StateInformationMiddleware, StateSnapshot};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use orama_service::config::{RateLimitsConfig, RateQuota};

use super::allowance::Allowance;
use super::error::ApiError;

type Keyed<K> = RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock, StateInformationMiddleware>;

/// Who a bucket belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Caller {
    /// An API key, by id.
    Key(i64),
    /// A JWT subject within its namespace.
    Subject(Arc<str>),
}

/// The gateway's buckets (clones share them).
#[derive(Clone)]
pub struct RateLimits {
    buckets: Arc<ArcSwap<Buckets>>,
}

/// The buckets of one set of quotas.
struct Buckets {
    per_key: Option<Keyed<Caller>>,
    per_ip: Option<Keyed<IpAddr>>,
    quotas: RateLimitsConfig,
}

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimits").field("quotas", &self.buckets.load().quotas).finish_non_exhaustive()
    }
}

impl RateLimits {
    /// Buckets with the configured quotas.
    pub fn new(config: &RateLimitsConfig) -> RateLimits {
        RateLimits { buckets: Arc::new(ArcSwap::from_pointee(Buckets::new(config))) }
    }

    /// Applies `config`'s quotas from now on, with full buckets; nothing when they are the
    /// quotas in force.
    pub fn set_quotas(&self, config: &RateLimitsConfig) {
        if self.buckets.load().quotas != *config {
            self.buckets.store(Arc::new(Buckets::new(config)));
            tracing::info!(per_key = ?config.per_key, per_ip = ?config.per_ip, "rate limits changed");
        }
    }

    /// Charges one request to `caller`'s bucket.
    pub fn charge_caller(&self, caller: &Caller) -> Result<Option<Allowance>, ApiError> {
        let buckets = self.buckets.load();
        match (&buckets.per_key, buckets.quotas.per_key) {
            (Some(limiter), Some(q)) => outcome(limiter.check_key(caller), q).map(Some),
            _ => Ok(None),
        }
    }

    /// Charges one request to the bucket of client address `ip` (its /64 for IPv6).
    pub fn charge_ip(&self, ip: IpAddr) -> Result<Option<Allowance>, ApiError> {
        let buckets = self.buckets.load();
        match (&buckets.per_ip, buckets.quotas.per_ip) {
            (Some(limiter), Some(q)) => outcome(limiter.check_key(&client_bucket(ip)), q).map(Some),
            _ => Ok(None),
        }
    }

    /// Forgets buckets that are full again (run now and then to bound memory).
    pub fn forget_idle(&self) {
        let buckets = self.buckets.load();
        if let Some(l) = &buckets.per_key {
            l.retain_recent();
            l.shrink_to_fit();
        }
        if let Some(l) = &buckets.per_ip {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }
}

impl Buckets {
    fn new(config: &RateLimitsConfig) -> Buckets {
        Buckets {
            per_key: config.per_key.map(|q| RateLimiter::keyed(quota(q)).with_middleware()),
            per_ip: config.per_ip.map(|q| RateLimiter::keyed(quota(q)).with_middleware()),
            quotas: config.clone(),
        }
    }
}

/// The bucket of a client address: an IPv4 address is one client; an IPv6 client is its /64,
/// since one subscriber usually holds a whole /64 and could otherwise take a fresh bucket for
/// every request. IPv4-mapped IPv6 addresses count as their IPv4 address.
pub fn client_bucket(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        },
    }
}

fn quota(q: RateQuota) -> Quota {
    let per_second = NonZeroU32::new(q.per_second).unwrap_or(NonZeroU32::MIN);
    Quota::per_second(per_second).allow_burst(NonZeroU32::new(q.burst).unwrap_or(per_second))
}

fn outcome(
    result: Result<StateSnapshot, governor::NotUntil<<DefaultClock as Clock>::Instant>>,
    q: RateQuota,
) -> Result<Allowance, ApiError> {
    match result {
        Ok(snapshot) => {
            let remaining = snapshot.remaining_burst_capacity();
            let reset_secs = u64::from(q.burst.saturating_sub(remaining)).div_ceil(u64::from(q.per_second.max(1)));
            Ok(Allowance { limit: q.burst, remaining, reset_secs })
        }
        Err(not_until) => {
            metrics::counter!("orama_http_rate_limited_total").increment(1);
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            Err(ApiError::RateLimited { retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64, limit: q.burst })
        }
    }
}

/// Drops full rate-limit buckets every minute so their memory stays bounded, and applies the
/// quotas of each reloaded config.
pub async fn keep_buckets(
    limits: RateLimits,
    mut settings: orama_service::live::LiveSettings,
    shutdown: tokio_util::sync::CancellationToken,
) {
    let mut forget = tokio::time::interval(std::time::Duration::from_secs(60));
    forget.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = forget.tick() => limits.forget_idle(),
            Some(config) = settings.changed() => limits.set_quotas(&config.gateway.rate_limits),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_client_is_its_slash_64() {
        let ip = |s: &str| s.parse::<IpAddr>().expect("address");
        assert_eq!(client_bucket(ip("2001:db8:1:2:aaaa::1")), client_bucket(ip("2001:db8:1:2:ffff::9")));
        assert_ne!(client_bucket(ip("2001:db8:1:2::1")), client_bucket(ip("2001:db8:1:3::1")));
        assert_eq!(client_bucket(ip("::ffff:192.0.2.7")), ip("192.0.2.7"));
        assert_eq!(client_bucket(ip("192.0.2.7")), ip("192.0.2.7"));
    }

    #[test]
    fn buckets_refuse_past_their_burst_and_are_separate() {
        let limits =
            RateLimits::new(&RateLimitsConfig { per_key: Some(RateQuota { per_second: 1, burst: 3 }), per_ip: None });
        let first = limits.charge_caller(&Caller::Key(1)).expect("allowed").expect("limited");
        assert_eq!((first.limit, first.remaining), (3, 2));
        limits.charge_caller(&Caller::Key(1)).expect("second");
        limits.charge_caller(&Caller::Key(1)).expect("third");
        let refused = limits.charge_caller(&Caller::Key(1)).expect_err("fourth");
        assert!(matches!(refused, ApiError::RateLimited { retry_after_secs: 1, limit: 3 }), "{refused:?}");
        assert!(limits.charge_caller(&Caller::Key(2)).is_ok(), "another key has its own bucket");
        assert_eq!(limits.charge_ip("10.0.0.1".parse().expect("ip")).expect("off"), None);
    }

    #[test]
    fn new_quotas_apply_to_every_clone_with_full_buckets() {
        let one = |burst| RateLimitsConfig { per_key: Some(RateQuota { per_second: 1, burst }), per_ip: None };
        let limits = RateLimits::new(&one(1));
        let shared = limits.clone();
        limits.charge_caller(&Caller::Key(1)).expect("first");
        assert!(shared.charge_caller(&Caller::Key(1)).is_err(), "the clone shares the bucket");
        limits.set_quotas(&one(5));
        let after = shared.charge_caller(&Caller::Key(1)).expect("a fresh bucket").expect("limited");
        assert_eq!((after.limit, after.remaining), (5, 4));
        limits.set_quotas(&RateLimitsConfig { per_key: None, per_ip: None });
        assert_eq!(shared.charge_caller(&Caller::Key(1)).expect("off"), None);
    }
}
