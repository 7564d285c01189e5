//! The ORM on both SQL engines: the query builder, a repository of a serde struct, atomic
//! transactions, and values that stay values (bound, never spliced into SQL).

use http::StatusCode;
use orama_client::NetworkClient;
use orama_client::database::{Entity, TxResult};
use orama_e2e::free_port;
use serde::{Deserialize, Serialize};

use super::{client, key, run};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct User {
    id: i64,
    name: String,
    age: i64,
    #[serde(with = "orama_client::database::bool_int")]
    admin: bool,
    team: Option<String>,
}

impl Entity for User {
    const TABLE: &'static str = "users";
}

fn user(name: &str, age: i64, team: Option<&str>) -> User {
    User { id: 0, name: name.into(), age, admin: false, team: team.map(str::to_owned) }
}

#[test]
fn the_orm_works_on_the_embedded_engine() {
    let port = free_port();
    let node = crate::sql::node_on("embedded", port);
    let client = client(port, &key(&node, "orm"));
    run(orm(client));
}

#[test]
fn the_orm_works_on_rqlite() {
    let port = free_port();
    let node = crate::sql::node_on("rqlite", port);
    let client = client(port, &key(&node, "orm"));
    run(orm(client));
}

async fn orm(client: NetworkClient) {
    let db = client.database();
    db.create_table(
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, age INTEGER, admin INTEGER, team TEXT)",
    )
    .await
    .expect("create");
    assert!(db.tables().await.expect("tables").iter().any(|t| t.name == "users" && t.kind == "table"));

    // Repository: save inserts and sets the key; a saved entity with a key is updated.
    let users = db.repository::<User>();
    let mut ada = user("ada", 36, Some("core"));
    users.save(&mut ada).await.expect("insert");
    assert!(ada.id > 0, "the generated key is set");
    for (name, age, team) in [("bob", 17, None), ("cy", 52, Some("core")), ("di", 29, Some("web")), ("ed", 12, None)] {
        users.save(&mut user(name, age, team)).await.expect("insert");
    }
    ada.admin = true;
    ada.age = 37;
    assert_eq!(users.save(&mut ada).await.expect("update").rows_affected, 1);
    assert_eq!(users.find(ada.id).await.expect("find"), Some(ada.clone()), "booleans and options round-trip");
    assert_eq!(users.find(999).await.expect("find none"), None);
    assert_eq!(users.count().await.expect("count"), 5);

    // The query builder.
    let adults: Vec<User> =
        db.query_builder("users").where_("age >= ?", 18).order_by("age DESC").limit(2).get_many().await.expect("many");
    assert_eq!(adults.iter().map(|u| u.name.as_str()).collect::<Vec<_>>(), ["cy", "ada"]);
    let page: Vec<User> = db.query_builder("users").order_by("name").limit(2).offset(1).get_many().await.expect("page");
    assert_eq!(page.iter().map(|u| u.name.as_str()).collect::<Vec<_>>(), ["bob", "cy"]);
    let either = db.query_builder("users").where_("team = ?", "web").or_where("age < ?", 13);
    assert_eq!(either.count().await.expect("count"), 2);
    let one: Option<User> = db.query_builder("users").where_("name = ?", "di").get_one().await.expect("one");
    assert_eq!(one.map(|u| u.age), Some(29));
    #[derive(Deserialize, Debug, PartialEq)]
    struct Team {
        team: Option<String>,
        members: i64,
    }
    let teams: Vec<Team> = db
        .query_builder("users")
        .select(["team", "COUNT(*) AS members"])
        .group_by(["team"])
        .having("COUNT(*) >= ?", 2)
        .order_by("team")
        .get_many()
        .await
        .expect("group by");
    assert_eq!(teams, [Team { team: None, members: 2 }, Team { team: Some("core".into()), members: 2 }]);
    db.create_table("CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER, title TEXT)").await.expect("posts");
    db.exec("INSERT INTO posts (user_id, title) VALUES (?, ?), (?, ?)", (ada.id, "hello", ada.id, "again"))
        .await
        .expect("posts");
    let titles: Vec<serde_json::Value> = db
        .query_builder("posts")
        .select(["posts.title", "users.name"])
        .join("users", "users.id = posts.user_id")
        .where_("users.name = ?", "ada")
        .order_by("posts.id")
        .get_many()
        .await
        .expect("join");
    assert_eq!(
        titles,
        [serde_json::json!({"title": "hello", "name": "ada"}), serde_json::json!({"title": "again", "name": "ada"})]
    );

    // A value that looks like SQL stays a value.
    let hostile = "x'); DROP TABLE users; --";
    users.save(&mut user(hostile, 1, None)).await.expect("insert hostile");
    let found = users.find_one("name = ?", hostile).await.expect("find hostile");
    assert_eq!(found.map(|u| u.name), Some(hostile.to_owned()));
    assert!(db.query_builder("users; DROP TABLE users").get_rows().await.is_err(), "table names are checked");

    // Transactions: all or nothing.
    let results = db
        .transaction(|tx| {
            tx.exec("UPDATE users SET age = age + 1 WHERE team = ?", "core")?;
            tx.save(&user("fay", 40, Some("web")))?;
            tx.query("SELECT COUNT(*) AS n FROM users", ())?;
            Ok(())
        })
        .await
        .expect("transaction");
    assert!(matches!(results[0], TxResult::Exec(r) if r.rows_affected == 2));
    assert!(matches!(&results[2], TxResult::Rows(rows) if rows[0]["n"] == 7));
    let failed = db
        .transaction(|tx| {
            tx.exec("UPDATE users SET age = 0", ())?;
            tx.save(&user("ada", 1, None))?; // the name is UNIQUE: this fails
            Ok(())
        })
        .await
        .expect_err("a failing statement");
    assert_eq!(failed.status(), Some(StatusCode::BAD_REQUEST), "{failed}");
    assert_eq!(users.find(ada.id).await.expect("find").map(|u| u.age), Some(38), "nothing of it applied");

    assert!(users.delete(&ada).await.expect("delete"));
    assert!(!users.delete_by_id(ada.id).await.expect("delete again"));
    let error = db.query::<User>("SELECT * FROM nowhere", ()).await.expect_err("no table");
    assert_eq!(error.status(), Some(StatusCode::BAD_REQUEST));
    assert!(error.server_message().is_some_and(|m| m.contains("no such table")), "{error}");
    db.drop_table("posts").await.expect("drop");
    assert!(db.drop_table("posts").await.err().is_some_and(|e| e.is_not_found()));
}
