//! Sign in with an Ethereum wallet (a key made here), then call the API with the session's
//! JWT, which the client renews by itself; then log out.
//!
//! Run against a local node:
//!
//! ```sh
//! ./scripts/run                                    # in one shell
//! cargo run -p orama-client --example wallet       # signs in to a new namespace
//! ```

use orama_client::auth::{EthereumSigner, Signer};
use orama_client::{ClientConfig, NetworkClient};

#[tokio::main]
async fn main() -> Result<(), orama_client::Error> {
    let gateway = std::env::var("ORAMA_GATEWAY").unwrap_or_else(|_| "http://127.0.0.1:6001".into());
    let client = NetworkClient::new(ClientConfig::new(&gateway)?)?;
    let wallet = EthereumSigner::random()?;
    let namespace = format!("wallet-{}", &wallet.address()[2..10].to_lowercase());
    let session = client.auth().sign_in(&wallet, &namespace).await?;
    println!(
        "{} signed in to {namespace}; its first API key was made: {}",
        wallet.address(),
        session.api_key.is_some()
    );
    let me = client.auth().whoami().await?;
    println!("whoami: {} by {}", me.namespace, me.method);
    client.cache().put("profile", "greeting", &"hello", None).await?;
    client.auth().logout(false).await?;
    println!("logged out; a request now answers {:?}", client.auth().whoami().await.err().and_then(|e| e.status()));
    Ok(())
}
