//! `orama db query|exec|tables|schema`.

use orama_client::NetworkClient;
use serde_json::{Value, json};

use crate::args::DbCommand;
use crate::failure::Failure;
use crate::output::{Output, json_or_text, table, to_json};

pub async fn run(command: DbCommand, client: &NetworkClient, out: &Output) -> Result<(), Failure> {
    let db = client.database();
    match command {
        DbCommand::Query(statement) => {
            let args: Vec<Value> = statement.args.iter().map(|a| json_or_text(a)).collect();
            let rows = db.query_rows(&statement.sql, args).await?;
            out.rows(&rows, &columns(&rows));
        }
        DbCommand::Exec(statement) => {
            let args: Vec<Value> = statement.args.iter().map(|a| json_or_text(a)).collect();
            let result = db.exec(&statement.sql, args).await?;
            out.result(&to_json(&result), || {
                format!("{} row(s) affected, last insert id {}", result.rows_affected, result.last_insert_id)
            });
        }
        DbCommand::Tables => {
            let tables = db.tables().await?;
            let rows: Vec<Vec<String>> = tables.iter().map(|t| vec![t.name.clone(), t.kind.clone()]).collect();
            out.result(&to_json(&tables), || table(&["name".into(), "type".into()], &rows));
        }
        DbCommand::Schema { table: wanted } => {
            let tables = db.tables().await?;
            let chosen: Vec<_> = tables.iter().filter(|t| wanted.as_ref().is_none_or(|w| *w == t.name)).collect();
            if let Some(name) = wanted.filter(|_| chosen.is_empty()) {
                return Err(Failure { message: format!("no table named {name}"), code: 4 });
            }
            let value = json!(chosen.iter().map(|t| json!({ "name": t.name, "sql": t.sql })).collect::<Vec<_>>());
            out.result(&value, || chosen.iter().map(|t| format!("{};", t.sql)).collect::<Vec<_>>().join("\n"));
        }
    }
    Ok(())
}

/// The columns of `rows`, in the first row's order, then any others as they appear.
fn columns(rows: &[serde_json::Map<String, Value>]) -> Vec<String> {
    let mut columns: Vec<String> = Vec::new();
    for row in rows {
        for name in row.keys() {
            if !columns.contains(name) {
                columns.push(name.clone());
            }
        }
    }
    columns
}
