//! What a tenant's statement can do to the shared store, read from its syntax tree: whether
//! it only reads, only frees space, or writes, and for a write how much it can store compared
//! with its own size. The namespace's [`quota`](super::quota) trusts a write's own size only
//! where the syntax proves the bound: `INSERT … VALUES` of literals and parameters (each used
//! once) and schema statements. Everything else (`UPDATE`, `INSERT … SELECT`, function calls,
//! subqueries, upserts that update, `CREATE INDEX`, `CREATE TABLE … AS`) can store far more
//! than it says, and is measured instead.
//!
//! Two ways of storing much from little are refused outright on the shared store, because
//! they would make every later plain insert unbounded: generated columns and indexes on
//! expressions (an expression such as `a || a || a …` stores many times the row). Column
//! defaults are allowed: a namespace that declares any makes its inserts that name columns
//! (and so may leave a default to the table) count as unbounded.

use std::collections::HashSet;

use sqlparser::ast::{
    AlterTableOperation, ColumnDef, ColumnOption, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Insert,
    OnConflictAction, OnInsert, SetExpr, Statement, TableConstraint, Value,
};

use super::refused::Refused;

/// Functions a plain insert may call: their result is a few bytes whatever their arguments
/// (or no longer than them).
const BOUNDED_FUNCTIONS: &[&str] = &[
    "random",
    "date",
    "time",
    "datetime",
    "julianday",
    "unixepoch",
    "current_timestamp",
    "current_date",
    "current_time",
    "lower",
    "upper",
    "abs",
    "coalesce",
    "ifnull",
];

/// What a statement does to the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// It only reads.
    Read,
    /// It can only shrink the namespace (a delete or a drop).
    Frees,
    /// It writes.
    Writes(Write),
}

/// A write, as far as the quota is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Write {
    /// Tables and indexes it creates, counted high: a table, and one index for each `UNIQUE`
    /// and `PRIMARY KEY` it declares.
    pub objects: u64,
    /// How much it can store compared with its own size.
    pub growth: Growth,
    /// Whether it declares a column default.
    pub declares_default: bool,
}

/// How much a write can store compared with its own text and parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Growth {
    /// At most its own size (once per index of the table).
    OwnSize,
    /// Its own size and any column defaults it leaves to the table (it names its columns).
    OwnSizeAndDefaults,
    /// Nothing its size says: it updates rows, copies them or computes values.
    Unbounded,
}

impl Write {
    fn grows(growth: Growth) -> Effect {
        Effect::Writes(Write { objects: 0, growth, declares_default: false })
    }
}

/// What `statement` (already one of the allowed kinds) does, or why the shared store refuses it.
pub fn effect_of(statement: &Statement) -> Result<Effect, Refused> {
    Ok(match statement {
        Statement::Query(query) => match query.body.as_ref() {
            SetExpr::Delete(_) => Effect::Frees,
            SetExpr::Insert(_) | SetExpr::Update(_) | SetExpr::Merge(_) => Write::grows(Growth::Unbounded),
            _ => Effect::Read,
        },
        Statement::Delete(_) | Statement::Drop { .. } => Effect::Frees,
        Statement::Insert(insert) => Write::grows(insert_growth(insert)),
        Statement::CreateTable(create) => {
            create.columns.iter().try_for_each(refuse_generated)?;
            let unique = create
                .columns
                .iter()
                .flat_map(|c| &c.options)
                .filter(|o| matches!(o.option, ColumnOption::Unique(_) | ColumnOption::PrimaryKey(_)));
            let keys = create
                .constraints
                .iter()
                .filter(|c| matches!(c, TableConstraint::Unique(_) | TableConstraint::PrimaryKey(_)));
            Effect::Writes(Write {
                objects: 1 + (unique.count() + keys.count()) as u64,
                growth: if create.query.is_some() { Growth::Unbounded } else { Growth::OwnSize },
                declares_default: create.columns.iter().any(has_default),
            })
        }
        Statement::CreateIndex(index) => {
            if !index.columns.iter().all(|c| names_a_column(&c.column.expr)) {
                return Err(Refused::Kind("an index on an expression (indexes name columns here)".into()));
            }
            Effect::Writes(Write { objects: 1, growth: Growth::Unbounded, declares_default: false })
        }
        Statement::AlterTable(alter) => {
            let mut declares_default = false;
            for operation in &alter.operations {
                if let AlterTableOperation::AddColumn { column_def, .. } = operation {
                    refuse_generated(column_def)?;
                    declares_default |= has_default(column_def);
                }
            }
            Effect::Writes(Write { objects: 0, growth: Growth::OwnSize, declares_default })
        }
        _ => Write::grows(Growth::Unbounded),
    })
}

fn refuse_generated(column: &ColumnDef) -> Result<(), Refused> {
    match column.options.iter().any(|o| matches!(o.option, ColumnOption::Generated { .. })) {
        true => Err(Refused::Kind("a generated column (columns hold what is inserted here)".into())),
        false => Ok(()),
    }
}

/// Whether an index entry is a column (with a collation or not).
fn names_a_column(expr: &Expr) -> bool {
    match expr {
        Expr::Identifier(_) => true,
        Expr::Collate { expr, .. } => matches!(expr.as_ref(), Expr::Identifier(_)),
        _ => false,
    }
}

fn has_default(column: &ColumnDef) -> bool {
    column.options.iter().any(|o| matches!(o.option, ColumnOption::Default(_)))
}

/// An insert stores at most its own size when its rows are literals and parameters, and an
/// upsert does nothing or updates nothing.
fn insert_growth(insert: &Insert) -> Growth {
    let updates_on_conflict = match &insert.on {
        Some(OnInsert::OnConflict(conflict)) => matches!(conflict.action, OnConflictAction::DoUpdate(_)),
        Some(_) => true,
        None => false,
    };
    let plain_rows = match &insert.source {
        Some(source) if source.with.is_none() => match source.body.as_ref() {
            SetExpr::Values(values) => {
                let mut named = HashSet::new();
                values.rows.iter().flatten().all(|expr| plain(expr, &mut named))
            }
            _ => false,
        },
        _ => false,
    };
    match (plain_rows && !updates_on_conflict, insert.columns.is_empty()) {
        (false, _) => Growth::Unbounded,
        (true, true) => Growth::OwnSize,
        (true, false) => Growth::OwnSizeAndDefaults,
    }
}

/// Whether `expr` is no larger stored than written: a literal, a parameter used once (a
/// numbered or named one repeated would store its value many times), or a bounded function of
/// such.
fn plain(expr: &Expr, named: &mut HashSet<String>) -> bool {
    match expr {
        Expr::Value(value) => match &value.value {
            Value::Placeholder(name) if name != "?" => named.insert(name.clone()),
            _ => true,
        },
        Expr::UnaryOp { expr, .. } | Expr::Nested(expr) => plain(expr, named),
        Expr::Function(function) => {
            let name = function.name.to_string().to_ascii_lowercase();
            let args = match &function.args {
                FunctionArguments::None => true,
                FunctionArguments::List(list) => list.args.iter().all(|arg| match arg {
                    FunctionArg::Unnamed(FunctionArgExpr::Expr(expr)) => plain(expr, named),
                    _ => false,
                }),
                FunctionArguments::Subquery(_) => false,
            };
            args && function.filter.is_none() && BOUNDED_FUNCTIONS.contains(&name.as_str())
        }
        _ => false,
    }
}

#[cfg(test)]
#[path = "effect_tests.rs"]
mod tests;
