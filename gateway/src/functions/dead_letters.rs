//! Dead letters: when an invocation of a function deployed with a `dlq_topic` ends in failure
//! (after its retries), the reference's message is published on that topic of the function's
//! own namespace, where a subscriber (a WebSocket client, or another function) can pick it up:
//! `{function_id, function_name, namespace, request_id, input (base64), error, failed_at,
//! trigger_type, caller_wallet?}`. The reference publishes it into the gateway's default
//! namespace, where every tenant could read it; here it never leaves the function's.

use base64::Engine as _;
use serde_json::json;

use super::registry::Function;
use crate::pubsub::bridge::Bridge;

/// An invocation that failed for good.
#[derive(Debug)]
pub struct Failed<'a> {
    /// Its request id.
    pub request_id: &'a str,
    /// Its input.
    pub input: &'a [u8],
    /// `http` or `websocket`.
    pub trigger: &'a str,
    /// Who called (a wallet address, a namespace, or empty).
    pub caller: &'a str,
    /// Why it failed.
    pub error: &'a str,
}

/// Publishes the dead letter of the `failed` invocation of `function` when the function
/// names a topic for them. A letter that cannot be published is logged, never retried: the
/// caller already has its answer.
pub async fn publish(bridge: &Bridge, function: &Function, failed: Failed<'_>) {
    let topic = &function.settings.dlq_topic;
    if topic.is_empty() {
        return;
    }
    let mut letter = json!({
        "function_id": function.id,
        "function_name": function.name,
        "namespace": function.namespace,
        "request_id": failed.request_id,
        "input": base64::engine::general_purpose::STANDARD.encode(failed.input),
        "error": failed.error,
        "failed_at": humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        "trigger_type": failed.trigger,
    });
    if failed.caller.starts_with("0x") {
        letter["caller_wallet"] = json!(failed.caller);
    }
    if let Err(err) = bridge.publish(&function.namespace, topic, letter.to_string().as_bytes()).await {
        tracing::warn!(
            function = %function.name,
            namespace = %function.namespace,
            %topic,
            error = %err,
            "the dead letter of a failed invocation was not published"
        );
    }
}
