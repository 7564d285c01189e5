//! `/v1/pubsub/*`: publish to a topic of the namespace, subscribe to one as a [`Stream`] that
//! reconnects by itself ([`Subscription`]), see who is present.
//!
//! [`Stream`]: futures_util::Stream

mod subscription;

pub use subscription::{Message, PresenceEvent, Subscription};

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::call::Call;
use crate::error::{Error, Result};
use crate::transport::Transport;

/// A member present on a topic.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Member {
    /// Its id.
    pub member_id: String,
    /// When it joined, unix seconds.
    pub joined_at: i64,
    /// What it announced.
    #[serde(default)]
    pub meta: Option<Value>,
}

/// `/v1/pubsub/*`. Get one from [`crate::NetworkClient::pubsub`].
#[derive(Clone)]
pub struct PubSubClient {
    pub(crate) transport: Transport,
}

impl PubSubClient {
    /// Publishes `data` on `topic` (to every subscriber on every node, once). Not retried: a
    /// second attempt could deliver the message twice.
    pub async fn publish(&self, topic: &str, data: impl AsRef<[u8]>) -> Result<()> {
        let encoded = base64::engine::general_purpose::STANDARD.encode(data.as_ref());
        let body = json!({ "topic": topic, "data_base64": encoded });
        let _: Value = self.transport.json(Call::post_json("v1/pubsub/publish", &body)?).await?;
        Ok(())
    }

    /// Subscribes to `topic`.
    pub async fn subscribe(&self, topic: &str) -> Result<Subscription> {
        Subscription::start(self.transport.clone(), vec![("topic", topic.to_owned())]).await
    }

    /// Subscribes to `topic` announcing this client as `member_id` (with `meta`), present
    /// for as long as the subscription lives; a reconnection announces it again.
    pub async fn subscribe_present(&self, topic: &str, member_id: &str, meta: Option<&Value>) -> Result<Subscription> {
        if member_id.is_empty() {
            return Err(Error::Invalid("a member id is needed for presence".into()));
        }
        let mut query =
            vec![("topic", topic.to_owned()), ("presence", "true".to_owned()), ("member_id", member_id.to_owned())];
        if let Some(meta) = meta {
            query.push(("member_meta", meta.to_string()));
        }
        Subscription::start(self.transport.clone(), query).await
    }

    /// The members present on `topic`, on every node.
    pub async fn presence(&self, topic: &str) -> Result<Vec<Member>> {
        let mut answer: Value = self.transport.json(Call::get("v1/pubsub/presence").query("topic", topic)).await?;
        serde_json::from_value(answer["members"].take()).map_err(Error::decode)
    }

    /// The namespace's topics with subscribers on the gateway answering.
    pub async fn topics(&self) -> Result<Vec<String>> {
        let mut answer: Value = self.transport.json(Call::get("v1/pubsub/topics")).await?;
        serde_json::from_value(answer["topics"].take()).map_err(Error::decode)
    }
}
