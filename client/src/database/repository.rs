//! A table seen as a collection of one serde struct ([`Entity`]): find by key or condition,
//! save (insert a new row, or insert-or-update a row with its key), delete.

use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::args::Args;
use super::query::QueryBuilder;
use super::sql::{self, ExecResult, from_row, identifier};
use crate::error::{Error, Result};
use crate::transport::Transport;

/// A struct stored as a row of `TABLE`: each field a column of the same name.
///
/// ```
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct User {
///     id: i64,
///     name: String,
///     age: i64,
/// }
/// impl orama_client::database::Entity for User {
///     const TABLE: &'static str = "users";
/// }
/// ```
pub trait Entity: Serialize + DeserializeOwned + Send + Sync {
    /// The table.
    const TABLE: &'static str;
    /// The primary key column (default `id`). A key that is null, missing or 0 means "new":
    /// [`Repository::save`] inserts without it and sets it from the generated rowid.
    const PRIMARY_KEY: &'static str = "id";
}

/// See the module docs. Get one from [`super::DatabaseClient::repository`].
pub struct Repository<T> {
    transport: Transport,
    entity: PhantomData<fn() -> T>,
}

impl<T: Entity> Repository<T> {
    pub(crate) fn new(transport: Transport) -> Repository<T> {
        Repository { transport, entity: PhantomData }
    }

    /// A query on the table, for what the other methods do not cover.
    pub fn query(&self) -> QueryBuilder {
        QueryBuilder::new(self.transport.clone(), T::TABLE)
    }

    /// The row whose key is `id`.
    pub async fn find(&self, id: impl Serialize) -> Result<Option<T>> {
        let condition = format!("{} = ?", identifier(T::PRIMARY_KEY)?);
        let id = serde_json::to_value(id).map_err(|e| Error::Invalid(e.to_string()))?;
        self.query().where_(&condition, id).get_one().await
    }

    /// The first row matching `condition`.
    pub async fn find_one(&self, condition: &str, args: impl Args) -> Result<Option<T>> {
        self.query().where_(condition, args).get_one().await
    }

    /// Every row matching `condition`, by key.
    pub async fn find_many(&self, condition: &str, args: impl Args) -> Result<Vec<T>> {
        self.query().where_(condition, args).order_by(&identifier(T::PRIMARY_KEY)?).get_many().await
    }

    /// Every row, by key.
    pub async fn all(&self) -> Result<Vec<T>> {
        self.query().order_by(&identifier(T::PRIMARY_KEY)?).get_many().await
    }

    /// Inserts `entity` if its key is unset (then sets the key from the new rowid), else
    /// inserts or updates the row with its key.
    pub async fn save(&self, entity: &mut T) -> Result<ExecResult> {
        let (sql, args, generated) = save_statement(entity)?;
        let result = sql::exec(&self.transport, &sql, args).await?;
        if generated {
            let mut object = object(entity)?;
            object.insert(T::PRIMARY_KEY.to_owned(), Value::from(result.last_insert_id));
            *entity = from_row(object)?;
        }
        Ok(result)
    }

    /// Deletes `entity`'s row; whether there was one.
    pub async fn delete(&self, entity: &T) -> Result<bool> {
        let (sql, args) = delete_statement(entity)?;
        Ok(sql::exec(&self.transport, &sql, args).await?.rows_affected > 0)
    }

    /// Deletes the row whose key is `id`; whether there was one.
    pub async fn delete_by_id(&self, id: impl Serialize) -> Result<bool> {
        let sql = format!("DELETE FROM {} WHERE {} = ?", identifier(T::TABLE)?, identifier(T::PRIMARY_KEY)?);
        let id = serde_json::to_value(id).map_err(|e| Error::Invalid(e.to_string()))?;
        Ok(sql::exec(&self.transport, &sql, id).await?.rows_affected > 0)
    }

    /// How many rows the table has.
    pub async fn count(&self) -> Result<u64> {
        self.query().count().await
    }
}

/// The statement saving `entity`, its arguments, and whether the key is generated.
pub(crate) fn save_statement<T: Entity>(entity: &T) -> Result<(String, Vec<Value>, bool)> {
    let mut row = object(entity)?;
    let key = row.get(T::PRIMARY_KEY).cloned().unwrap_or(Value::Null);
    let generated = key.is_null() || key.as_i64() == Some(0);
    if generated {
        row.remove(T::PRIMARY_KEY);
    }
    let table = identifier(T::TABLE)?;
    let columns = row.keys().map(|c| identifier(c)).collect::<Result<Vec<_>>>()?;
    let placeholders = vec!["?"; columns.len()].join(", ");
    let mut sql = if columns.is_empty() {
        format!("INSERT INTO {table} DEFAULT VALUES")
    } else {
        format!("INSERT INTO {table} ({}) VALUES ({placeholders})", columns.join(", "))
    };
    if !generated {
        let key = identifier(T::PRIMARY_KEY)?;
        let updates: Vec<String> =
            columns.iter().filter(|c| **c != key).map(|c| format!("{c} = excluded.{c}")).collect();
        sql += &match updates.is_empty() {
            true => format!(" ON CONFLICT({key}) DO NOTHING"),
            false => format!(" ON CONFLICT({key}) DO UPDATE SET {}", updates.join(", ")),
        };
    }
    Ok((sql, row.into_iter().map(|(_, v)| v).collect(), generated))
}

/// The statement deleting `entity` by its key.
pub(crate) fn delete_statement<T: Entity>(entity: &T) -> Result<(String, Vec<Value>)> {
    let key = object(entity)?.remove(T::PRIMARY_KEY).unwrap_or(Value::Null);
    if key.is_null() {
        return Err(Error::Invalid(format!("{} has no {} to delete by", T::TABLE, T::PRIMARY_KEY)));
    }
    let sql = format!("DELETE FROM {} WHERE {} = ?", identifier(T::TABLE)?, identifier(T::PRIMARY_KEY)?);
    Ok((sql, vec![key]))
}

fn object<T: Serialize>(entity: &T) -> Result<Map<String, Value>> {
    match serde_json::to_value(entity) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(Error::Invalid("an entity serializes as a JSON object (a struct with named fields)".into())),
        Err(e) => Err(Error::Invalid(format!("entity: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize, serde::Deserialize)]
    struct User {
        id: Option<i64>,
        name: String,
    }

    impl Entity for User {
        const TABLE: &'static str = "users";
    }

    #[test]
    fn a_new_entity_is_inserted_and_a_keyed_one_upserted() {
        let (sql, args, generated) = save_statement(&User { id: None, name: "ada".into() }).expect("statement");
        assert_eq!(sql, r#"INSERT INTO "users" ("name") VALUES (?)"#);
        assert_eq!(args, vec![Value::from("ada")]);
        assert!(generated);
        let (sql, args, generated) = save_statement(&User { id: Some(7), name: "ada".into() }).expect("statement");
        assert_eq!(
            sql,
            r#"INSERT INTO "users" ("id", "name") VALUES (?, ?) ON CONFLICT("id") DO UPDATE SET "name" = excluded."name""#
        );
        assert_eq!(args, vec![Value::from(7), Value::from("ada")]);
        assert!(!generated);
    }

    #[test]
    fn identifiers_are_checked_never_interpolated_raw() {
        assert!(identifier("users; DROP TABLE x").is_err());
        assert!(identifier("").is_err());
        assert_eq!(identifier("main.users").expect("dotted"), r#""main"."users""#);
        assert!(delete_statement(&User { id: None, name: "x".into() }).is_err());
    }
}
