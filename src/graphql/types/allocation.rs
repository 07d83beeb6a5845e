//! `CostGroupMember`: a user placed in a cost group, and the connection of a group's members.

use std::sync::Arc;

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, Object};
use rust_decimal::Decimal;

use super::allocation_rule::AllocationSourceValue;
use super::{UserObject, loaders};
use crate::domain::allocation;
use crate::domain::{CostGroupId, Page};
use crate::graphql::error::ApiResult;
use crate::graphql::loaders::MemberPageKey;
use crate::graphql::pagination;
use crate::store::members::CostGroupMember;

impl From<allocation::AllocationSource> for AllocationSourceValue {
    fn from(source: allocation::AllocationSource) -> Self {
        match source {
            allocation::AllocationSource::Override => Self::Override,
            allocation::AllocationSource::Rule(_) => Self::Rule,
            allocation::AllocationSource::Unallocated => Self::Unallocated,
        }
    }
}

/// A user placed (wholly or partly) in a cost group.
pub struct CostGroupMemberObject(pub Arc<CostGroupMember>);

#[Object(name = "CostGroupMember")]
impl CostGroupMemberObject {
    /// The user (present upstream).
    async fn user(&self) -> UserObject {
        UserObject::full(&self.0.user)
    }

    /// The share of the user's licenses going to this group: above 0, at most 100.
    async fn percent(&self) -> Decimal {
        self.0.percent
    }

    /// Why the user is in this group.
    async fn source(&self) -> AllocationSourceValue {
        self.0.source.into()
    }
}

/// Ordering tag of member cursors: user id.
const MEMBER_ORDERING: &str = "member";

/// `totalCount` of a member connection, counted only when asked for.
pub struct MemberTotal {
    group: CostGroupId,
}

#[Object]
impl MemberTotal {
    /// Number of members of the group (all pages).
    async fn total_count(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        Ok(loaders(ctx)?
            .member_counts
            .load_one(self.group)
            .await?
            .unwrap_or(0))
    }
}

/// A page of cost group members.
pub type CostGroupMemberConnection = Connection<String, CostGroupMemberObject, MemberTotal>;

/// Loads one page of the members of `group`, by user id, as a connection.
pub(crate) async fn member_list(
    ctx: &Context<'_>,
    group: CostGroupId,
    first: Option<i32>,
    after: Option<String>,
) -> ApiResult<CostGroupMemberConnection> {
    let cursors = pagination::cursors(ctx)?;
    let page = Arc::new(cursors.page_request(MEMBER_ORDERING, first, after)?);
    let has_previous = page.after.is_some();
    let found = loaders(ctx)?
        .member_pages
        .load_one(MemberPageKey { group, page })
        .await?
        .unwrap_or_else(Page::empty);
    let mut connection = Connection::with_additional_fields(
        has_previous,
        found.has_next_page,
        MemberTotal { group },
    );
    connection
        .edges
        .extend(found.items.into_iter().map(|member| {
            let cursor = cursors.encode(MEMBER_ORDERING, "", member.user.id.uuid());
            Edge::new(cursor, CostGroupMemberObject(member))
        }));
    Ok(connection)
}
