//! The ACME client (RFC 8555, through instant-acme): one account per CA kept in the data dir,
//! orders for the configured domains, HTTP-01 challenges answered by the port-80 listener
//! through [`Http01Challenges`], and the certificate chain with a fresh key.
//!
//! A CA may refuse any request's nonce (`badNonce`; Pebble does so on purpose). Such a request
//! was not acted on, so every step is simply sent again with a fresh nonce.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, ChallengeType, Identifier, NewAccount, NewOrder, Order,
    OrderStatus, RetryPolicy,
};
use orama_service::config::AcmeConfig;
use sha2::{Digest, Sha256};

use super::acme_http::AcmeHttp;
use super::store::{self, StoreError};

/// How often a step refused for its nonce is sent again.
const NONCE_RETRIES: u32 = 10;
/// How long the CA gets to validate the challenges, and then to issue.
const ORDER_PATIENCE: Duration = Duration::from_secs(120);
/// The longest any single step (a request and the transport's own nonce retries) may take.
const STEP_TIMEOUT: Duration = Duration::from_secs(120);

/// Evaluates the future `$step` until the CA does not refuse it for its nonce (at most
/// [`NONCE_RETRIES`] more times), each attempt bounded beyond the step's own polling. A macro,
/// not a function over an async closure, so the futures stay `Send`.
macro_rules! resend_refused {
    ($step:expr) => {{
        let mut resent = 0;
        loop {
            match within(ORDER_PATIENCE + STEP_TIMEOUT, $step).await? {
                Err(err) if is_bad_nonce(&err) && resent < NONCE_RETRIES => {
                    resent += 1;
                    tracing::debug!(resent, "the ACME server refused a nonce; sending again");
                }
                outcome => break outcome.map_err(AcmeError::from),
            }
        }
    }};
}

/// Why a certificate could not be obtained.
#[derive(Debug, thiserror::Error)]
pub enum AcmeError {
    /// The CA refused a request or could not be reached.
    #[error("ACME: {0}")]
    Protocol(#[from] instant_acme::Error),
    /// The order did not reach the expected state.
    #[error("ACME order: {0}")]
    Order(String),
    /// The CA took longer than allowed.
    #[error("ACME: no answer from the CA within {0:?}")]
    Timeout(Duration),
    /// The account or certificate files could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Key authorizations of pending HTTP-01 challenges by token, shared by the issuer (which adds
/// and removes them) and the port-80 listener (which serves them).
#[derive(Debug, Clone, Default)]
pub struct Http01Challenges(Arc<RwLock<HashMap<String, String>>>);

impl Http01Challenges {
    /// The key authorization to answer for `token`, if a challenge for it is pending.
    pub fn answer(&self, token: &str) -> Option<String> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).get(token).cloned()
    }

    pub(super) fn insert(&self, token: String, key_authorization: String) {
        self.0.write().unwrap_or_else(|p| p.into_inner()).insert(token, key_authorization);
    }

    fn remove(&self, token: &str) {
        self.0.write().unwrap_or_else(|p| p.into_inner()).remove(token);
    }
}

/// A certificate chain and its private key, both PEM.
#[derive(Debug, Clone)]
pub struct IssuedPem {
    /// The chain, leaf first.
    pub chain: String,
    /// The private key (PKCS#8).
    pub key: String,
}

/// Obtains certificates for a fixed set of domains from one CA.
#[derive(Debug, Clone)]
pub struct AcmeIssuer {
    config: AcmeConfig,
    domains: Vec<String>,
    dir: PathBuf,
    challenges: Http01Challenges,
    http: AcmeHttp,
}

impl AcmeIssuer {
    /// An issuer keeping its account in `dir`, publishing challenges in `challenges`.
    pub fn new(
        config: AcmeConfig,
        domains: Vec<String>,
        dir: &Path,
        challenges: Http01Challenges,
    ) -> Result<Self, StoreError> {
        let http = AcmeHttp::new(config.ca_file.as_deref())?;
        Ok(AcmeIssuer { config, domains, dir: dir.to_owned(), challenges, http })
    }

    /// Orders, authorizes and downloads a new certificate for the domains.
    pub async fn issue(&self) -> Result<IssuedPem, AcmeError> {
        let account = self.account().await?;
        let identifiers: Vec<Identifier> = self.domains.iter().cloned().map(Identifier::Dns).collect();
        let new_order = NewOrder::new(&identifiers);
        let mut order = resend_refused!(account.new_order(&new_order))?;
        let mut tokens = Vec::new();
        let outcome = self.complete(&mut order, &mut tokens).await;
        for token in &tokens {
            self.challenges.remove(token);
        }
        outcome
    }

    /// Answers the order's challenges, then finalizes it and fetches the chain.
    async fn complete(&self, order: &mut Order, tokens: &mut Vec<String>) -> Result<IssuedPem, AcmeError> {
        let mut authorizations = order.authorizations();
        while let Some(authorization) = within(STEP_TIMEOUT, authorizations.next()).await? {
            let mut authorization = authorization?;
            match authorization.status {
                AuthorizationStatus::Pending => {}
                AuthorizationStatus::Valid => continue,
                status => return Err(AcmeError::Order(format!("an authorization is {status:?}"))),
            }
            let mut challenge = authorization
                .challenge(ChallengeType::Http01)
                .ok_or_else(|| AcmeError::Order("the CA offers no http-01 challenge".into()))?;
            self.challenges.insert(challenge.token.clone(), challenge.key_authorization().as_str().to_owned());
            tokens.push(challenge.token.clone());
            resend_refused!(challenge.set_ready())?;
        }
        let polling = RetryPolicy::new().initial_delay(Duration::from_millis(250)).timeout(ORDER_PATIENCE);
        let status = resend_refused!(order.poll_ready(&polling))?;
        if status != OrderStatus::Ready {
            let problem = order.state().error.as_ref().map(ToString::to_string).unwrap_or_default();
            return Err(AcmeError::Order(format!("the order is {status:?} after validation {problem}")));
        }
        let key = resend_refused!(order.finalize())?;
        let chain = resend_refused!(order.poll_certificate(&polling))?;
        Ok(IssuedPem { chain, key })
    }

    /// The account on this CA, restored from the data dir or registered (and saved, 0600).
    async fn account(&self) -> Result<Account, AcmeError> {
        let digest = Sha256::digest(self.config.directory_url.as_bytes());
        let path = self.dir.join(format!("account-{}.json", crate::http::wire::hex(&digest[..8])));
        if let Some(saved) = store::read_optional(&path)? {
            let credentials: AccountCredentials =
                serde_json::from_slice(&saved).map_err(|e| StoreError::corrupt(&path, e))?;
            return Ok(within(STEP_TIMEOUT, self.builder().from_credentials(credentials)).await??);
        }
        let contact: Vec<&str> = self.config.contact.iter().map(String::as_str).collect();
        let new_account = NewAccount { contact: &contact, terms_of_service_agreed: true, only_return_existing: false };
        let directory = self.config.directory_url.clone();
        let (account, credentials) = resend_refused!(self.builder().create(&new_account, directory.clone(), None))?;
        let text = serde_json::to_vec(&credentials).map_err(|e| StoreError::corrupt(&path, e))?;
        store::write_private(&path, &text)?;
        tracing::info!(directory = %self.config.directory_url, account = account.id(), "registered an ACME account");
        Ok(account)
    }

    fn builder(&self) -> instant_acme::AccountBuilder {
        Account::builder_with_http(Box::new(self.http.clone()))
    }
}

async fn within<T>(limit: Duration, work: impl Future<Output = T>) -> Result<T, AcmeError> {
    tokio::time::timeout(limit, work).await.map_err(|_| AcmeError::Timeout(limit))
}

fn is_bad_nonce(err: &instant_acme::Error) -> bool {
    matches!(err, instant_acme::Error::Api(problem)
        if problem.r#type.as_deref() == Some("urn:ietf:params:acme:error:badNonce"))
}
