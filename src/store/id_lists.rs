//! A column matched against a list of ids. On PostgreSQL the list is one array parameter
//! (`column = ANY($1)`), so a statement has one text whatever the list's length: it is parsed
//! once per connection and, after a few runs, planned once (a generic plan), where `IN ($1, …,
//! $100)` is a new statement for each length and is planned again at every run. SQLite, which
//! has no array parameters and plans each statement once when it is prepared, keeps `IN`.

use sea_orm::sea_query::extension::postgres::PgFunc;
use sea_orm::sea_query::{Expr, ExprTrait, SimpleExpr};
use sea_orm::{ColumnTrait, DatabaseBackend};
use uuid::Uuid;

/// `column` is one of `ids`, in the form `backend` runs best.
pub(crate) fn uuid_among(
    backend: DatabaseBackend,
    column: impl ColumnTrait,
    ids: impl IntoIterator<Item = Uuid>,
) -> SimpleExpr {
    match backend {
        DatabaseBackend::Postgres => {
            let ids: Vec<Uuid> = ids.into_iter().collect();
            Expr::col((column.entity_name(), column)).eq(PgFunc::any(Expr::val(ids)))
        }
        _ => column.is_in(ids),
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::sea_query::{PostgresQueryBuilder, Query, SqliteQueryBuilder};
    use sea_orm::{DatabaseBackend, EntityName};
    use uuid::Uuid;

    use super::uuid_among;
    use crate::store::entities::user_license::{Column, Entity};

    fn sql(backend: DatabaseBackend, ids: usize) -> String {
        let mut select = Query::select();
        select
            .column(Column::SkuId)
            .from(Entity.table_ref())
            .and_where(uuid_among(
                backend,
                Column::UserId,
                (0..ids).map(|_| Uuid::new_v4()),
            ));
        match backend {
            DatabaseBackend::Postgres => select.build(PostgresQueryBuilder).0,
            _ => select.build(SqliteQueryBuilder).0,
        }
    }

    #[test]
    fn postgres_gets_one_statement_text_for_any_number_of_ids() {
        assert_eq!(
            sql(DatabaseBackend::Postgres, 3),
            sql(DatabaseBackend::Postgres, 100)
        );
        assert!(sql(DatabaseBackend::Postgres, 3).ends_with("\"user_id\" = ANY($1)"));
        assert!(sql(DatabaseBackend::Sqlite, 3).ends_with("IN (?, ?, ?)"));
    }
}
