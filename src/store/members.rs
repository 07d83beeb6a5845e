//! Cost group members: the present users the stored evaluation (`user_allocations`) places in
//! each cost group, with their percentage and why. Pages of several groups share a statement.

use std::collections::HashMap;
use std::str::FromStr;

use rust_decimal::Decimal;
use sea_orm::sea_query::{
    Alias, Asterisk, Expr, ExprTrait, Order, OverStatement, Query, SelectStatement, WindowStatement,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, JoinType, QueryFilter, QueryOrder,
    QueryResult, QuerySelect, QueryTrait, RelationDef,
};
use uuid::Uuid;

use super::connect::Store;
use super::entities::{user, user_allocation};
use super::error::StoreError;
use super::users;
use crate::domain::allocation::AllocationSource;
use crate::domain::{AllocationRuleId, CostGroupId, Page, PageRequest, User};

/// A present user placed (wholly or partly) in a cost group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CostGroupMember {
    /// The user.
    pub user: User,
    /// The share of the user's licenses going to the group, above 0 and at most 100.
    pub percent: Decimal,
    /// Why the user is there: an override or a rule (never `Unallocated`).
    pub source: AllocationSource,
}

fn allocation_to_user() -> RelationDef {
    user_allocation::Entity::belongs_to(user::Entity)
        .from(user_allocation::Column::UserId)
        .to(user::Column::Id)
        .into()
}

/// Present users with a `user_allocations` row of one of `groups`.
fn members_of(groups: &[CostGroupId]) -> sea_orm::Select<user::Entity> {
    user::Entity::find()
        .join_rev(JoinType::InnerJoin, allocation_to_user())
        .filter(user_allocation::Column::CostGroupId.is_in(groups.iter().map(|g| g.uuid())))
        .filter(user::Column::DeletedAt.is_null())
}

fn member_of_row(row: &QueryResult) -> Result<(CostGroupId, CostGroupMember), StoreError> {
    let user = users::to_domain(user::Model::from_query_result(row, "")?)?;
    let group: Uuid = row.try_get("", "m_group")?;
    let percent: String = row.try_get("", "m_percent")?;
    let source: String = row.try_get("", "m_source")?;
    let rule: Option<Uuid> = row.try_get("", "m_rule")?;
    let corrupt = |detail: String| StoreError::Corrupt {
        table: "user_allocations",
        detail: format!("user {} in cost group {group}: {detail}", user.id),
    };
    let percent = Decimal::from_str(&percent).map_err(|e| corrupt(e.to_string()))?;
    let source = match (source.as_str(), rule) {
        ("OVERRIDE", _) => AllocationSource::Override,
        ("RULE", Some(rule)) => AllocationSource::Rule(AllocationRuleId(rule)),
        (other, _) => return Err(corrupt(format!("source {other:?} with rule {rule:?}"))),
    };
    Ok((
        CostGroupId(group),
        CostGroupMember {
            user,
            percent,
            source,
        },
    ))
}

/// One page of members of each of `groups`, by user id, in one SQL statement (served by
/// `idx_user_allocations_group_user`).
pub async fn list_member_pages(
    store: &Store,
    groups: &[CostGroupId],
    page: &PageRequest,
) -> Result<HashMap<CostGroupId, Page<CostGroupMember>>, StoreError> {
    if groups.is_empty() {
        return Ok(HashMap::new());
    }
    let allocation = |c: user_allocation::Column| Expr::col((user_allocation::Entity, c));
    let mut select = members_of(groups)
        .column_as(allocation(user_allocation::Column::CostGroupId), "m_group")
        .column_as(allocation(user_allocation::Column::Percent), "m_percent")
        .column_as(allocation(user_allocation::Column::Source), "m_source")
        .column_as(allocation(user_allocation::Column::RuleId), "m_rule");
    if let Some(cursor) = &page.after {
        select = select.filter(allocation(user_allocation::Column::UserId).gt(cursor.id));
    }
    let limit = page.fetch_limit();
    let statement: SelectStatement = if groups.len() == 1 {
        select
            .order_by(allocation(user_allocation::Column::UserId), Order::Asc)
            .limit(limit)
            .into_query()
    } else {
        let mut window = WindowStatement::new();
        window.add_partition_by(allocation(user_allocation::Column::CostGroupId));
        window.order_by(
            (user_allocation::Entity, user_allocation::Column::UserId),
            Order::Asc,
        );
        let mut inner = select.into_query();
        inner.expr_window_as(
            Expr::cust("ROW_NUMBER()"),
            window,
            Alias::new("row_in_group"),
        );
        Query::select()
            .column(Asterisk)
            .from_subquery(inner, Alias::new("numbered"))
            .and_where(Expr::col(Alias::new("row_in_group")).lte(limit))
            .order_by(Alias::new("row_in_group"), Order::Asc)
            .to_owned()
    };
    let mut rows: HashMap<CostGroupId, Vec<CostGroupMember>> = HashMap::new();
    for row in store.db().query_all(&statement).await? {
        let (group, member) = member_of_row(&row)?;
        rows.entry(group).or_default().push(member);
    }
    Ok(groups
        .iter()
        .map(|g| {
            let members = rows.remove(g).unwrap_or_default();
            (*g, Page::from_overfetched(members, page))
        })
        .collect())
}

/// The number of members of each of `groups`, in one SQL statement.
pub async fn count_members(
    store: &Store,
    groups: &[CostGroupId],
) -> Result<HashMap<CostGroupId, u64>, StoreError> {
    let mut counts: HashMap<CostGroupId, u64> = groups.iter().map(|g| (*g, 0)).collect();
    if groups.is_empty() {
        return Ok(counts);
    }
    let group = Expr::col((
        user_allocation::Entity,
        user_allocation::Column::CostGroupId,
    ));
    let statement = members_of(groups)
        .select_only()
        .column_as(group.clone(), "m_group")
        .column_as(Expr::col((user::Entity, user::Column::Id)).count(), "n")
        .group_by(group)
        .into_query();
    for row in store.db().query_all(&statement).await? {
        let group: Uuid = row.try_get("", "m_group")?;
        let n: i64 = row.try_get("", "n")?;
        counts.insert(CostGroupId(group), u64::try_from(n).unwrap_or(0));
    }
    Ok(counts)
}
