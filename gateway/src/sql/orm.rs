//! The reference's query helpers, `find` and `select`, turned into one parameterized statement.
//! Values (criteria, `where` arguments, limit, offset) are always bound, never spliced. Table
//! and criteria names must be identifiers. Select lists, join conditions, `where` expressions
//! and orderings are SQL fragments by design (as in the reference); they run with exactly the
//! caller's own power over its own database, like `/v1/rqlite/query`.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::json::to_sql;
use crate::database::{SqlValue, Statement};
use crate::http::error::ApiError;

/// A join: `kind` `INNER`, `LEFT` (anything else: a plain `JOIN`), `table`, `on`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Join {
    kind: String,
    table: String,
    on: String,
}

/// The shaping options of `find` (in `options` or at the top level).
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Shape {
    select: Vec<String>,
    joins: Vec<Join>,
    group_by: Vec<String>,
    order_by: Vec<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

impl Shape {
    fn is_empty(&self) -> bool {
        self.select.is_empty()
            && self.joins.is_empty()
            && self.group_by.is_empty()
            && self.order_by.is_empty()
            && self.limit.is_none()
            && self.offset.is_none()
    }
}

/// Body of `find` and `find-one`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FindBody {
    /// The table.
    pub table: String,
    criteria: Map<String, Value>,
    options: Shape,
    // The same options at the top level, used only when `options` is empty. Listed here,
    // not flattened: serde cannot refuse unknown fields next to a flattened struct.
    select: Vec<String>,
    joins: Vec<Join>,
    group_by: Vec<String>,
    order_by: Vec<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

impl FindBody {
    /// The options given at the top level (taken out of the body).
    fn top_level(&mut self) -> Shape {
        Shape {
            select: std::mem::take(&mut self.select),
            joins: std::mem::take(&mut self.joins),
            group_by: std::mem::take(&mut self.group_by),
            order_by: std::mem::take(&mut self.order_by),
            limit: self.limit,
            offset: self.offset,
        }
    }
}

/// One `where` condition of `select`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Condition {
    conj: String,
    expr: String,
    args: Vec<Value>,
}

/// Body of `select`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SelectBody {
    /// The table.
    pub table: String,
    alias: String,
    #[serde(rename = "where")]
    conditions: Vec<Condition>,
    select: Vec<String>,
    joins: Vec<Join>,
    group_by: Vec<String>,
    order_by: Vec<String>,
    limit: Option<i64>,
    offset: Option<i64>,
    /// Return one row object (404 when none) instead of `items`.
    pub one: bool,
}

/// The statement for `find` (`one`: at most one row).
pub fn find(mut body: FindBody, one: bool) -> Result<Statement, ApiError> {
    let table = identifier(&body.table).ok_or_else(|| ApiError::BadRequest("invalid table identifier".into()))?;
    let shape = if body.options.is_empty() { body.top_level() } else { body.options };
    let mut params = Vec::new();
    let mut conditions = Vec::new();
    for (column, value) in &body.criteria {
        let column =
            identifier(column).ok_or_else(|| ApiError::BadRequest(format!("invalid column identifier: {column}")))?;
        if value.is_null() {
            conditions.push(format!("{column} IS NULL"));
        } else {
            conditions.push(format!("{column} = ?"));
            params.push(to_sql(value));
        }
    }
    let filter = if conditions.is_empty() { String::new() } else { format!(" WHERE {}", conditions.join(" AND ")) };
    Ok(assemble(&table, &filter, shape, if one { Some(1) } else { None }, params))
}

/// The statement for `select`.
pub fn select(body: SelectBody) -> Result<Statement, ApiError> {
    let mut table = identifier(&body.table).ok_or_else(|| ApiError::BadRequest("invalid table identifier".into()))?;
    if !body.alias.is_empty() {
        let alias = identifier(&body.alias).ok_or_else(|| ApiError::BadRequest("invalid alias".into()))?;
        table = format!("{table} AS {alias}");
    }
    let mut params = Vec::new();
    let mut filter = String::new();
    for (i, condition) in body.conditions.iter().enumerate() {
        if condition.expr.trim().is_empty() {
            return Err(ApiError::BadRequest("a where condition has no expr".into()));
        }
        let conj = if i == 0 {
            " WHERE"
        } else if condition.conj.eq_ignore_ascii_case("or") {
            " OR"
        } else {
            " AND"
        };
        filter.push_str(&format!("{conj} ({})", condition.expr));
        params.extend(condition.args.iter().map(to_sql));
    }
    let limit = if body.one { Some(1) } else { None };
    let shape = Shape {
        select: body.select,
        joins: body.joins,
        group_by: body.group_by,
        order_by: body.order_by,
        limit: body.limit,
        offset: body.offset,
    };
    Ok(assemble(&table, &filter, shape, limit, params))
}

fn assemble(from: &str, filter: &str, shape: Shape, limit: Option<i64>, mut params: Vec<SqlValue>) -> Statement {
    let columns = if shape.select.is_empty() { "*".to_owned() } else { shape.select.join(", ") };
    let mut sql = format!("SELECT {columns} FROM {from}");
    for join in &shape.joins {
        let kind = match join.kind.to_ascii_uppercase().as_str() {
            "INNER" => "INNER JOIN",
            "LEFT" => "LEFT JOIN",
            _ => "JOIN",
        };
        sql.push_str(&format!(" {kind} {} ON {}", join.table, join.on));
    }
    sql.push_str(filter);
    if !shape.group_by.is_empty() {
        sql.push_str(&format!(" GROUP BY {}", shape.group_by.join(", ")));
    }
    if !shape.order_by.is_empty() {
        sql.push_str(&format!(" ORDER BY {}", shape.order_by.join(", ")));
    }
    match (limit.or(shape.limit), shape.offset) {
        (None, None) => {}
        (limit, offset) => {
            sql.push_str(" LIMIT ? OFFSET ?");
            params.push(SqlValue::Integer(limit.unwrap_or(-1)));
            params.push(SqlValue::Integer(offset.unwrap_or(0)));
        }
    }
    Statement { sql, params }
}

/// `name` if it is an identifier, optionally qualified once (`t.col`).
pub fn identifier(name: &str) -> Option<String> {
    let part = |p: &str| {
        p.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    let mut parts = name.split('.');
    let valid = parts.next().is_some_and(part) && parts.next().is_none_or(part) && parts.next().is_none();
    valid.then(|| name.to_owned())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse<T: serde::de::DeserializeOwned>(value: Value) -> T {
        serde_json::from_value(value).expect("body")
    }

    #[test]
    fn find_binds_criteria_and_uses_top_level_options_only_without_options() {
        let body = json!({"table": "users", "criteria": {"age": 30, "name": null}, "order_by": ["name"], "limit": 5});
        let statement = find(parse(body), false).expect("find");
        assert_eq!(statement.sql, "SELECT * FROM users WHERE age = ? AND name IS NULL ORDER BY name LIMIT ? OFFSET ?");
        assert_eq!(statement.params, [SqlValue::Integer(30), SqlValue::Integer(5), SqlValue::Integer(0)]);
        let both = json!({"table": "t", "options": {"select": ["id"]}, "select": ["ignored"]});
        assert_eq!(find(parse(both), true).expect("find").sql, "SELECT id FROM t LIMIT ? OFFSET ?");
    }

    #[test]
    fn select_joins_conditions_in_order_with_their_arguments() {
        let body = json!({
            "table": "orders", "alias": "o", "select": ["o.id", "c.name"],
            "joins": [{"kind": "left", "table": "customers c", "on": "c.id = o.customer_id"}],
            "where": [{"expr": "o.total > ?", "args": [10]}, {"conj": "or", "expr": "c.name = ?", "args": ["x"]}],
            "offset": 20
        });
        let statement = select(parse(body)).expect("select");
        assert_eq!(
            statement.sql,
            "SELECT o.id, c.name FROM orders AS o LEFT JOIN customers c ON c.id = o.customer_id \
             WHERE (o.total > ?) OR (c.name = ?) LIMIT ? OFFSET ?"
        );
        assert_eq!(statement.params.len(), 4);
    }

    #[test]
    fn names_must_be_identifiers() {
        for bad in ["users; DROP TABLE x", "", "1abc", "a.b.c", "a b", "\"quoted\""] {
            assert!(identifier(bad).is_none(), "{bad}");
            assert!(find(parse(json!({"table": bad})), false).is_err(), "{bad}");
        }
        let hostile_column = json!({"table": "t", "criteria": {"x = 1 OR 1": 1}});
        assert!(find(parse(hostile_column), false).is_err());
        assert_eq!(identifier("t.col").as_deref(), Some("t.col"));
    }
}
