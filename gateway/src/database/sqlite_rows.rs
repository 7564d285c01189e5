//! Statements on one SQLite connection: writes, reads within the row limit and the result's
//! byte budget (each cell charged before it is copied), conversions between SQLite's values
//! and ours, and the classification of SQLite's errors by who is at fault.

use rusqlite::types::ValueRef;
use rusqlite::{Connection, ErrorCode};

use super::{
    budget::ResultBudget, budget::blob_cost, budget::scalar_cost, budget::text_cost, engine::DbError,
    engine::ExecResult, value::Rows, value::SqlValue, value::Statement,
};

pub(super) fn run_write(connection: &Connection, statement: &Statement) -> Result<ExecResult, DbError> {
    let mut prepared = connection.prepare(&statement.sql).map_err(classify)?;
    let before = connection.total_changes();
    let changed =
        prepared.execute(rusqlite::params_from_iter(statement.params.iter().map(to_sql))).map_err(classify)?;
    // SQLite's count of changed rows is that of the last INSERT, UPDATE or DELETE: after a
    // statement that changed no rows (CREATE TABLE...), it still holds the previous one's.
    let changed = if connection.total_changes() == before { 0 } else { changed };
    Ok(ExecResult { rows_affected: changed as u64, last_insert_id: connection.last_insert_rowid() })
}

/// Runs a read, failing past `max_rows` rows or once `budget` is spent. Each cell is
/// measured where SQLite holds it and charged before it is copied.
pub(super) fn run_query(
    connection: &Connection,
    statement: &Statement,
    max_rows: usize,
    budget: &mut ResultBudget,
) -> Result<Rows, DbError> {
    let mut prepared = connection.prepare(&statement.sql).map_err(classify)?;
    let columns: Vec<String> = prepared.column_names().iter().map(|c| (*c).to_owned()).collect();
    for column in &columns {
        budget.name(column)?;
    }
    let mut cursor =
        prepared.query(rusqlite::params_from_iter(statement.params.iter().map(to_sql))).map_err(classify)?;
    let mut rows = Vec::new();
    while let Some(row) = cursor.next().map_err(classify)? {
        if rows.len() == max_rows {
            return Err(DbError::TooManyRows(max_rows));
        }
        budget.row()?;
        let mut cells = Vec::with_capacity(columns.len());
        for (i, column) in columns.iter().enumerate() {
            let value = row.get_ref(i).unwrap_or(ValueRef::Null);
            budget.cell(cost(column, value))?;
            cells.push(from_sql(value));
        }
        rows.push(cells);
    }
    Ok(Rows { columns, rows })
}

/// What `value` in `column` costs the result's budget.
fn cost(column: &str, value: ValueRef<'_>) -> usize {
    match value {
        ValueRef::Text(bytes) => text_cost(column, bytes),
        ValueRef::Blob(bytes) => blob_cost(column, bytes.len()),
        ValueRef::Null | ValueRef::Integer(_) | ValueRef::Real(_) => scalar_cost(column),
    }
}

fn to_sql(value: &SqlValue) -> rusqlite::types::Value {
    use rusqlite::types::Value;
    match value {
        SqlValue::Null => Value::Null,
        SqlValue::Integer(i) => Value::Integer(*i),
        SqlValue::Real(f) => Value::Real(*f),
        SqlValue::Text(t) => Value::Text(t.clone()),
        SqlValue::Blob(b) => Value::Blob(b.clone()),
    }
}

fn from_sql(value: ValueRef<'_>) -> SqlValue {
    match value {
        ValueRef::Null => SqlValue::Null,
        ValueRef::Integer(i) => SqlValue::Integer(i),
        ValueRef::Real(f) => SqlValue::Real(f),
        ValueRef::Text(t) => SqlValue::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => SqlValue::Blob(b.to_vec()),
    }
}

/// Classifies a SQLite error by who is at fault.
pub(super) fn classify(err: rusqlite::Error) -> DbError {
    match &err {
        rusqlite::Error::SqliteFailure(failure, message) => {
            let text = message.clone().unwrap_or_else(|| failure.to_string());
            match failure.code {
                ErrorCode::ConstraintViolation => DbError::Constraint(text),
                ErrorCode::AuthorizationForStatementDenied => DbError::Sql(format!("statement not allowed ({text})")),
                ErrorCode::DiskFull => DbError::Full,
                ErrorCode::OutOfMemory => DbError::OutOfMemory,
                ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => DbError::Unavailable(text),
                ErrorCode::OperationInterrupted => DbError::Sql("interrupted".into()),
                ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase | ErrorCode::SystemIoFailure => {
                    DbError::Internal(text)
                }
                ErrorCode::CannotOpen | ErrorCode::PermissionDenied | ErrorCode::ReadOnly => DbError::Unavailable(text),
                _ if text.starts_with("not authorized") => DbError::Sql(format!("statement not allowed ({text})")),
                _ => DbError::Sql(text),
            }
        }
        rusqlite::Error::SqlInputError { error, msg, .. }
            if error.code == ErrorCode::AuthorizationForStatementDenied =>
        {
            DbError::Sql(format!("statement not allowed ({msg})"))
        }
        rusqlite::Error::SqlInputError { msg, .. } if msg.starts_with("not authorized") => {
            DbError::Sql(format!("statement not allowed ({msg})"))
        }
        rusqlite::Error::SqlInputError { msg, .. } => DbError::Sql(msg.clone()),
        _ => DbError::Sql(err.to_string()),
    }
}

/// Names the failing statement of a transaction.
pub(super) fn in_statement(err: DbError, index: usize) -> DbError {
    match err {
        DbError::Sql(m) => DbError::Sql(format!("statement {index}: {m}")),
        DbError::Constraint(m) => DbError::Constraint(format!("statement {index}: {m}")),
        other => other,
    }
}
