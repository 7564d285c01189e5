//! `/v1/auth/*`: who the credential is, API keys and JWTs, wallet sign-in given a [`Signer`],
//! renewal and logout. Signing in switches the client to the session's JWT, which it renews by
//! itself from then on.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::call::Call;
use crate::config::Credential;
use crate::error::{Error, Result};
use crate::transport::Transport;

pub use crate::session::Tokens;
pub use crate::wallet::{Chain, EthereumSigner, Signer};

/// What `/v1/auth/whoami` says about the credential.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct WhoAmI {
    /// Always true on a 200.
    pub authenticated: bool,
    /// `api_key` or `jwt`.
    pub method: String,
    /// The credential's namespace.
    pub namespace: String,
    /// For an API key: its non-secret hint.
    #[serde(default)]
    pub api_key: Option<String>,
    /// For a JWT: its subject (a wallet, or `apikey:<id>`).
    #[serde(default)]
    pub subject: Option<String>,
    /// For a JWT: its expiry, unix seconds.
    #[serde(default)]
    pub expires_at: Option<i64>,
}

/// A wallet sign-in's outcome. Its `Debug` hides the secrets.
#[derive(Clone, Deserialize, Serialize)]
pub struct SignIn {
    /// The session's tokens (the client now uses them).
    #[serde(flatten)]
    pub tokens: Tokens,
    /// A new API key, when the wallet held none in the namespace.
    #[serde(default)]
    pub api_key: Option<String>,
}

/// A new API key made by a wallet's signature. Its `Debug` hides the key.
#[derive(Clone, Deserialize, Serialize)]
pub struct NewApiKey {
    /// The key: shown once, keep it.
    pub api_key: String,
    /// Its namespace.
    pub namespace: String,
    /// The wallet (lowercase, without `0x`).
    pub wallet: String,
    /// Older keys revoked to keep the wallet within its limit.
    #[serde(default)]
    pub revoked_key_ids: Vec<i64>,
}

impl std::fmt::Debug for SignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignIn")
            .field("tokens", &self.tokens)
            .field("api_key", &self.api_key.as_ref().map(|_| "…"))
            .finish()
    }
}

impl std::fmt::Debug for NewApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewApiKey")
            .field("namespace", &self.namespace)
            .field("wallet", &self.wallet)
            .field("revoked_key_ids", &self.revoked_key_ids)
            .finish_non_exhaustive()
    }
}

/// `/v1/auth/*`. Get one from [`crate::NetworkClient::auth`].
#[derive(Clone)]
pub struct AuthClient {
    pub(crate) transport: Transport,
}

impl AuthClient {
    /// Who the client's credential is.
    pub async fn whoami(&self) -> Result<WhoAmI> {
        self.transport.json(Call::get("v1/auth/whoami")).await
    }

    /// Exchanges the client's API key for a JWT (15 minutes, no refresh token). The client
    /// keeps using the API key.
    pub async fn token(&self) -> Result<Tokens> {
        self.transport.json(Call::new(http::Method::POST, "v1/auth/token")).await
    }

    /// Signs in with a wallet to `namespace`: challenge, `signer` signs it, verify. The client
    /// then uses the session's JWT and renews it by itself.
    pub async fn sign_in(&self, signer: &dyn Signer, namespace: &str) -> Result<SignIn> {
        let body = self.signed_body(signer, namespace).await?;
        let signed: SignIn = self.transport.json(Call::post_json("v1/auth/verify", &body)?.public()).await?;
        self.transport.session.set(Some(Credential::Jwt {
            access_token: signed.tokens.access_token.clone(),
            refresh_token: signed.tokens.refresh_token.clone(),
            namespace: signed.tokens.namespace.clone().unwrap_or_else(|| namespace.to_owned()),
        }));
        Ok(signed)
    }

    /// Makes a new API key for the wallet in `namespace` (the client's credential is unchanged).
    pub async fn create_api_key(&self, signer: &dyn Signer, namespace: &str) -> Result<NewApiKey> {
        let body = self.signed_body(signer, namespace).await?;
        self.transport.json(Call::post_json("v1/auth/api-key", &body)?.public()).await
    }

    /// Registers an app for the wallet in `namespace`: its `client_id` and app record.
    pub async fn register(&self, signer: &dyn Signer, namespace: &str, name: &str) -> Result<serde_json::Value> {
        let mut body = self.signed_body(signer, namespace).await?;
        body["name"] = serde_json::Value::String(name.to_owned());
        self.transport.json(Call::post_json("v1/auth/register", &body)?.public()).await
    }

    /// A key for `wallet` in a namespace nobody owns, without a signature: development nodes
    /// only (`gateway.dev_simple_key`; 404 elsewhere).
    pub async fn simple_key(&self, wallet: &str, namespace: &str) -> Result<String> {
        let body = json!({ "wallet": wallet, "namespace": namespace });
        let answer: serde_json::Value =
            self.transport.json(Call::post_json("v1/auth/simple-key", &body)?.public()).await?;
        answer["api_key"].as_str().map(str::to_owned).ok_or_else(|| Error::decode("simple-key answered no api_key"))
    }

    /// Renews the session's JWT now (the client also does it by itself before expiry).
    pub async fn refresh(&self) -> Result<()> {
        self.transport.refresh().await
    }

    /// Ends the session: revokes its refresh token (with `everywhere`, every refresh token of
    /// the wallet, which needs the JWT), and forgets the credential. With an API key there is
    /// nothing to revoke on the server: the key is only forgotten by this client.
    pub async fn logout(&self, everywhere: bool) -> Result<()> {
        if let Some((refresh_token, namespace)) = self.transport.session.refresh_token() {
            let body = json!({ "refresh_token": refresh_token, "namespace": namespace, "all": everywhere });
            let call = Call::post_json("v1/auth/logout", &body)?;
            let call = if everywhere { call } else { call.public() };
            let _: serde_json::Value = self.transport.json(call).await?;
        }
        self.transport.session.set(None);
        Ok(())
    }

    /// Uses `credential` from now on (`None`: none).
    pub fn set_credential(&self, credential: Option<Credential>) {
        self.transport.session.set(credential);
    }

    /// The credential in use now (after any renewal).
    pub fn credential(&self) -> Option<Credential> {
        self.transport.session.get()
    }

    /// The gateway's public signing keys (JWKS).
    pub async fn jwks(&self) -> Result<serde_json::Value> {
        self.transport.json(Call::get("v1/auth/jwks").public()).await
    }

    /// A challenge for `signer` in `namespace`, signed: the body of verify / api-key.
    async fn signed_body(&self, signer: &dyn Signer, namespace: &str) -> Result<serde_json::Value> {
        let wallet = signer.address();
        let chain = signer.chain().as_str();
        let body = json!({ "wallet": wallet, "namespace": namespace, "chain_type": chain });
        let challenge: serde_json::Value =
            self.transport.json(Call::post_json("v1/auth/challenge", &body)?.public()).await?;
        let nonce = challenge["nonce"].as_str().ok_or_else(|| Error::decode("challenge without a nonce"))?;
        let signature = signer.sign(nonce)?;
        Ok(
            json!({ "wallet": wallet, "namespace": namespace, "chain_type": chain, "nonce": nonce, "signature": signature }),
        )
    }
}
