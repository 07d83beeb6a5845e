//! Hand-written SQL for the few statements SeaORM's builder cannot express (row-value seeks,
//! window functions, multi-row `INSERT … SELECT`): bind parameters numbered for the backend.

use sea_orm::sea_query::SelectStatement;
use sea_orm::{DatabaseBackend, Statement, Value};

/// The `n`th (1-based) bind parameter of a statement on `backend`: `$n` on PostgreSQL, `?`
/// elsewhere.
pub(crate) fn placeholder(backend: DatabaseBackend, n: usize) -> String {
    match backend {
        DatabaseBackend::Postgres => format!("${n}"),
        _ => "?".to_owned(),
    }
}

/// SQL text with its bind values, placeholders numbered in the order they are written.
pub(crate) struct RawSql {
    backend: DatabaseBackend,
    text: String,
    values: Vec<Value>,
}

impl RawSql {
    /// An empty statement for `backend`.
    pub(crate) fn new(backend: DatabaseBackend) -> Self {
        Self {
            backend,
            text: String::new(),
            values: Vec::new(),
        }
    }

    /// Appends `text` as it is.
    pub(crate) fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a bind parameter holding `value`.
    pub(crate) fn bind(&mut self, value: impl Into<Value>) -> &mut Self {
        self.values.push(value.into());
        self.text
            .push_str(&placeholder(self.backend, self.values.len()));
        self
    }

    /// The statement to run.
    pub(crate) fn statement(self) -> Statement {
        Statement::from_sql_and_values(self.backend, self.text, self.values)
    }
}

/// `query` (built without a limit) for `backend`, with `LIMIT limit` written into its text
/// rather than bound. PostgreSQL plans a prepared statement whose limit is a parameter again at
/// every run (a plan for an unknown limit looks costlier than one for the limit given), so a
/// page read by such a statement spends more time planning than reading; with the limit in the
/// text the statement of a page size gets one plan per connection after a few runs. Page sizes
/// are bounded, so the statement texts stay few.
pub(crate) fn limited(backend: DatabaseBackend, query: &SelectStatement, limit: u64) -> Statement {
    let mut statement = backend.build(query);
    statement.sql.push_str(&format!(" LIMIT {limit}"));
    statement
}

#[cfg(test)]
mod tests {
    use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};

    use super::*;

    #[test]
    fn a_limited_statement_writes_its_limit_and_binds_only_its_conditions() {
        let mut query = Query::select();
        query
            .column(Alias::new("id"))
            .from(Alias::new("users"))
            .and_where(Expr::col(Alias::new("tenant_id")).eq(7_i64))
            .order_by(Alias::new("id"), sea_orm::Order::Asc);
        let statement = limited(DatabaseBackend::Postgres, &query, 101);
        assert_eq!(
            statement.sql,
            r#"SELECT "id" FROM "users" WHERE "tenant_id" = $1 ORDER BY "id" ASC LIMIT 101"#
        );
        assert_eq!(statement.values.map(|v| v.0.len()), Some(1));
    }

    #[test]
    fn postgres_numbers_its_parameters_in_writing_order_and_sqlite_marks_them() {
        for (backend, text) in [
            (
                DatabaseBackend::Postgres,
                "SELECT id FROM users WHERE tenant_id = $1 AND n > $2",
            ),
            (
                DatabaseBackend::Sqlite,
                "SELECT id FROM users WHERE tenant_id = ? AND n > ?",
            ),
        ] {
            let mut sql = RawSql::new(backend);
            sql.push("SELECT id FROM users WHERE tenant_id = ")
                .bind(7_i64)
                .push(" AND n > ")
                .bind("x");
            let statement = sql.statement();
            assert_eq!(statement.sql, text);
            assert_eq!(statement.values.map(|v| v.0.len()), Some(2));
        }
    }
}
