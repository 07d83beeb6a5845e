//! User versions: a user as one import saw them, in force over `[from, to)`, and what changed
//! from one version to the next (which kind of change, which fields). Pure.

use chrono::NaiveDate;

use super::user::User;

/// One version of a user: every stored field, with the days it was in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserVersion {
    /// The user as stored in this version (`deleted_at` set: gone upstream in it).
    pub user: User,
    /// First day in force; `None` when stored before history began.
    pub from: Option<NaiveDate>,
    /// The day the next version took effect; `None` for the version in force.
    pub to: Option<NaiveDate>,
}

/// How a version differs from the one before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum VersionChange {
    /// The first version of the user.
    Added,
    /// Gone upstream (soft-deleted).
    Removed,
    /// Listed again after being gone.
    Restored,
    /// Present before and after, with other field values.
    Changed,
}

/// One field that differs between two versions, as the `User` field named `field` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldChange {
    /// The GraphQL name of the `User` field (`department`, `extensionAttributes.extensionAttribute3`).
    pub field: String,
    /// The value before; `None` when unset.
    pub before: Option<String>,
    /// The value after; `None` when unset.
    pub after: Option<String>,
}

/// The kind of change from `before` (none for a user's first version) to `after`.
pub fn change_of(before: Option<&User>, after: &User) -> VersionChange {
    match before {
        None => VersionChange::Added,
        Some(b) => match (b.deleted_at.is_some(), after.deleted_at.is_some()) {
            (false, true) => VersionChange::Removed,
            (true, false) => VersionChange::Restored,
            _ => VersionChange::Changed,
        },
    }
}

/// The fields an import writes, as text, by GraphQL name: what two versions are compared on.
/// Times the importer stamps (first and last seen, deleted at) are not fields of a version:
/// being deleted is its change kind.
fn field_values(u: &User) -> Vec<(String, Option<String>)> {
    let text = |name: &str, value: &Option<String>| (name.to_owned(), value.clone());
    let mut out = vec![
        ("displayName".to_owned(), Some(u.display_name.clone())),
        text("givenName", &u.given_name),
        text("surname", &u.surname),
        (
            "userPrincipalName".to_owned(),
            Some(u.user_principal_name.clone()),
        ),
        text("mail", &u.mail),
        text("userType", &u.user_type),
        (
            "accountEnabled".to_owned(),
            u.account_enabled.map(|b| b.to_string()),
        ),
        text("jobTitle", &u.job_title),
        text("department", &u.department),
        text("companyName", &u.company_name),
        text("officeLocation", &u.office_location),
        text("streetAddress", &u.street_address),
        text("city", &u.city),
        text("state", &u.state),
        text("postalCode", &u.postal_code),
        text("country", &u.country),
        text("preferredLanguage", &u.preferred_language),
        text("usageLocation", &u.usage_location),
        (
            "managerId".to_owned(),
            u.manager_id.map(|id| id.to_string()),
        ),
        (
            "managerContact".to_owned(),
            u.manager_contact.as_ref().map(|c| c.id.to_string()),
        ),
    ];
    for (i, value) in u.extension_attributes.iter().enumerate() {
        out.push((
            format!("extensionAttributes.extensionAttribute{}", i + 1),
            value.clone(),
        ));
    }
    out
}

/// The fields whose values differ from `before` to `after`, in `User`'s field order.
pub fn field_changes(before: &User, after: &User) -> Vec<FieldChange> {
    field_values(before)
        .into_iter()
        .zip(field_values(after))
        .filter(|((_, b), (_, a))| b != a)
        .map(|((field, before), (_, after))| FieldChange {
            field,
            before,
            after,
        })
        .collect()
}

/// Sorts one user's versions newest first: the version in force, then by the day each ended.
pub fn newest_first(versions: &mut [UserVersion]) {
    versions.sort_by(|a, b| match (a.to, b.to) {
        (None, None) => std::cmp::Ordering::Equal,
        (None, Some(_)) => std::cmp::Ordering::Less,
        (Some(_), None) => std::cmp::Ordering::Greater,
        (Some(x), Some(y)) => y.cmp(&x),
    });
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use uuid::Uuid;

    use super::*;
    use crate::domain::{TenantId, UserId};

    fn user() -> User {
        let t = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap();
        User {
            id: UserId(Uuid::from_u128(1)),
            tenant_id: TenantId(Uuid::from_u128(9)),
            display_name: "Ada".into(),
            given_name: None,
            surname: None,
            user_principal_name: "ada@example.com".into(),
            mail: None,
            user_type: Some("Member".into()),
            account_enabled: Some(true),
            job_title: None,
            department: Some("Sales".into()),
            company_name: None,
            office_location: None,
            street_address: None,
            city: None,
            state: None,
            postal_code: None,
            country: None,
            preferred_language: None,
            usage_location: None,
            extension_attributes: Default::default(),
            manager_id: None,
            manager_contact: None,
            first_seen_at: t,
            last_seen_at: t,
            deleted_at: None,
        }
    }

    #[test]
    fn changed_fields_are_named_as_user_shows_them_and_seen_times_are_not_changes() {
        let before = user();
        let mut after = user();
        after.department = Some("Finance".into());
        after.account_enabled = Some(false);
        after.extension_attributes[2] = Some("cc-42".into());
        after.last_seen_at = before.last_seen_at + chrono::Duration::days(1);
        let changes = field_changes(&before, &after);
        let got: Vec<(&str, Option<&str>, Option<&str>)> = changes
            .iter()
            .map(|c| (c.field.as_str(), c.before.as_deref(), c.after.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                ("accountEnabled", Some("true"), Some("false")),
                ("department", Some("Sales"), Some("Finance")),
                (
                    "extensionAttributes.extensionAttribute3",
                    None,
                    Some("cc-42")
                ),
            ]
        );
    }

    #[test]
    fn change_kinds_follow_presence() {
        let present = user();
        let mut gone = user();
        gone.deleted_at = Some(present.last_seen_at);
        assert_eq!(change_of(None, &present), VersionChange::Added);
        assert_eq!(change_of(Some(&present), &gone), VersionChange::Removed);
        assert_eq!(change_of(Some(&gone), &present), VersionChange::Restored);
        assert_eq!(change_of(Some(&present), &present), VersionChange::Changed);
    }

    #[test]
    fn the_version_in_force_comes_first_then_the_latest_ended() {
        let day = |d| NaiveDate::from_ymd_opt(2026, 11, d);
        let v = |from, to| UserVersion {
            user: user(),
            from,
            to,
        };
        let mut versions = vec![v(None, day(3)), v(day(9), None), v(day(3), day(9))];
        newest_first(&mut versions);
        let ends: Vec<_> = versions.iter().map(|v| v.to).collect();
        assert_eq!(ends, [None, day(9), day(3)]);
    }
}
