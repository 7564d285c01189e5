//! `/v1/rqlite/*`: query, exec, find, find-one, select, transaction, schema, create-table and
//! drop-table in the reference's shapes, each on the caller's own namespace database. SQL
//! errors are the caller's (400 with SQLite's message), an engine that is down is a 503, a
//! statement past the time limit a 504, a full quota a 507.

use std::future::Future;
use std::sync::Arc;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde::de::IgnoredAny;
use serde_json::{Value, json};
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Reply as _};

use super::json::{RowObjects, params};
use super::orm::{self, FindBody, SelectBody};
use super::service::SqlService;
use crate::auth::request::{authenticated_post, in_namespace};
use crate::auth::{Authenticator, Principal, authenticated};
use crate::database::{Database, DbError, Op, OpResult, Statement};
use crate::http::error::ApiError;

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct SqlBody {
    sql: String,
    args: Vec<Value>,
}

impl SqlBody {
    fn statement(self) -> Result<Statement, ApiError> {
        if self.sql.trim().is_empty() {
            return Err(ApiError::BadRequest("invalid body: {sql, args?}".into()));
        }
        Ok(Statement { params: params(&self.args), sql: self.sql })
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct OpBody {
    kind: String,
    sql: String,
    args: Vec<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct TransactionBody {
    ops: Vec<OpBody>,
    statements: Vec<String>,
    return_results: bool,
    /// Accepted and ignored, as the reference does: a failing op always stops the batch.
    #[allow(dead_code)]
    stop_on_error: IgnoredAny,
    /// Accepted and ignored, as the reference does.
    #[allow(dead_code)]
    partial_results: IgnoredAny,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct CreateTableBody {
    schema: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct DropTableBody {
    table: String,
}

async fn query(db: Arc<dyn Database>, body: SqlBody) -> Result<Response, ApiError> {
    let rows = db.query(body.statement()?).await?;
    Ok(items(&rows))
}

async fn exec(db: Arc<dyn Database>, body: SqlBody) -> Result<Response, ApiError> {
    let result = db.execute(body.statement()?).await?;
    let reply = json!({
        "rows_affected": result.rows_affected, "last_insert_id": result.last_insert_id, "execution_state": "ok",
    });
    Ok(warp::reply::json(&reply).into_response())
}

async fn find(db: Arc<dyn Database>, body: FindBody, one: bool) -> Result<Response, ApiError> {
    if body.table.is_empty() {
        return Err(ApiError::BadRequest("invalid body: {table, criteria, options?}".into()));
    }
    let rows = db.query(orm::find(body, one)?).await?;
    if one { first_row(&rows) } else { Ok(items(&rows)) }
}

async fn select(db: Arc<dyn Database>, body: SelectBody) -> Result<Response, ApiError> {
    if body.table.is_empty() {
        let shape = "{table, select?, where?, joins?, order_by?, group_by?, limit?, offset?, one?}";
        return Err(ApiError::BadRequest(format!("invalid body: {shape}")));
    }
    let one = body.one;
    let rows = db.query(orm::select(body)?).await?;
    if one { first_row(&rows) } else { Ok(items(&rows)) }
}

async fn transaction(db: Arc<dyn Database>, body: TransactionBody) -> Result<Response, ApiError> {
    let ops: Vec<Op> = if body.ops.is_empty() {
        body.statements.into_iter().map(|sql| Op::Exec(Statement::new(sql))).collect()
    } else {
        let to_op = |op: OpBody| {
            let statement = Statement { params: params(&op.args), sql: op.sql };
            match op.kind.to_ascii_lowercase().as_str() {
                "exec" => Ok(Op::Exec(statement)),
                "query" => Ok(Op::Query(statement)),
                _ => Err(ApiError::BadRequest(format!("invalid op kind: {}", op.kind))),
            }
        };
        body.ops.into_iter().map(to_op).collect::<Result<_, _>>()?
    };
    let empty = ops.iter().any(|op| matches!(op, Op::Exec(s) | Op::Query(s) if s.sql.trim().is_empty()));
    if ops.is_empty() || empty {
        let shape = "{ops:[{kind,sql,args?}], return_results?} or {statements:[sql...]}";
        return Err(ApiError::BadRequest(format!("invalid body: {shape}")));
    }
    let results = db.batch(ops).await?;
    if !body.return_results {
        return Ok(warp::reply::json(&json!({ "status": "ok" })).into_response());
    }
    let results: Vec<Outcome> = results
        .iter()
        .map(|result| match result {
            OpResult::Exec(e) => Outcome::Exec { rows_affected: e.rows_affected, last_insert_id: e.last_insert_id },
            OpResult::Query(rows) => Outcome::Query(RowObjects(rows)),
        })
        .collect();
    Ok(warp::reply::json(&Transacted { status: "ok", results }).into_response())
}

async fn create_table(db: Arc<dyn Database>, body: CreateTableBody) -> Result<Response, ApiError> {
    if body.schema.trim().is_empty() {
        return Err(ApiError::BadRequest("invalid body: {schema}".into()));
    }
    db.execute(Statement::new(body.schema)).await?;
    Ok(warp::reply::with_status(warp::reply::json(&json!({ "status": "ok" })), StatusCode::CREATED).into_response())
}

async fn drop_table(db: Arc<dyn Database>, body: DropTableBody) -> Result<Response, ApiError> {
    if body.table.is_empty() {
        return Err(ApiError::BadRequest("invalid body: {table}".into()));
    }
    let table = orm::identifier(&body.table)
        .filter(|t| !t.contains('.'))
        .ok_or_else(|| ApiError::BadRequest("invalid table identifier".into()))?;
    match db.execute(Statement::new(format!("DROP TABLE \"{table}\""))).await {
        Ok(_) => Ok(warp::reply::json(&json!({ "status": "ok" })).into_response()),
        Err(DbError::Sql(message)) if message.contains("no such table") => Err(ApiError::NotFound(message)),
        Err(err) => Err(err.into()),
    }
}

/// A transaction's answer with its results.
#[derive(serde::Serialize)]
struct Transacted<'a> {
    status: &'static str,
    results: Vec<Outcome<'a>>,
}

/// One step's result: a write's effect, or a read's rows.
#[derive(serde::Serialize)]
#[serde(untagged)]
enum Outcome<'a> {
    Exec { rows_affected: u64, last_insert_id: i64 },
    Query(RowObjects<'a>),
}

/// `{count, items}` written straight from the rows.
fn items(rows: &crate::database::Rows) -> Response {
    #[derive(serde::Serialize)]
    struct Items<'a> {
        count: usize,
        items: RowObjects<'a>,
    }
    warp::reply::json(&Items { count: rows.len(), items: RowObjects(rows) }).into_response()
}

fn first_row(rows: &crate::database::Rows) -> Result<Response, ApiError> {
    let row = RowObjects(rows).first().ok_or_else(|| ApiError::NotFound("not found".into()))?;
    Ok(warp::reply::json(&row).into_response())
}

/// `POST /v1/rqlite/<name>` with a JSON body, run by `handler` on the caller's database.
fn post<T, F, Fut>(name: &'static str, auth: &Authenticator, sql: &SqlService, handler: F) -> BoxedFilter<(Response,)>
where
    T: DeserializeOwned + Send + 'static,
    F: Fn(Arc<dyn Database>, T) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<Response, ApiError>> + Send + 'static,
{
    authenticated_post("rqlite", name, auth, sql.clone(), move |sql: SqlService, principal: Principal, body: T| {
        let handler = handler.clone();
        async move { handler(sql.database(&principal.namespace).await?, body).await }
    })
}

/// Every `/v1/rqlite/*` route.
pub fn routes(auth: &Authenticator, sql: &SqlService) -> BoxedFilter<(Response,)> {
    let schema_route = warp::path!("v1" / "rqlite" / "schema")
        .and(warp::get())
        .and(authenticated(auth.clone()))
        .and(crate::http::state::with(sql.clone()))
        .and_then(move |principal: Principal, sql: SqlService| async move {
            let tables = sql.schema(&principal.namespace).await.map_err(warp::reject::custom)?;
            let reply = warp::reply::json(&json!({ "count": tables.len(), "tables": tables }));
            Ok::<_, warp::Rejection>(in_namespace(&principal, reply.into_response()))
        });
    post("query", auth, sql, query)
        .or(post("exec", auth, sql, exec))
        .unify()
        .or(post("find", auth, sql, |db, body| find(db, body, false)))
        .unify()
        .or(post("find-one", auth, sql, |db, body| find(db, body, true)))
        .unify()
        .or(post("select", auth, sql, select))
        .unify()
        .or(post("transaction", auth, sql, transaction))
        .unify()
        .or(post("create-table", auth, sql, create_table))
        .unify()
        .or(post("drop-table", auth, sql, drop_table))
        .unify()
        .or(schema_route)
        .unify()
        .boxed()
}
