//! `Tenant.licenseChanges`: what a tenant's imports saw happen to its users and licenses over a
//! range of days, one event a row, paged by (day, user, kind, SKU).

use std::sync::Arc;

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, Enum, ID, InputObject, Object};

use super::user_history::FieldChangeObject;
use super::{Date, ImportRunObject, SubscriptionObject, UserObject, loaders};
use crate::domain::history::days_between;
use crate::domain::license_change::{LicenseChange, LicenseChangeFilter, LicenseChangeKey};
use crate::domain::user_version::field_changes;
use crate::domain::{Page, SkuId, TenantId, UserId};
use crate::graphql::error::{ApiError, ApiResult};
use crate::graphql::ids::parse_id;
use crate::graphql::pagination;
use crate::store::history::license_changes::{self, LicenseChangeQuery};

/// Most days a `licenseChanges` range may span.
pub const MAX_DAYS: i64 = 400;
/// Ordering tag of event cursors.
const CHANGE_ORDERING: &str = "changes";

/// What happened to a user or one of their licenses.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "crate::domain::license_change::LicenseChangeKind")]
pub enum LicenseChangeKind {
    /// An import saw the user for the first time.
    UserAdded,
    /// An import saw the user listed again after being gone.
    UserRestored,
    /// An import saw other values of the user's fields (see `changes`).
    UserChanged,
    /// A license ended (its SKU, or its disabled plans, changed or the user is gone).
    LicenseRemoved,
    /// A license began (a new SKU, or the same SKU with other disabled plans).
    LicenseAssigned,
    /// The user was gone upstream.
    UserRemoved,
}

/// Which events `licenseChanges` returns.
#[derive(InputObject, Default)]
#[graphql(name = "LicenseChangeFilter")]
pub struct LicenseChangeFilterInput {
    /// Only license events of this SKU (GUID); user events have no SKU and are left out.
    pub sku_id: Option<ID>,
    /// Only events of this user (GUID).
    pub user_id: Option<ID>,
    /// Only events of these kinds.
    pub kinds: Option<Vec<LicenseChangeKind>>,
}

impl LicenseChangeFilterInput {
    fn into_domain(self) -> ApiResult<LicenseChangeFilter> {
        Ok(LicenseChangeFilter {
            sku_id: self
                .sku_id
                .map(|id| parse_id::<SkuId>("filter.skuId", &id))
                .transpose()?,
            user_id: self
                .user_id
                .map(|id| parse_id::<UserId>("filter.userId", &id))
                .transpose()?,
            kinds: self
                .kinds
                .map(|kinds| kinds.into_iter().map(Into::into).collect()),
        })
    }
}

/// One event, as the import that saw it observed it.
pub struct LicenseChangeObject {
    tenant_id: TenantId,
    change: Arc<LicenseChange>,
}

#[Object(name = "LicenseChange")]
impl LicenseChangeObject {
    /// What happened.
    async fn kind(&self) -> LicenseChangeKind {
        self.change.key.kind.into()
    }

    /// The day the import that saw it observed.
    async fn date(&self) -> Date {
        Date(self.change.key.on)
    }

    /// The user's id.
    async fn user_id(&self) -> ID {
        ID(self.change.key.user_id.to_string())
    }

    /// The user, as stored today (see `User.history` for the past).
    async fn user(&self, ctx: &Context<'_>) -> ApiResult<Option<UserObject>> {
        Ok(loaders(ctx)?
            .user
            .load_one(self.change.key.user_id)
            .await?
            .map(UserObject::summary))
    }

    /// The SKU of a license event; null for user events.
    async fn sku_id(&self) -> Option<ID> {
        self.change.sku_id().map(|s| ID(s.to_string()))
    }

    /// The SKU's subscription, while the tenant has it; null for user events.
    async fn subscription(&self, ctx: &Context<'_>) -> ApiResult<Option<SubscriptionObject>> {
        let Some(sku) = self.change.sku_id() else {
            return Ok(None);
        };
        Ok(loaders(ctx)?
            .subscription
            .load_one((self.tenant_id, sku))
            .await?
            .map(SubscriptionObject))
    }

    /// For `USER_CHANGED` (and `USER_REMOVED`, `USER_RESTORED` when fields changed too): the
    /// fields that differ from the version before, with both values. Empty otherwise.
    async fn changes(&self) -> Vec<FieldChangeObject> {
        match (&self.change.before, &self.change.after) {
            (Some(before), Some(after)) => field_changes(before, after)
                .into_iter()
                .map(FieldChangeObject)
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The import that saw it: the tenant's last succeeded run observed on `date`.
    async fn import_run(&self) -> Option<ImportRunObject> {
        self.change
            .run
            .clone()
            .map(|run| ImportRunObject(Arc::new(run)))
    }
}

/// A page of events.
pub type LicenseChangeConnection = Connection<String, LicenseChangeObject>;

/// One page of `tenant_id`'s events over `from..=to` (at most [`MAX_DAYS`] days).
pub(crate) async fn license_changes(
    ctx: &Context<'_>,
    tenant_id: TenantId,
    from: Date,
    to: Date,
    filter: Option<LicenseChangeFilterInput>,
    first: Option<i32>,
    after: Option<String>,
) -> ApiResult<LicenseChangeConnection> {
    let (from, to) = (from.0, to.0);
    if to < from {
        return Err(ApiError::BadUserInput(format!(
            "to ({to}) is before from ({from})"
        )));
    }
    if days_between(from, to) > MAX_DAYS {
        return Err(ApiError::BadUserInput(format!(
            "licenseChanges spans at most {MAX_DAYS} days ({from} to {to} is {})",
            days_between(from, to)
        )));
    }
    let filter = filter.unwrap_or_default().into_domain()?;
    let cursors = pagination::cursors(ctx)?;
    let page = cursors.page_request(CHANGE_ORDERING, first, after)?;
    let after = match &page.after {
        None => None,
        Some(cursor) => Some(
            LicenseChangeKey::from_cursor(&cursor.key, cursor.id).ok_or_else(|| {
                ApiError::BadUserInput("after is not a cursor issued by this API".to_owned())
            })?,
        ),
    };
    let query = LicenseChangeQuery {
        from,
        to,
        filter,
        after,
        limit: page.fetch_limit(),
    };
    let store = &loaders(ctx)?.store;
    let found = Page::from_overfetched(
        license_changes::list_license_changes(store, tenant_id, &query).await?,
        &page,
    );
    let mut connection = Connection::new(page.after.is_some(), found.has_next_page);
    connection
        .edges
        .extend(found.items.into_iter().map(|change| {
            let cursor = cursors.encode(
                CHANGE_ORDERING,
                &change.key.to_cursor(),
                change.key.user_id.uuid(),
            );
            Edge::new(
                cursor,
                LicenseChangeObject {
                    tenant_id,
                    change: Arc::new(change),
                },
            )
        }));
    Ok(connection)
}
