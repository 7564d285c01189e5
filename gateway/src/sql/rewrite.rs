//! Tenant SQL on a shared database (RQLite): every namespace's tables live in the one database
//! under a prefix of their own (`t_<16 hex of SHA-256(namespace)>_`), and a tenant's statement
//! is rewritten to name its own prefixed tables before it is sent.
//!
//! The guarantee does not rest on the rewriting catching every table reference; it rests on two
//! checks made first, on the statement as the tenant wrote it:
//! - every word of it (identifiers, quoted or not, and keywords alike) is refused if it names
//!   what no tenant may name: anything `sqlite_*` (the schema tables), `pragma_*` (schema
//!   functions), a system table, or any tenant prefix (another tenant's tables, or one's own
//!   spelled out);
//! - the statement parses (SQLite dialect) as exactly one statement of an allowed kind:
//!   queries, INSERT, UPDATE, DELETE, CREATE/DROP TABLE, CREATE/DROP INDEX, ALTER TABLE. Views,
//!   triggers, PRAGMA, ATTACH, VACUUM, transactions and the rest are refused, as is any
//!   schema-qualified name.
//!
//! So a reference the rewriting missed names an unprefixed table: one that does not exist, or a
//! system table the first check already refused. It fails closed.
//!
//! The shared store also holds every key and account, so a tenant's statement is bounded there
//! too: the functions the embedded sandbox refuses (`zeroblob`, extension loading, files) are
//! refused as words, and a query's `LIMIT` is clamped to one row past the row limit, so rqlite
//! never builds more rows than the gateway would accept. These functions never see hostile
//! input directly: [`checker`](super::checker) bounds it first and runs them on a thread of
//! its own.

use std::collections::HashSet;
use std::ops::ControlFlow;

use sha2::{Digest, Sha256};
use sqlparser::ast::{
    Expr, Ident, LimitClause, ObjectName, ObjectNamePart, ObjectType, Query, Statement, TableAlias, TableFactor, Value,
    VisitMut, VisitorMut,
};
use sqlparser::dialect::SQLiteDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer};

use super::dialect::BudgetedSqlite;
use super::effect::{Effect, effect_of};
use super::refused::Refused;

/// Expressions the parser may start per token of the statement: a parse that needs more is
/// backtracking (see [`dialect`](super::dialect)).
const PARSE_BUDGET_PER_TOKEN: usize = 8;

/// The table prefix of `namespace`.
pub fn prefix_for(namespace: &str) -> String {
    let digest = Sha256::digest(namespace.as_bytes());
    format!("t_{}_", crate::http::wire::hex(&digest[..8]))
}

/// Whether `word` looks like a tenant prefix (`t_` + 16 hex + `_`).
fn is_tenant_prefixed(word: &str) -> bool {
    let bytes = word.as_bytes();
    bytes.len() > 19
        && word.starts_with("t_")
        && bytes[2..18].iter().all(|b| b.is_ascii_hexdigit())
        && bytes[18] == b'_'
}

/// Names a tenant may never use: the system tables' (from the migrations) and the schema's.
#[derive(Debug, Clone)]
pub struct Reserved {
    names: HashSet<String>,
}

impl Reserved {
    /// The reserved names: `schema_migrations` and every table and index the migrations create.
    pub fn system() -> Self {
        let mut names: HashSet<String> = HashSet::from(["schema_migrations".to_owned()]);
        for migration in crate::database::MIGRATIONS {
            for statement in migration.statements {
                let words: Vec<String> = statement.split_whitespace().map(str::to_ascii_lowercase).collect();
                for pair in words.windows(3) {
                    if pair[0] == "create" && (pair[1] == "table" || pair[1] == "index") {
                        names.insert(pair[2].trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '_').to_owned());
                    }
                }
            }
        }
        Reserved { names }
    }

    fn refuses(&self, word: &str) -> bool {
        let lower = word.to_ascii_lowercase();
        lower.starts_with("sqlite_")
            || lower.starts_with("pragma_")
            || is_tenant_prefixed(&lower)
            || self.names.contains(&lower)
    }
}

/// A statement ready for the shared store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewritten {
    /// The SQL to send.
    pub sql: String,
    /// What it does to the store.
    pub effect: Effect,
}

/// `sql` with every table and index name under `prefix` and a query's rows bounded by
/// `max_rows` (one more is fetched, so the caller can tell "too many"), or why it cannot be run.
pub fn rewrite(sql: &str, prefix: &str, reserved: &Reserved, max_rows: u64) -> Result<Rewritten, Refused> {
    let tokens = Tokenizer::new(&SQLiteDialect {}, sql).tokenize().map_err(|e| Refused::Syntax(e.to_string()))?;
    refuse_reserved_words(&tokens, reserved)?;
    let dialect = BudgetedSqlite::new(PARSE_BUDGET_PER_TOKEN.saturating_mul(tokens.len()).saturating_add(256));
    let mut statements = Parser::parse_sql(&dialect, sql).map_err(|e| match dialect.exhausted() {
        true => Refused::TooLarge(super::dialect::EXHAUSTED.into()),
        false => Refused::Syntax(e.to_string()),
    })?;
    let mut statement = match (statements.pop(), statements.is_empty()) {
        (Some(statement), true) => statement,
        (None, _) => return Err(Refused::Kind("an empty statement".into())),
        (Some(_), false) => return Err(Refused::Kind("several statements in one".into())),
    };
    allowed(&statement)?;
    let effect = effect_of(&statement)?;
    let mut prefixer = Prefixer { prefix, refused: None };
    let _ = statement.visit(&mut prefixer);
    if let Some(refused) = prefixer.refused {
        return Err(refused);
    }
    prefix_own_names(&mut statement, prefix)?;
    if let (Statement::Query(query), Effect::Read) = (&mut statement, effect) {
        clamp_limit(query, max_rows.saturating_add(1))?;
    }
    Ok(Rewritten { sql: statement.to_string(), effect })
}

/// Refuses a statement any of whose words no tenant may use.
/// A denied function is refused where it is called: its name (in any spelling) before `(`.
fn refuse_reserved_words(tokens: &[Token], reserved: &Reserved) -> Result<(), Refused> {
    let significant: Vec<&Token> = tokens.iter().filter(|t| !matches!(t, Token::Whitespace(_))).collect();
    for (i, token) in significant.iter().enumerate() {
        let word = match token {
            Token::Word(word) => word.value.as_str(),
            Token::SingleQuotedString(text) | Token::DoubleQuotedString(text) => text.as_str(),
            _ => continue,
        };
        let called = matches!(significant.get(i + 1), Some(Token::LParen));
        let denied = called && crate::database::DENIED_FUNCTIONS.contains(&word.to_ascii_lowercase().as_str());
        if denied || reserved.refuses(word) {
            return Err(Refused::Reserved(word.to_owned()));
        }
    }
    Ok(())
}

/// Bounds the rows `query` returns at `max`: its own `LIMIT` becomes `min((limit) & i64::MAX,
/// max)`, where the mask turns a negative limit (which SQLite reads as no limit) into a huge
/// one, so `max` again, while evaluating the limit once (it may be a bound parameter); a query
/// without one gets `LIMIT max`.
fn clamp_limit(query: &mut Query, max: u64) -> Result<(), Refused> {
    let bounded = |limit: &Expr| -> Result<Expr, Refused> {
        let text = format!("min((({limit}) & {}), {max})", i64::MAX);
        // The limit parsed once within the statement's budget; twice its size bounds this parse.
        let dialect = BudgetedSqlite::new(PARSE_BUDGET_PER_TOKEN.saturating_mul(text.len()).saturating_add(64));
        let mut parser = Parser::new(&dialect).try_with_sql(&text).map_err(|e| Refused::Syntax(e.to_string()))?;
        parser.parse_expr().map_err(|e| Refused::Syntax(e.to_string()))
    };
    match &mut query.limit_clause {
        Some(LimitClause::LimitOffset { limit: Some(limit), .. })
        | Some(LimitClause::OffsetCommaLimit { limit, .. }) => {
            *limit = bounded(limit)?;
        }
        Some(LimitClause::LimitOffset { limit, .. }) => {
            *limit = Some(Expr::value(Value::Number(max.to_string(), false)))
        }
        None => {
            let limit = Some(Expr::value(Value::Number(max.to_string(), false)));
            query.limit_clause = Some(LimitClause::LimitOffset { limit, offset: None, limit_by: Vec::new() });
        }
    }
    Ok(())
}

fn allowed(statement: &Statement) -> Result<(), Refused> {
    match statement {
        Statement::Query(_)
        | Statement::Insert(_)
        | Statement::Update { .. }
        | Statement::Delete(_)
        | Statement::CreateTable(_)
        | Statement::CreateIndex(_)
        | Statement::AlterTable { .. } => Ok(()),
        Statement::Drop { object_type: ObjectType::Table | ObjectType::Index, .. } => Ok(()),
        other => {
            let text = other.to_string();
            let kind: String = text.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
            Err(Refused::Kind(kind))
        }
    }
}

/// Prefixes relations (tables read or written) and CTE names; an unaliased table keeps its own
/// name as alias, so `users.id` still resolves after `users` became `t_…_users`.
struct Prefixer<'a> {
    prefix: &'a str,
    refused: Option<Refused>,
}

impl Prefixer<'_> {
    fn prefixed(&self, ident: &Ident) -> Ident {
        Ident { value: format!("{}{}", self.prefix, ident.value), quote_style: ident.quote_style, span: ident.span }
    }
}

impl VisitorMut for Prefixer<'_> {
    type Break = ();

    fn pre_visit_relation(&mut self, relation: &mut ObjectName) -> ControlFlow<()> {
        match relation.0.as_mut_slice() {
            [ObjectNamePart::Identifier(ident)] => {
                *ident = self.prefixed(ident);
                ControlFlow::Continue(())
            }
            _ => {
                self.refused = Some(Refused::Kind(format!("qualified name {relation}")));
                ControlFlow::Break(())
            }
        }
    }

    fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
        if let TableFactor::Table { name, alias, args, .. } = factor {
            if args.is_some() {
                self.refused = Some(Refused::Kind(format!("table function {name}")));
                return ControlFlow::Break(());
            }
            if alias.is_none()
                && let [ObjectNamePart::Identifier(ident)] = name.0.as_slice()
            {
                *alias = Some(TableAlias { explicit: true, name: ident.clone(), columns: Vec::new() });
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        if let Some(with) = &mut query.with {
            for cte in &mut with.cte_tables {
                cte.alias.name = self.prefixed(&cte.alias.name);
            }
        }
        ControlFlow::Continue(())
    }
}

/// Index names (global in SQLite), dropped tables and foreign-key targets, which the visitor
/// does not see as relations.
fn prefix_own_names(statement: &mut Statement, prefix: &str) -> Result<(), Refused> {
    let prefix_name = |name: &mut ObjectName| match name.0.as_mut_slice() {
        [ObjectNamePart::Identifier(ident)] => {
            ident.value = format!("{prefix}{}", ident.value);
            Ok(())
        }
        _ => Err(Refused::Kind(format!("qualified name {name}"))),
    };
    match statement {
        Statement::CreateIndex(index) => {
            if let Some(name) = &mut index.name {
                prefix_name(name)?;
            }
        }
        Statement::Drop { object_type: ObjectType::Index | ObjectType::Table, names, .. } => {
            for name in names {
                prefix_name(name)?;
            }
        }
        Statement::AlterTable(alter) => {
            for operation in &mut alter.operations {
                if let sqlparser::ast::AlterTableOperation::RenameTable { table_name } = operation {
                    let (sqlparser::ast::RenameTableNameKind::As(name) | sqlparser::ast::RenameTableNameKind::To(name)) =
                        table_name;
                    prefix_name(name)?;
                }
            }
        }
        Statement::CreateTable(table) => {
            for column in &mut table.columns {
                for option in &mut column.options {
                    if let sqlparser::ast::ColumnOption::ForeignKey(key) = &mut option.option {
                        prefix_name(&mut key.foreign_table)?;
                    }
                }
            }
            for constraint in &mut table.constraints {
                if let sqlparser::ast::TableConstraint::ForeignKey(key) = constraint {
                    prefix_name(&mut key.foreign_table)?;
                }
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
#[path = "rewrite_tests.rs"]
mod tests;
