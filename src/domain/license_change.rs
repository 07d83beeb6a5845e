//! License changes: what a tenant's imports saw happen to its users and their licenses, one
//! event per (day, user, kind, SKU), read from user versions and license holdings. Pure.

use chrono::NaiveDate;
use uuid::Uuid;

use super::ids::{SkuId, UserId};
use super::import_run::ImportRun;
use super::user::User;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LicenseChangeKind {
    /// An import saw the user for the first time.
    UserAdded,
    /// An import saw the user listed again after being gone.
    UserRestored,
    /// An import saw other values of the user's fields.
    UserChanged,
    /// A license (of one SKU, with its disabled plans) ended.
    LicenseRemoved,
    /// A license (of one SKU, with its disabled plans) began.
    LicenseAssigned,
    /// The user was gone upstream.
    UserRemoved,
}

impl LicenseChangeKind {
    /// Every kind, in the order events of one user on one day are listed.
    pub const ALL: [LicenseChangeKind; 6] = [
        LicenseChangeKind::UserAdded,
        LicenseChangeKind::UserRestored,
        LicenseChangeKind::UserChanged,
        LicenseChangeKind::LicenseRemoved,
        LicenseChangeKind::LicenseAssigned,
        LicenseChangeKind::UserRemoved,
    ];

    /// The kind's stored code: its place in [`Self::ALL`].
    pub fn code(self) -> i32 {
        Self::ALL
            .iter()
            .position(|k| *k == self)
            .unwrap_or_default() as i32
    }

    /// The kind of `code`.
    pub fn of_code(code: i32) -> Option<LicenseChangeKind> {
        usize::try_from(code)
            .ok()
            .and_then(|i| Self::ALL.get(i).copied())
    }

    /// Whether the event is of a license (has a SKU).
    pub fn is_license(self) -> bool {
        matches!(
            self,
            LicenseChangeKind::LicenseAssigned | LicenseChangeKind::LicenseRemoved
        )
    }
}

/// Which events a list returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LicenseChangeFilter {
    /// Only license events of this SKU.
    pub sku_id: Option<SkuId>,
    /// Only events of this user.
    pub user_id: Option<UserId>,
    /// Only events of these kinds (all when `None`).
    pub kinds: Option<Vec<LicenseChangeKind>>,
}

/// Where an event stands in a list: events are ordered by day, user, kind, then SKU (the nil
/// UUID for user events).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct LicenseChangeKey {
    /// The day an import observed it.
    pub on: NaiveDate,
    /// The user.
    pub user_id: UserId,
    /// What happened.
    pub kind: LicenseChangeKind,
    /// The SKU; nil for user events.
    pub sku: Uuid,
}

impl LicenseChangeKey {
    /// The key as cursor text (`day kind sku`; the user is the cursor's id).
    pub fn to_cursor(&self) -> String {
        format!("{} {} {}", self.on, self.kind.code(), self.sku)
    }

    /// The key of cursor text made by [`Self::to_cursor`] with the cursor's id.
    pub fn from_cursor(text: &str, user: Uuid) -> Option<LicenseChangeKey> {
        let mut parts = text.split(' ');
        let on = parts.next()?.parse().ok()?;
        let kind = LicenseChangeKind::of_code(parts.next()?.parse().ok()?)?;
        let sku = parts.next()?.parse().ok()?;
        parts.next().is_none().then_some(LicenseChangeKey {
            on,
            user_id: UserId(user),
            kind,
            sku,
        })
    }
}

/// One event.
#[derive(Debug, Clone)]
pub struct LicenseChange {
    /// Day, user, kind and SKU.
    pub key: LicenseChangeKey,
    /// For user events: the user's version before (none when added).
    pub before: Option<User>,
    /// For user events: the user's version from that day.
    pub after: Option<User>,
    /// The last succeeded import of the tenant observed on that day.
    pub run: Option<ImportRun>,
}

impl LicenseChange {
    /// The SKU of a license event.
    pub fn sku_id(&self) -> Option<SkuId> {
        self.key.kind.is_license().then_some(SkuId(self.key.sku))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_text_round_trips_and_garbage_is_none() {
        let key = LicenseChangeKey {
            on: NaiveDate::from_ymd_opt(2026, 11, 14).unwrap(),
            user_id: UserId(Uuid::from_u128(3)),
            kind: LicenseChangeKind::LicenseRemoved,
            sku: Uuid::from_u128(9),
        };
        let text = key.to_cursor();
        assert_eq!(
            LicenseChangeKey::from_cursor(&text, Uuid::from_u128(3)),
            Some(key)
        );
        for bad in [
            "",
            "2026-11-14",
            "2026-11-14 9 x",
            "2026-11-14 1 00000000-0000-0000-0000-000000000009 z",
        ] {
            assert_eq!(
                LicenseChangeKey::from_cursor(bad, Uuid::nil()),
                None,
                "{bad}"
            );
        }
    }

    #[test]
    fn codes_follow_the_listing_order() {
        for kind in LicenseChangeKind::ALL {
            assert_eq!(LicenseChangeKind::of_code(kind.code()), Some(kind));
        }
        assert!(LicenseChangeKind::UserAdded < LicenseChangeKind::LicenseAssigned);
    }
}
