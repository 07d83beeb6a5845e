//! The stored rule diagnostics of each tenant (`allocation_evaluations.diagnostics`, written
//! with the tally by the evaluation that counts them) and one user's explanation, computed on
//! demand. Uses `evaluation`, `backdated`, `reads` and `stored_diagnostics`; no other module
//! here imports it.

use std::collections::HashMap;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use super::backdated::{evaluator_for, group_ids};
use super::evaluation::{compiled_rules_on, evaluate_tenant};
use super::reads;
use super::stored_diagnostics::{TenantDiagnostics, diagnostics_of_json};
use crate::domain::allocation::Explanation;
use crate::domain::{TenantId, TenantScope, UserId};
use crate::store::connect::Store;
use crate::store::entities::{allocation_evaluation, user, user_license};
use crate::store::error::StoreError;
use crate::store::{licenses, tenants, users};

/// The stored diagnostics of each of `tenants`, read on `conn` in one statement; tenants not
/// evaluated since diagnostics were kept are left out.
async fn stored_diagnostics(
    conn: &impl ConnectionTrait,
    tenants: &[TenantId],
) -> Result<HashMap<TenantId, TenantDiagnostics>, StoreError> {
    let rows: Vec<(Uuid, Option<serde_json::Value>)> = allocation_evaluation::Entity::find()
        .select_only()
        .column(allocation_evaluation::Column::TenantId)
        .column(allocation_evaluation::Column::Diagnostics)
        .filter(allocation_evaluation::Column::TenantId.is_in(tenants.iter().map(|t| t.uuid())))
        .into_tuple()
        .all(conn)
        .await?;
    rows.into_iter()
        .filter_map(|(t, d)| d.map(|d| (t, d)))
        .map(|(t, d)| Ok((TenantId(t), diagnostics_of_json(t, d)?)))
        .collect()
}

/// The diagnostics of each of `tenants` in `scope` (others are left out), in one statement
/// whatever the number of tenants and rules; tenants without stored diagnostics (never
/// evaluated since they were kept) are evaluated first.
pub async fn list_diagnostics_of_tenants(
    store: &Store,
    scope: &TenantScope,
    tenants: &[TenantId],
) -> Result<HashMap<TenantId, TenantDiagnostics>, StoreError> {
    let tenants: Vec<TenantId> = tenants
        .iter()
        .copied()
        .filter(|t| scope.allows(*t))
        .collect();
    let mut out = stored_diagnostics(store.db(), &tenants).await?;
    let missing: Vec<TenantId> = tenants
        .iter()
        .filter(|t| !out.contains_key(t))
        .copied()
        .collect();
    if !missing.is_empty() {
        let known = tenants::find_tenants(store, scope, &missing).await?;
        for t in &known {
            evaluate_tenant(store, t.id).await?;
        }
        let ids: Vec<TenantId> = known.iter().map(|t| t.id).collect();
        out.extend(stored_diagnostics(store.db(), &ids).await?);
    }
    Ok(out)
}

/// Why user `user_id` is allocated as they are, from the tenant's current rules, overrides,
/// cost groups and the user's own data; `None` for a user unknown, out of `scope` or deleted
/// upstream. Reads the tenant's manager links only when a rule follows them.
pub async fn explain_allocation(
    store: &Store,
    scope: &TenantScope,
    user_id: UserId,
) -> Result<Option<Explanation>, StoreError> {
    let conn = store.db();
    let found = users::select_users_on(
        conn,
        user::Entity::find()
            .filter(user::Column::Id.eq(user_id.uuid()))
            .filter(user::Column::DeletedAt.is_null()),
    )
    .await?;
    let Some(found) = found.into_iter().find(|u| scope.allows(u.tenant_id)) else {
        return Ok(None);
    };
    let tenant_id = found.tenant_id;
    let own = user_license::Entity::find()
        .filter(user_license::Column::UserId.eq(user_id.uuid()))
        .filter(user_license::Column::TenantId.eq(tenant_id.uuid()))
        .all(conn)
        .await?
        .into_iter()
        .map(licenses::to_domain)
        .collect::<Result<Vec<_>, _>>()?;
    let rules = compiled_rules_on(conn, tenant_id).await?;
    let overrides = reads::list_overrides_of_users_on(conn, &[user_id]).await?;
    let groups = group_ids(conn, tenant_id).await?;
    let evaluator = evaluator_for(conn, tenant_id, &rules, &overrides, &groups).await?;
    Ok(Some(evaluator.explain(&found, &own)))
}
