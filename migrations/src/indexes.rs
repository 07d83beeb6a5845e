//! Creating and dropping an index named by (index, table, columns), for the migrations that
//! add or replace several.

use sea_orm_migration::prelude::*;

/// An index: its name, its table and its columns in order.
pub(crate) type IndexSpec = (&'static str, &'static str, &'static [&'static str]);

/// Creates the index `spec` names.
pub(crate) async fn create(
    manager: &SchemaManager<'_>,
    (name, table, columns): IndexSpec,
) -> Result<(), DbErr> {
    let mut index = Index::create();
    index.name(name).table(Alias::new(table));
    for column in columns {
        index.col(Alias::new(*column));
    }
    manager.create_index(index.to_owned()).await
}

/// Drops the index `spec` names.
pub(crate) async fn drop(
    manager: &SchemaManager<'_>,
    (name, table, _): IndexSpec,
) -> Result<(), DbErr> {
    manager
        .drop_index(Index::drop().name(name).table(Alias::new(table)).to_owned())
        .await
}
