//! One invocation end to end: resolve the version, authorize the caller (public functions:
//! anyone; private ones: a credential of the function's own namespace), issue the token that
//! scopes its host calls, run it on the runner (compiling it again from storage if the runner
//! lost it), record it, retry a failure as the function's `retry_count` asks (delay doubling
//! from `retry_delay_seconds`, never past the operator's `max_timeout` in all), and classify
//! a failure with the status the reference gives it.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use warp::http::StatusCode;

use super::records::{Outcome, Record, now_ms};
use super::runner::{Invocation, RunnerAnswer, RunnerFailure};
use super::{service::Functions, service::Resolved};
use crate::auth::{Credential, Principal};
use crate::http::error::ApiError;

/// Most retries of a failed invocation, whatever the function asks.
const MAX_RETRIES: i64 = 10;
/// Longest wait between two attempts.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(300);

/// Failures worth another attempt (as the reference: not a missing function, and not a limit
/// the function hit, which would only be hit again).
fn retryable(failure: &RunnerFailure) -> bool {
    match failure {
        RunnerFailure::Unavailable(_) => true,
        RunnerFailure::Failed { kind, .. } => matches!(kind.as_str(), "trap" | "exit"),
    }
}

/// An invocation asked for.
#[derive(Debug, Clone)]
pub struct InvokeRequest {
    /// The function's namespace.
    pub namespace: Arc<str>,
    /// Its name.
    pub name: String,
    /// A version, or the latest active.
    pub version: Option<i64>,
    /// The input.
    pub input: Bytes,
    /// Who asks, if they presented a credential.
    pub principal: Option<Principal>,
    /// The invocation's id.
    pub request_id: String,
    /// `http` or `websocket`; `pubsub` or `cron` for a trigger's run (allowed whatever the
    /// function's visibility: only the scheduler sets these).
    pub trigger: &'static str,
}

/// A function's answer.
#[derive(Debug, Clone)]
pub struct Invoked {
    /// Its stdout.
    pub output: Vec<u8>,
    /// How long it ran.
    pub duration: Duration,
}

/// Why an invocation did not answer, with the status to reply.
#[derive(Debug, Clone)]
pub struct InvokeFailure {
    /// HTTP status.
    pub status: StatusCode,
    /// `error` or `timeout`.
    pub kind: &'static str,
    /// What happened.
    pub message: String,
    /// How long it ran before failing.
    pub duration: Duration,
}

impl InvokeFailure {
    fn of(err: ApiError) -> InvokeFailure {
        let message = match &err {
            ApiError::InvalidCredential(_) | ApiError::MissingCredential => "unauthorized".to_owned(),
            other => other.to_string(),
        };
        err.log();
        InvokeFailure { status: err.status(), kind: "error", message, duration: Duration::ZERO }
    }
}

/// The identity `get_caller_wallet` answers: a wallet's address, or for API keys the namespace
/// (as the reference does); never a header the caller chose.
fn caller_identity(principal: Option<&Principal>) -> String {
    match principal {
        Some(Principal { credential: Credential::Jwt(claims), namespace, .. }) if claims.sub.starts_with("apikey:") => {
            namespace.to_string()
        }
        Some(Principal { credential: Credential::Jwt(claims), .. }) => claims.sub.clone(),
        Some(principal) => principal.namespace.to_string(),
        None => String::new(),
    }
}

impl Functions {
    /// Runs `request`.
    pub async fn invoke(&self, request: InvokeRequest) -> Result<Invoked, InvokeFailure> {
        if request.input.len() > self.parts.bounds.max_input {
            let message = format!("input larger than {} bytes", self.parts.bounds.max_input);
            return Err(InvokeFailure {
                status: StatusCode::PAYLOAD_TOO_LARGE,
                kind: "error",
                message,
                duration: Duration::ZERO,
            });
        }
        let resolved =
            self.resolve(&request.namespace, &request.name, request.version).await.map_err(InvokeFailure::of)?;
        // A trigger's run comes from this node's own scheduler, for the function's namespace.
        let triggered = matches!(request.trigger, "pubsub" | "cron");
        let allowed = resolved.function.settings.is_public
            || triggered
            || request.principal.as_ref().is_some_and(|p| *p.namespace == *resolved.function.namespace);
        if !allowed {
            return Err(InvokeFailure::of(ApiError::InvalidCredential("unauthorized".into())));
        }
        let caller = if triggered {
            format!("trigger:{}", request.trigger)
        } else {
            caller_identity(request.principal.as_ref())
        };
        let started = std::time::Instant::now();
        let attempts = 1 + resolved.function.settings.retry_count.clamp(0, MAX_RETRIES);
        let mut delay =
            Duration::from_secs(u64::try_from(resolved.function.settings.retry_delay_seconds).unwrap_or(5).max(1));
        let mut attempt = 1;
        let ran = loop {
            let started_ms = now_ms();
            let ran = self.run(&resolved, &request, &caller).await;
            self.record(&resolved, &request, caller.clone(), started_ms, &ran);
            let retry = matches!(&ran, Err(failure) if retryable(failure))
                && attempt < attempts
                && started.elapsed() + delay < self.parts.bounds.max_timeout;
            if !retry {
                break ran;
            }
            tokio::time::sleep(delay).await;
            (attempt, delay) = (attempt + 1, (delay * 2).min(MAX_RETRY_DELAY));
        };
        match ran {
            Ok(answer) => Ok(Invoked { output: answer.output, duration: Duration::from_micros(answer.duration_us) }),
            Err(failure) => {
                let failed = InvokeFailure { duration: started.elapsed(), ..classify(failure) };
                let letter = super::dead_letters::Failed {
                    request_id: &request.request_id,
                    input: &request.input,
                    trigger: request.trigger,
                    caller: &caller,
                    error: &failed.message,
                };
                super::dead_letters::publish(&self.parts.pubsub, &resolved.function, letter).await;
                Err(failed)
            }
        }
    }

    async fn run(
        &self,
        resolved: &Resolved,
        request: &InvokeRequest,
        caller: &str,
    ) -> Result<RunnerAnswer, RunnerFailure> {
        let function = &resolved.function;
        let scope = super::host::Scope { namespace: request.namespace.clone(), function: function.name.clone() };
        let token = self.parts.tokens.issue(scope).map_err(|e| RunnerFailure::Unavailable(e.to_string()))?;
        let mib = 1024 * 1024;
        let memory =
            u64::try_from(function.settings.memory_limit_mb).map_or(self.parts.bounds.default_memory, |m| m * mib);
        let timeout = u64::try_from(function.settings.timeout_seconds)
            .map_or(self.parts.bounds.default_timeout, Duration::from_secs);
        let call = Invocation {
            hash: &function.wasm_hash,
            input: request.input.clone(),
            timeout: timeout.min(self.parts.bounds.max_timeout),
            memory: memory.min(self.parts.bounds.max_memory),
            request_id: &request.request_id,
            caller,
            env: &resolved.env,
            token: &token.token,
            namespace: &request.namespace,
        };
        match self.parts.runner.invoke(&call).await {
            Err(RunnerFailure::Failed { kind, .. }) if kind == "unknown" => {
                self.recompile(&function.wasm_cid).await.map_err(|e| RunnerFailure::Unavailable(e.to_string()))?;
                self.parts.runner.invoke(&call).await
            }
            other => other,
        }
    }

    fn record(
        &self,
        resolved: &Resolved,
        request: &InvokeRequest,
        caller: String,
        started_ms: i64,
        ran: &Result<RunnerAnswer, RunnerFailure>,
    ) {
        let (outcome, error, output_size, duration, memory, mut logs) = match ran {
            Ok(a) => {
                let logs: Vec<_> = a.logs.iter().map(|l| (l.level.clone(), l.message.clone())).collect();
                (Outcome::Success, None, a.output.len(), Duration::from_micros(a.duration_us), a.memory_bytes, logs)
            }
            Err(failure) => {
                let timed_out = matches!(failure, RunnerFailure::Failed { kind, .. } if kind == "timeout");
                let outcome = if timed_out { Outcome::Timeout } else { Outcome::Error };
                let elapsed = Duration::from_millis(u64::try_from(now_ms() - started_ms).unwrap_or(0));
                (outcome, Some(failure.to_string()), 0, elapsed, 0, Vec::new())
            }
        };
        if let Ok(answer) = ran {
            logs.extend(answer.stderr.lines().filter(|l| !l.is_empty()).map(|l| ("info".to_owned(), l.to_owned())));
        }
        if let Some(error) = &error {
            logs.push(("error".to_owned(), error.clone()));
        }
        crate::http::history::record_invocation();
        self.parts.records.push(Record {
            namespace: request.namespace.clone(),
            name: resolved.function.name.clone(),
            version: resolved.function.version,
            request_id: request.request_id.clone(),
            trigger: request.trigger,
            caller,
            input_size: request.input.len(),
            output_size,
            started_ms,
            duration,
            outcome,
            error,
            memory_bytes: memory,
            logs,
        });
    }
}

/// The reference's statuses: 429 when a limit was hit (time, memory, output, queue), 503 when
/// the runner is down or every slot stayed busy, 500 for a function that failed.
fn classify(failure: RunnerFailure) -> InvokeFailure {
    let (status, kind) = match &failure {
        RunnerFailure::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "error"),
        RunnerFailure::Failed { kind, .. } => match kind.as_str() {
            "timeout" => (StatusCode::TOO_MANY_REQUESTS, "timeout"),
            "memory" | "output" | "queue_full" => (StatusCode::TOO_MANY_REQUESTS, "error"),
            "busy" => (StatusCode::SERVICE_UNAVAILABLE, "error"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "error"),
        },
    };
    InvokeFailure { status, kind, message: failure.to_string(), duration: Duration::ZERO }
}
