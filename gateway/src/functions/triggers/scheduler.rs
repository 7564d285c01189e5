//! Each node's trigger engine. It reads the armed triggers from the store (every few seconds,
//! and at once after a deploy or delete here), follows each triggered topic through its own
//! stream from the pub/sub bridge, and ticks each minute for cron triggers. Every node sees
//! every message and every tick; [`TriggerStore::claim`] lets exactly one of them run it.
//! A run is an ordinary invocation (records, logs, retries, DLQ, limits), with trigger type
//! `pubsub` or `cron`.
//!
//! What a tenant can make a node do is bounded: at most [`IN_FLIGHT`] runs of one trigger at
//! once per node, at most [`WAITING`] of its messages waiting for one, and at most
//! [`RUNS_PER_SECOND`] runs per namespace per node (bursts of [`BURST`]). An event past these
//! is dropped on this node (counted in `orama_function_trigger_events_dropped_total`), and
//! another node may still claim it. So a function publishing to its own trigger topic loops
//! at that pace, no faster. Deploys hold a namespace to [`super::definition::MAX_NAMESPACE_TRIGGERS`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::sync::{Semaphore, watch};
use tokio_util::sync::CancellationToken;

use super::cron::Schedule;
use super::definition::{Trigger, TriggerWatch};
use super::store::{Armed, TriggerStore};
use crate::functions::invoke::InvokeRequest;
use crate::functions::service::{Functions, uuid_v4};
use crate::pubsub::bridge::Bridge;

/// Runs of one trigger in flight at once on one node.
pub const IN_FLIGHT: usize = 4;
/// Messages of one trigger waiting for a run on one node.
pub const WAITING: usize = 256;
/// Trigger runs per second one namespace may start on one node, and its burst.
pub const RUNS_PER_SECOND: f64 = 50.0;
/// See [`RUNS_PER_SECOND`].
pub const BURST: f64 = 100.0;
/// How often the armed triggers are read again without a poke.
const REFRESH: Duration = Duration::from_secs(5);
/// Runs older than this are forgotten (each trigger's latest is kept).
const KEEP_RUNS: Duration = Duration::from_secs(24 * 3600);

/// The environment variable that makes every second a cron minute. For tests only: it lets
/// a test see a minute's schedule fire several times in seconds. Never set it in production.
pub const TEST_ONLY_CRON_SECONDS: &str = "ORAMA_TEST_ONLY_CRON_SECONDS";

/// What the engine needs.
#[derive(Clone)]
pub struct Scheduler {
    /// The triggers' tables.
    pub store: TriggerStore,
    /// Invocations.
    pub functions: Functions,
    /// The pub/sub bridge, for topic streams.
    pub bridge: Bridge,
    /// This node's view, shared with the routes.
    pub watch: TriggerWatch,
    /// Whether a cron minute lasts a second ([`TEST_ONLY_CRON_SECONDS`]).
    pub seconds_as_minutes: bool,
}

/// A trigger's runs in flight and messages waiting.
#[derive(Clone)]
struct Lanes {
    running: Arc<Semaphore>,
    waiting: Arc<Semaphore>,
}

/// Each trigger's lanes, and each namespace's run budget (tokens, when last filled).
#[derive(Clone, Default)]
struct Limits {
    lanes: Arc<Mutex<HashMap<Armed, Lanes>>>,
    budgets: Arc<Mutex<HashMap<String, (f64, std::time::Instant)>>>,
}

impl Scheduler {
    /// Runs until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        if self.seconds_as_minutes {
            tracing::warn!("{TEST_ONLY_CRON_SECONDS} is set: every second is a cron minute (tests only)");
        }
        let (armed_tx, armed_rx) = watch::channel(Arc::new(Vec::<Armed>::new()));
        let permits = Limits::default();
        tokio::spawn(self.clone().tick(armed_rx.clone(), permits.clone(), shutdown.clone()));
        let mut followers: HashMap<(String, String), tokio::task::JoinHandle<()>> = HashMap::new();
        let mut pruned = std::time::Instant::now();
        loop {
            match self.store.armed().await {
                Ok(armed) => {
                    self.follow_topics(&armed, &mut followers, &armed_rx, &permits);
                    let live: std::collections::HashSet<&Armed> = armed.iter().collect();
                    lock(&permits.lanes).retain(|key, _| live.contains(key));
                    let namespaces: std::collections::HashSet<&str> =
                        armed.iter().map(|a| a.namespace.as_str()).collect();
                    lock(&permits.budgets).retain(|namespace, _| namespaces.contains(namespace.as_str()));
                    armed_tx.send_replace(Arc::new(armed));
                }
                Err(err) => tracing::warn!(error = %err, "cannot read the function triggers"),
            }
            if pruned.elapsed() > REFRESH * 720 {
                pruned = std::time::Instant::now();
                let before = unix_seconds() - KEEP_RUNS.as_secs() as i64;
                if let Err(err) = self.store.prune(before).await {
                    tracing::warn!(error = %err, "cannot forget old trigger runs");
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(REFRESH) => {}
                _ = self.watch.poked() => {}
            }
        }
        followers.into_values().for_each(|task| task.abort());
    }

    /// Starts a stream for each triggered topic not followed yet; stops those of topics no
    /// trigger names any more.
    fn follow_topics(
        &self,
        armed: &[Armed],
        followers: &mut HashMap<(String, String), tokio::task::JoinHandle<()>>,
        armed_rx: &watch::Receiver<Arc<Vec<Armed>>>,
        permits: &Limits,
    ) {
        let topics: std::collections::HashSet<(String, String)> = armed
            .iter()
            .filter_map(|a| match &a.trigger {
                Trigger::Pubsub { topic } => Some((a.namespace.clone(), topic.clone())),
                Trigger::Cron { .. } => None,
            })
            .collect();
        followers.retain(|key, task| {
            let keep = topics.contains(key);
            if !keep {
                task.abort();
                self.watch.set_following(&key.0, &key.1, false);
            }
            keep
        });
        for key in topics {
            if let std::collections::hash_map::Entry::Vacant(entry) = followers.entry(key) {
                let follower = self.clone().follow(entry.key().clone(), armed_rx.clone(), permits.clone());
                entry.insert(tokio::spawn(follower));
            }
        }
    }

    /// Follows one topic's stream for as long as it is triggered, opening it again (with
    /// backoff) when the bridge restarts.
    async fn follow(
        self,
        (namespace, topic): (String, String),
        armed: watch::Receiver<Arc<Vec<Armed>>>,
        permits: Limits,
    ) {
        let mut backoff = Duration::from_millis(50);
        loop {
            match self.bridge.open(&namespace, &topic).await {
                Ok(mut stream) => {
                    backoff = Duration::from_millis(50);
                    while let Some(frame) = stream.next().await {
                        match frame.kind {
                            orama_ipc::pubsub::HELLO => self.watch.set_following(&namespace, &topic, true),
                            orama_ipc::pubsub::MESSAGE => {
                                let event = message_event(frame.timestamp_ms, &frame.payload);
                                let input = envelope(&topic, frame.timestamp_ms, &frame.payload);
                                let current = armed.borrow().clone();
                                let on_topic = current.iter().filter(|a| {
                                    a.namespace == namespace
                                        && matches!(&a.trigger, Trigger::Pubsub { topic: t } if *t == topic)
                                });
                                for target in on_topic {
                                    self.queue(&permits, target, &event, &input);
                                }
                            }
                            _ => {}
                        }
                    }
                    tracing::info!(%topic, "a trigger's pub/sub stream ended; opening it again");
                }
                Err(err) => tracing::debug!(error = %err, %topic, "cannot open a trigger's pub/sub stream"),
            }
            self.watch.set_following(&namespace, &topic, false);
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
    }

    /// Fires the cron triggers due at each minute (each second under [`TEST_ONLY_CRON_SECONDS`]).
    async fn tick(self, armed: watch::Receiver<Arc<Vec<Armed>>>, permits: Limits, shutdown: CancellationToken) {
        let period = if self.seconds_as_minutes { 1 } else { 60 };
        loop {
            let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
            let next = (now.as_secs() / period + 1) * period;
            let wait = Duration::from_secs(next).saturating_sub(now) + Duration::from_millis(20);
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
            let tick = next / period;
            let current = armed.borrow().clone();
            for target in current.iter() {
                let Trigger::Cron { schedule } = &target.trigger else { continue };
                if !Schedule::parse(schedule).is_ok_and(|s| s.is_due(tick as i64)) {
                    continue;
                }
                let lanes = permits.lanes(target);
                let Ok(permit) = lanes.running.try_acquire_owned() else {
                    dropped(target, "a cron tick is skipped: its runs are all busy");
                    continue;
                };
                if !permits.spend(&target.namespace) {
                    dropped(target, "a cron tick is skipped: the namespace's trigger runs are over their rate");
                    continue;
                }
                let time = crate::http::wire::rfc3339(UNIX_EPOCH + Duration::from_secs(next));
                let input = json!({ "schedule": schedule, "time": time }).to_string();
                self.fire(target.clone(), format!("tick:{tick}"), Bytes::from(input), permit);
            }
        }
    }

    /// Queues a message's run of `target` (waiting for one of its lanes), unless too many wait
    /// or the namespace is over its rate: then it is dropped here.
    fn queue(&self, limits: &Limits, target: &Armed, event: &str, input: &Bytes) {
        let lanes = limits.lanes(target);
        let Ok(waiting) = lanes.waiting.try_acquire_owned() else {
            dropped(target, "a message is dropped: too many wait for this trigger");
            return;
        };
        if !limits.spend(&target.namespace) {
            dropped(target, "a message is dropped: the namespace's trigger runs are over their rate");
            return;
        }
        let (this, target, event, input) = (self.clone(), target.clone(), event.to_owned(), input.clone());
        tokio::spawn(async move {
            let Ok(permit) = lanes.running.acquire_owned().await else { return };
            drop(waiting);
            this.fire(target, event, input, permit);
        });
    }

    /// Claims `event` for `target` and, on the node that won it, runs the function.
    fn fire(&self, target: Armed, event: String, input: Bytes, permit: tokio::sync::OwnedSemaphorePermit) {
        let (store, functions) = (self.store.clone(), self.functions.clone());
        tokio::spawn(async move {
            let _permit = permit;
            let Ok(request_id) = uuid_v4() else { return };
            match store.claim(&target, &event, &request_id, unix_seconds()).await {
                Ok(true) => {}
                Ok(false) => return,
                Err(err) => {
                    tracing::warn!(error = %err, function = %target.function, "cannot claim a trigger's event");
                    return;
                }
            }
            let request = InvokeRequest {
                namespace: target.namespace.as_str().into(),
                name: target.function.clone(),
                version: None,
                input,
                principal: None,
                request_id,
                trigger: target.trigger.kind(),
            };
            let status = match functions.invoke(request).await {
                Ok(_) => "success",
                Err(failure) if failure.kind == "timeout" => "timeout",
                Err(_) => "error",
            };
            if let Err(err) = store.finish(&target, &event, status).await {
                tracing::warn!(error = %err, function = %target.function, "cannot record a trigger run");
            }
        });
    }
}

impl Limits {
    fn lanes(&self, target: &Armed) -> Lanes {
        let new = || Lanes { running: Arc::new(Semaphore::new(IN_FLIGHT)), waiting: Arc::new(Semaphore::new(WAITING)) };
        lock(&self.lanes).entry(target.clone()).or_insert_with(new).clone()
    }

    /// Takes one run from `namespace`'s budget; false when it is spent.
    fn spend(&self, namespace: &str) -> bool {
        let now = std::time::Instant::now();
        let mut budgets = lock(&self.budgets);
        let (tokens, filled) = budgets.entry(namespace.to_owned()).or_insert((BURST, now));
        *tokens = (*tokens + now.duration_since(*filled).as_secs_f64() * RUNS_PER_SECOND).min(BURST);
        *filled = now;
        if *tokens < 1.0 {
            return false;
        }
        *tokens -= 1.0;
        true
    }
}

/// Counts an event dropped on this node (logged at debug: a loop would flood the log).
fn dropped(target: &Armed, why: &'static str) {
    metrics::counter!("orama_function_trigger_events_dropped_total").increment(1);
    tracing::debug!(namespace = %target.namespace, function = %target.function, "{why}");
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

fn unix_seconds() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// A message's identity on every node: its publication time and bytes (the bridge hands every
/// node the same), hashed.
fn message_event(timestamp_ms: u64, payload: &[u8]) -> String {
    let mut hash = Sha256::new();
    hash.update(timestamp_ms.to_be_bytes());
    hash.update(payload);
    format!("msg:{}", crate::http::wire::hex(&hash.finalize()[..16]))
}

/// The reference's message envelope, `{data (base64), timestamp, topic}`: a pub/sub trigger's input.
fn envelope(topic: &str, timestamp_ms: u64, payload: &[u8]) -> Bytes {
    use base64::Engine as _;
    let data = base64::engine::general_purpose::STANDARD.encode(payload);
    Bytes::from(json!({ "data": data, "timestamp": timestamp_ms, "topic": topic }).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_namespace_spends_its_burst_then_its_rate() {
        let limits = Limits::default();
        let spent = (0..1000).filter(|_| limits.spend("alice")).count();
        assert!((100..=101).contains(&spent), "{spent}");
        assert!(limits.spend("bob"), "another namespace has its own budget");
        std::thread::sleep(Duration::from_millis(100));
        let refilled = (0..100).filter(|_| limits.spend("alice")).count();
        assert!((4..=7).contains(&refilled), "50/s for 0.1 s: {refilled}");
    }

    #[test]
    fn messages_of_the_same_time_and_bytes_are_one_event() {
        assert_eq!(message_event(1, b"a"), message_event(1, b"a"));
        assert_ne!(message_event(1, b"a"), message_event(2, b"a"));
        assert_ne!(message_event(1, b"a"), message_event(1, b"b"));
    }
}
