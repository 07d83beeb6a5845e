//! The simulator's own wire formats (shared/reference/microsoft-apis.md): Graph user JSON
//! written straight into a byte buffer, `$select` parsing, and the opaque page/delta tokens.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

use super::data::hash;
use super::{SimContact, SimUser};

/// A user property that `$select` may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    Id,
    DisplayName,
    GivenName,
    Surname,
    UserPrincipalName,
    Mail,
    UserType,
    AccountEnabled,
    JobTitle,
    Department,
    CompanyName,
    OfficeLocation,
    StreetAddress,
    City,
    State,
    PostalCode,
    Country,
    PreferredLanguage,
    UsageLocation,
    AssignedLicenses,
    LicenseAssignmentStates,
    OnPremisesExtensionAttributes,
    BusinessPhones,
    MobilePhone,
    Manager,
    /// Listings only (not delta), and only for a tenant with Entra ID P1/P2.
    SignInActivity,
}

const ALL_FIELDS: &[Field] = &[
    Field::Id,
    Field::DisplayName,
    Field::GivenName,
    Field::Surname,
    Field::UserPrincipalName,
    Field::Mail,
    Field::UserType,
    Field::AccountEnabled,
    Field::JobTitle,
    Field::Department,
    Field::CompanyName,
    Field::OfficeLocation,
    Field::StreetAddress,
    Field::City,
    Field::State,
    Field::PostalCode,
    Field::Country,
    Field::PreferredLanguage,
    Field::UsageLocation,
    Field::AssignedLicenses,
    Field::LicenseAssignmentStates,
    Field::OnPremisesExtensionAttributes,
    Field::BusinessPhones,
    Field::MobilePhone,
    Field::Manager,
    Field::SignInActivity,
];

/// Returned by `/users` without `$select` (reference §4.1).
pub(crate) const DEFAULT_FIELDS: &[Field] = &[
    Field::BusinessPhones,
    Field::DisplayName,
    Field::GivenName,
    Field::Id,
    Field::JobTitle,
    Field::Mail,
    Field::MobilePhone,
    Field::OfficeLocation,
    Field::PreferredLanguage,
    Field::Surname,
    Field::UserPrincipalName,
];

impl Field {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Field::Id => "id",
            Field::DisplayName => "displayName",
            Field::GivenName => "givenName",
            Field::Surname => "surname",
            Field::UserPrincipalName => "userPrincipalName",
            Field::Mail => "mail",
            Field::UserType => "userType",
            Field::AccountEnabled => "accountEnabled",
            Field::JobTitle => "jobTitle",
            Field::Department => "department",
            Field::CompanyName => "companyName",
            Field::OfficeLocation => "officeLocation",
            Field::StreetAddress => "streetAddress",
            Field::City => "city",
            Field::State => "state",
            Field::PostalCode => "postalCode",
            Field::Country => "country",
            Field::PreferredLanguage => "preferredLanguage",
            Field::UsageLocation => "usageLocation",
            Field::AssignedLicenses => "assignedLicenses",
            Field::LicenseAssignmentStates => "licenseAssignmentStates",
            Field::OnPremisesExtensionAttributes => "onPremisesExtensionAttributes",
            Field::BusinessPhones => "businessPhones",
            Field::MobilePhone => "mobilePhone",
            Field::Manager => "manager",
            Field::SignInActivity => "signInActivity",
        }
    }

    fn parse(name: &str) -> Option<Field> {
        ALL_FIELDS
            .iter()
            .copied()
            .find(|f| f.name().eq_ignore_ascii_case(name.trim()))
    }
}

/// Parses a `$select` list: `id` first, then the named properties in order, without repeats.
/// Returns the unknown property name on failure.
pub(crate) fn parse_select(list: &str) -> Result<Vec<Field>, String> {
    let mut fields = vec![Field::Id];
    for name in list.split(',').filter(|n| !n.trim().is_empty()) {
        let field = Field::parse(name).ok_or_else(|| name.trim().to_owned())?;
        if !fields.contains(&field) {
            fields.push(field);
        }
    }
    Ok(fields)
}

/// The `$select` list as text, as stored in tokens and `@odata.context`.
pub(crate) fn select_text(fields: &[Field]) -> String {
    fields
        .iter()
        .map(|f| f.name())
        .collect::<Vec<_>>()
        .join(",")
}

/// Appends `text` as a JSON string.
pub(crate) fn write_str(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    let bytes = text.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: Option<&[u8]> = match b {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            b'\n' => Some(b"\\n"),
            b'\r' => Some(b"\\r"),
            b'\t' => Some(b"\\t"),
            0..0x20 => None,
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        match escape {
            Some(e) => out.extend_from_slice(e),
            None => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

fn write_uuid(out: &mut Vec<u8>, id: Uuid) {
    out.push(b'"');
    let mut buf = Uuid::encode_buffer();
    out.extend_from_slice(id.hyphenated().encode_lower(&mut buf).as_bytes());
    out.push(b'"');
}

fn write_uuids(out: &mut Vec<u8>, ids: &[Uuid]) {
    out.push(b'[');
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_uuid(out, *id);
    }
    out.push(b']');
}

fn write_key(out: &mut Vec<u8>, first: &mut bool, key: &str) {
    if !*first {
        out.push(b',');
    }
    *first = false;
    out.push(b'"');
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
}

/// How unset properties are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// `/users`: unset properties are `null`.
    List,
    /// `/users/delta`: never-set properties are left out.
    Delta,
}

/// Writes the selected properties of `user` as JSON members (no braces); `manager` is skipped
/// (it is an expansion or `manager@delta`, written by the caller). `first` tracks commas.
pub(crate) fn write_user_members(
    out: &mut Vec<u8>,
    first: &mut bool,
    user: &SimUser,
    fields: &[Field],
    mode: Mode,
) {
    for &field in fields {
        let text: Option<&Option<String>> = match field {
            Field::DisplayName => Some(&user.display_name),
            Field::GivenName => Some(&user.given_name),
            Field::Surname => Some(&user.surname),
            Field::Mail => Some(&user.mail),
            Field::UserType => Some(&user.user_type),
            Field::JobTitle => Some(&user.job_title),
            Field::Department => Some(&user.department),
            Field::CompanyName => Some(&user.company_name),
            Field::OfficeLocation => Some(&user.office_location),
            Field::StreetAddress => Some(&user.street_address),
            Field::City => Some(&user.city),
            Field::State => Some(&user.state),
            Field::PostalCode => Some(&user.postal_code),
            Field::Country => Some(&user.country),
            Field::PreferredLanguage => Some(&user.preferred_language),
            Field::UsageLocation => Some(&user.usage_location),
            _ => None,
        };
        if let Some(value) = text {
            match value {
                Some(v) => {
                    write_key(out, first, field.name());
                    write_str(out, v);
                }
                None if mode == Mode::List => {
                    write_key(out, first, field.name());
                    out.extend_from_slice(b"null");
                }
                None => {}
            }
            continue;
        }
        match field {
            Field::Id => {
                write_key(out, first, "id");
                write_uuid(out, user.id);
            }
            Field::UserPrincipalName => {
                write_key(out, first, "userPrincipalName");
                write_str(out, &user.user_principal_name);
            }
            Field::AccountEnabled => match user.account_enabled {
                Some(v) => {
                    write_key(out, first, "accountEnabled");
                    out.extend_from_slice(if v { b"true" } else { b"false" });
                }
                None if mode == Mode::List => {
                    write_key(out, first, "accountEnabled");
                    out.extend_from_slice(b"null");
                }
                None => {}
            },
            Field::AssignedLicenses => {
                write_key(out, first, "assignedLicenses");
                out.push(b'[');
                for (i, license) in user.licenses.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(b"{\"disabledPlans\":");
                    write_uuids(out, &license.disabled_plans);
                    out.extend_from_slice(b",\"skuId\":");
                    write_uuid(out, license.sku_id);
                    out.push(b'}');
                }
                out.push(b']');
            }
            Field::LicenseAssignmentStates => {
                write_key(out, first, "licenseAssignmentStates");
                out.push(b'[');
                for (i, state) in user.license_states.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(b"{\"assignedByGroup\":");
                    match state.assigned_by_group {
                        Some(group) => write_uuid(out, group),
                        None => out.extend_from_slice(b"null"),
                    }
                    out.extend_from_slice(b",\"disabledPlans\":");
                    write_uuids(out, &state.disabled_plans);
                    out.extend_from_slice(b",\"error\":");
                    write_str(out, &state.error);
                    out.extend_from_slice(b",\"lastUpdatedDateTime\":");
                    write_str(
                        out,
                        &state.last_updated.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                    );
                    out.extend_from_slice(b",\"skuId\":");
                    write_uuid(out, state.sku_id);
                    out.extend_from_slice(b",\"state\":");
                    write_str(out, &state.state);
                    out.push(b'}');
                }
                out.push(b']');
            }
            Field::OnPremisesExtensionAttributes => {
                write_key(out, first, "onPremisesExtensionAttributes");
                out.push(b'{');
                for (i, value) in user.extension_attributes.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(format!("\"extensionAttribute{}\":", i + 1).as_bytes());
                    match value {
                        Some(v) => write_str(out, v),
                        None => out.extend_from_slice(b"null"),
                    }
                }
                out.push(b'}');
            }
            Field::BusinessPhones => {
                write_key(out, first, "businessPhones");
                out.extend_from_slice(b"[]");
            }
            Field::MobilePhone if mode == Mode::List => {
                write_key(out, first, "mobilePhone");
                out.extend_from_slice(b"null");
            }
            _ => {}
        }
    }
}

/// Writes an organizational contact expanded as a manager: `@odata.type`, then those of `id`,
/// `displayName` and `mail` that `fields` selects (a contact has no `userPrincipalName`). With
/// `limited`, the names are null, as for a caller who may not read contacts (reference §4.3).
pub(crate) fn write_contact(
    out: &mut Vec<u8>,
    contact: &SimContact,
    fields: &[Field],
    limited: bool,
) {
    out.extend_from_slice(b"{\"@odata.type\":\"#microsoft.graph.orgContact\"");
    let mut first = false;
    for &field in fields {
        let text = match field {
            Field::Id => {
                write_key(out, &mut first, "id");
                write_uuid(out, contact.id);
                continue;
            }
            Field::DisplayName => &contact.display_name,
            Field::Mail => &contact.mail,
            _ => continue,
        };
        write_key(out, &mut first, field.name());
        if limited {
            out.extend_from_slice(b"null");
        } else {
            write_str(out, text);
        }
    }
    out.push(b'}');
}

/// Whether `a` and `b` differ in any selected property that delta tracks (the manager is
/// compared separately).
pub(crate) fn differs(a: &SimUser, b: &SimUser, fields: &[Field]) -> bool {
    // Graph's user: delta page: "Changes to the licenseAssignmentStates property are currently
    // not tracked." The states are sent with a user who changed otherwise, but a change of the
    // states alone brings no one back.
    let tracked: Vec<Field> = fields
        .iter()
        .copied()
        .filter(|f| *f != Field::LicenseAssignmentStates)
        .collect();
    let mut left = Vec::new();
    let mut right = Vec::new();
    write_user_members(&mut left, &mut true, a, &tracked, Mode::Delta);
    write_user_members(&mut right, &mut true, b, &tracked, Mode::Delta);
    left != right
}

/// What an opaque token points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PageToken {
    /// Next page of `/users`: tenant, day of the listing, next user index, next page number.
    Users {
        tenant: Uuid,
        day: u32,
        position: u32,
        page: u32,
    },
    /// Next page of a delta round: changes from `from` (None = initial round) to `to`.
    Delta {
        tenant: Uuid,
        from: Option<u32>,
        to: u32,
        select: String,
        position: u32,
        page: u32,
    },
    /// A delta link: the state of `tenant` on `day` for a `$select`.
    DeltaLink {
        tenant: Uuid,
        day: u32,
        select: String,
    },
    /// Partner Center continuation: next customer offset and the page size.
    Customers { offset: usize, size: usize },
    /// Partner Center continuation of a customer's subscriptions: next offset and page size.
    Subscriptions {
        customer: Uuid,
        offset: usize,
        size: usize,
    },
    /// Next page of Graph's `/directory/subscriptions`: tenant and next position.
    DirectorySubscriptions { tenant: Uuid, position: usize },
}

impl PageToken {
    /// Encodes the token as base64url text carrying a check value keyed with `secret`.
    pub(crate) fn encode(&self, secret: u64) -> String {
        let text = match self {
            PageToken::Users {
                tenant,
                day,
                position,
                page,
            } => format!("U|{tenant}|{day}|{position}|{page}"),
            PageToken::Delta {
                tenant,
                from,
                to,
                select,
                position,
                page,
            } => format!(
                "D|{tenant}|{}|{to}|{position}|{page}|{select}",
                from.map_or_else(|| "-".to_owned(), |d| d.to_string())
            ),
            PageToken::DeltaLink {
                tenant,
                day,
                select,
            } => format!("L|{tenant}|{day}|{select}"),
            PageToken::Customers { offset, size } => format!("C|{offset}|{size}"),
            PageToken::Subscriptions {
                customer,
                offset,
                size,
            } => format!("S|{customer}|{offset}|{size}"),
            PageToken::DirectorySubscriptions { tenant, position } => {
                format!("Y|{tenant}|{position}")
            }
        };
        let check = check_value(secret, text.as_bytes());
        URL_SAFE_NO_PAD.encode(format!("{text}|{check:016x}"))
    }

    /// Decodes a token made by [`PageToken::encode`]; `None` when garbled or tampered with.
    pub(crate) fn decode(token: &str, secret: u64) -> Option<PageToken> {
        let bytes = URL_SAFE_NO_PAD
            .decode(token.trim().trim_end_matches('='))
            .ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let (body, check) = text.rsplit_once('|')?;
        if u64::from_str_radix(check, 16).ok()? != check_value(secret, body.as_bytes()) {
            return None;
        }
        let parts: Vec<&str> = body.splitn(7, '|').collect();
        let num = |i: usize| parts.get(i).and_then(|p| p.parse::<u32>().ok());
        let uuid = |i: usize| parts.get(i).and_then(|p| Uuid::parse_str(p).ok());
        match *parts.first()? {
            "U" => Some(PageToken::Users {
                tenant: uuid(1)?,
                day: num(2)?,
                position: num(3)?,
                page: num(4)?,
            }),
            "D" => Some(PageToken::Delta {
                tenant: uuid(1)?,
                from: match *parts.get(2)? {
                    "-" => None,
                    _ => Some(num(2)?),
                },
                to: num(3)?,
                position: num(4)?,
                page: num(5)?,
                select: (*parts.get(6)?).to_owned(),
            }),
            "L" => {
                let parts: Vec<&str> = body.splitn(4, '|').collect();
                Some(PageToken::DeltaLink {
                    tenant: Uuid::parse_str(parts.get(1)?).ok()?,
                    day: parts.get(2)?.parse().ok()?,
                    select: (*parts.get(3)?).to_owned(),
                })
            }
            "C" => Some(PageToken::Customers {
                offset: parts.get(1)?.parse().ok()?,
                size: parts.get(2)?.parse().ok()?,
            }),
            "S" => Some(PageToken::Subscriptions {
                customer: uuid(1)?,
                offset: parts.get(2)?.parse().ok()?,
                size: parts.get(3)?.parse().ok()?,
            }),
            "Y" => Some(PageToken::DirectorySubscriptions {
                tenant: uuid(1)?,
                position: parts.get(2)?.parse().ok()?,
            }),
            _ => None,
        }
    }
}

fn check_value(secret: u64, bytes: &[u8]) -> u64 {
    let mut words = vec![secret, bytes.len() as u64];
    words.extend(bytes.chunks(8).map(|chunk| {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        u64::from_le_bytes(word)
    }));
    hash(&words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_puts_id_first_and_rejects_unknown_properties() {
        let fields = parse_select("displayName,ID,mail,displayName").unwrap();
        assert_eq!(fields, vec![Field::Id, Field::DisplayName, Field::Mail]);
        assert_eq!(
            parse_select("displayName,aboutMe"),
            Err("aboutMe".to_owned())
        );
    }

    #[test]
    fn strings_are_escaped_as_json() {
        let mut out = Vec::new();
        write_str(&mut out, "O'Connor \"x\" \\ \u{1} Zürich");
        let text = String::from_utf8(out).unwrap();
        let back: String = serde_json::from_str(&text).unwrap();
        assert_eq!(back, "O'Connor \"x\" \\ \u{1} Zürich");
    }

    #[test]
    fn tokens_round_trip_and_tampering_is_detected() {
        let token = PageToken::Delta {
            tenant: Uuid::from_u128(7),
            from: Some(3),
            to: 5,
            select: "id,displayName,manager".to_owned(),
            position: 42,
            page: 2,
        };
        let text = token.encode(99);
        assert_eq!(PageToken::decode(&text, 99), Some(token));
        assert_eq!(PageToken::decode(&text, 98), None);
        let mut tampered = text.into_bytes();
        tampered[3] = if tampered[3] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            PageToken::decode(&String::from_utf8(tampered).unwrap(), 99),
            None
        );
        assert_eq!(PageToken::decode("not a token!", 99), None);
    }
}
