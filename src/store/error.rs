//! Store errors, classified once where a `DbErr` enters.

use sea_orm::{DbErr, RuntimeErr, SqlErr};
use thiserror::Error;

/// What went wrong in the store.
#[derive(Debug, Error)]
pub enum StoreError {
    /// A row that must exist does not.
    #[error("{0} not found")]
    NotFound(String),
    /// A write collides with existing data (unique or foreign key).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database can't be reached or the pool is exhausted.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Any other database error.
    #[error("database error: {0}")]
    Db(DbErr),
    /// A write that would break the rules of cost groups (a clash, cycle or depth).
    #[error(transparent)]
    CostGroup(#[from] crate::domain::CostGroupError),
    /// A rule that can't be evaluated (the GraphQL layer checks first; this keeps the store safe).
    #[error(transparent)]
    Rule(#[from] crate::domain::allocation::RuleError),
    /// A new rule order that does not list each of the tenant's rules once.
    #[error(transparent)]
    RuleOrder(#[from] crate::domain::allocation::RuleOrderError),
    /// A stored secret that the configured keys can't open (or a key that can't seal).
    #[error(transparent)]
    Secret(#[from] super::secrets::SealError),
    /// A stored value that the domain can't read (written by hand or by a newer version).
    #[error("corrupt row in {table}: {detail}")]
    Corrupt {
        /// The table.
        table: &'static str,
        /// What was wrong.
        detail: String,
    },
}

impl From<DbErr> for StoreError {
    fn from(err: DbErr) -> Self {
        if let Some(sql) = err.sql_err() {
            match sql {
                SqlErr::UniqueConstraintViolation(detail) => return StoreError::Conflict(detail),
                SqlErr::ForeignKeyConstraintViolation(detail) => {
                    return StoreError::Conflict(detail);
                }
                _ => {}
            }
        }
        match err {
            DbErr::ConnectionAcquire(e) => StoreError::Unavailable(e.to_string()),
            DbErr::Conn(RuntimeErr::SqlxError(e)) => StoreError::Unavailable(e.to_string()),
            DbErr::Conn(e) => StoreError::Unavailable(e.to_string()),
            other => StoreError::Db(other),
        }
    }
}
