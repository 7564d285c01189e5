//! The ORM: a repository of a serde struct, the query builder and a transaction.
//!
//! Run against a local node:
//!
//! ```sh
//! ./scripts/run                                                     # in one shell
//! export ORAMA_API_KEY=$(target/release/orama-supervisor ctl apikey create --namespace demo)
//! cargo run -p orama-client --example orm
//! ```

use orama_client::database::Entity;
use orama_client::{ClientConfig, NetworkClient};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
struct User {
    id: i64,
    name: String,
    age: i64,
}

impl Entity for User {
    const TABLE: &'static str = "example_users";
}

#[tokio::main]
async fn main() -> Result<(), orama_client::Error> {
    let gateway = std::env::var("ORAMA_GATEWAY").unwrap_or_else(|_| "http://127.0.0.1:6001".into());
    let key = std::env::var("ORAMA_API_KEY").map_err(|_| orama_client::Error::Invalid("set ORAMA_API_KEY".into()))?;
    let db = NetworkClient::new(ClientConfig::new(&gateway)?.api_key(key))?.database();
    db.exec("CREATE TABLE IF NOT EXISTS example_users (id INTEGER PRIMARY KEY, name TEXT, age INTEGER)", ()).await?;

    let users = db.repository::<User>();
    let mut ada = User { id: 0, name: "Ada".into(), age: 36 };
    users.save(&mut ada).await?; // inserted: ada.id is now set
    ada.age += 1;
    users.save(&mut ada).await?; // updated
    println!("saved {ada:?}");

    let adults: Vec<User> =
        db.query_builder("example_users").where_("age >= ?", 18).order_by("name").limit(10).get_many().await?;
    println!("{} adult(s): {adults:?}", adults.len());

    db.transaction(|tx| {
        tx.exec("UPDATE example_users SET age = age + 1 WHERE id = ?", ada.id)?;
        tx.exec("DELETE FROM example_users WHERE age > ?", 150)?;
        Ok(())
    })
    .await?;
    println!("{} user(s) in all", users.count().await?);
    Ok(())
}
