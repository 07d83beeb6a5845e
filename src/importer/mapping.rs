//! Graph wire types to domain values. Ids are checked here; a record that breaks the
//! reference's shape is malformed upstream data.

use chrono::{DateTime, SubsecRound, Utc};
use uuid::Uuid;

use super::clients::graph::{
    Field, GraphDirectoryObject, GraphLicenseAssignmentState, GraphSku, GraphUser,
};
use super::error::ImportError;
use crate::domain::license_assignment::error_of;
use crate::domain::{
    AssignedBy, ContactId, EXTENSION_ATTRIBUTES, FieldSet, GroupId, ImportedUser,
    LicenseAssignmentState, ManagerContact, PrepaidUnits, ServicePlan, ServicePlanId, SkuId,
    Subscription, TenantId, UserChange, UserField, UserId,
};

/// How to read missing properties of a user record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Semantics {
    /// `/users` with `$expand=manager`: a missing property is unset, a missing `manager` none.
    Listing,
    /// The first round of a delta query: never-set properties are omitted, so missing is unset.
    InitialDelta,
    /// A later delta round: missing means unchanged.
    Changes,
}

fn guid(kind: &str, value: &str) -> Result<Uuid, ImportError> {
    Uuid::try_parse(value).map_err(|_| ImportError::Malformed {
        message: format!("{kind} {value:?} is not a GUID"),
    })
}

/// A user's manager as a record names it.
enum Manager {
    /// A user of the tenant.
    User(UserId),
    /// An organizational contact, with its names when the record carried them.
    Contact(ManagerContact),
}

/// The user id of a sign-in page entry.
pub fn user_id(value: &str) -> Result<UserId, ImportError> {
    guid("user", value).map(UserId)
}

fn manager_of(object: GraphDirectoryObject) -> Result<Option<Manager>, ImportError> {
    if object.removed.is_some() {
        return Ok(None);
    }
    let Some(id) = object.id.as_deref() else {
        return Err(ImportError::Malformed {
            message: "a manager reference has no id".to_owned(),
        });
    };
    let is = |kind: &str| {
        object
            .odata_type
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case(kind))
    };
    // A manager is a user or an organizational contact, which is no user of the tenant
    // (reference §4.3); Graph names the type, and an untyped reference is taken for a user.
    if object.odata_type.is_none() || is("#microsoft.graph.user") {
        Ok(Some(Manager::User(UserId(guid("manager id", id)?))))
    } else if is("#microsoft.graph.orgContact") {
        Ok(Some(Manager::Contact(ManagerContact {
            id: ContactId(guid("manager contact id", id)?),
            display_name: object.display_name.filter(|n| !n.is_empty()),
            mail: object.mail.filter(|m| !m.is_empty()),
        })))
    } else {
        Ok(None)
    }
}

/// One Graph user record as a change to apply.
pub fn user_change(user: GraphUser, semantics: Semantics) -> Result<UserChange, ImportError> {
    let id = match user.id.as_deref() {
        Some(id) => UserId(guid("user id", id)?),
        None => {
            return Err(ImportError::Malformed {
                message: "a user record has no id".to_owned(),
            });
        }
    };
    if user.removed.is_some() {
        return Ok(UserChange::Removed(id));
    }
    let full = semantics != Semantics::Changes;
    let mut present = if full {
        FieldSet::ALL
    } else {
        FieldSet::default()
    };
    let mut take = |field: UserField, value: Field<String>| {
        if value.is_present() {
            present.insert(field);
        }
        value.into_option()
    };
    let display_name = take(UserField::DisplayName, user.display_name);
    let given_name = take(UserField::GivenName, user.given_name);
    let surname = take(UserField::Surname, user.surname);
    let user_principal_name = take(UserField::UserPrincipalName, user.user_principal_name);
    let mail = take(UserField::Mail, user.mail);
    let user_type = take(UserField::UserType, user.user_type);
    let job_title = take(UserField::JobTitle, user.job_title);
    let department = take(UserField::Department, user.department);
    let company_name = take(UserField::CompanyName, user.company_name);
    let office_location = take(UserField::OfficeLocation, user.office_location);
    let street_address = take(UserField::StreetAddress, user.street_address);
    let city = take(UserField::City, user.city);
    let state = take(UserField::State, user.state);
    let postal_code = take(UserField::PostalCode, user.postal_code);
    let country = take(UserField::Country, user.country);
    let preferred_language = take(UserField::PreferredLanguage, user.preferred_language);
    let usage_location = take(UserField::UsageLocation, user.usage_location);
    if user.account_enabled.is_present() {
        present.insert(UserField::AccountEnabled);
    }
    let account_enabled = user.account_enabled.into_option();

    let mut extension_attributes: [Option<String>; EXTENSION_ATTRIBUTES] = Default::default();
    if user.on_premises_extension_attributes.is_present() {
        present.insert(UserField::ExtensionAttributes);
    }
    if let Some(map) = user.on_premises_extension_attributes.into_option() {
        for (key, value) in map {
            let index = key
                .strip_prefix("extensionAttribute")
                .and_then(|n| n.parse::<usize>().ok())
                .filter(|n| (1..=EXTENSION_ATTRIBUTES).contains(n));
            match (index, value) {
                (Some(n), serde_json::Value::String(text)) => {
                    extension_attributes[n - 1] = Some(text)
                }
                (Some(_), serde_json::Value::Null) | (None, _) => {}
                (Some(n), other) => {
                    return Err(ImportError::Malformed {
                        message: format!(
                            "user {id}: extensionAttribute{n} must be a string or null, got {other}"
                        ),
                    });
                }
            }
        }
    }

    let mut licenses = Vec::new();
    if user.assigned_licenses.is_present() {
        present.insert(UserField::Licenses);
    }
    for license in user.assigned_licenses.into_option().unwrap_or_default() {
        let sku = SkuId(guid("skuId", &license.sku_id)?);
        let plans = license
            .disabled_plans
            .iter()
            .map(|p| guid("disabled plan id", p).map(ServicePlanId))
            .collect::<Result<Vec<_>, _>>()?;
        licenses.push((sku, plans));
    }

    if user.license_assignment_states.is_present() {
        present.insert(UserField::LicenseAssignments);
    }
    let license_assignments = user
        .license_assignment_states
        .into_option()
        .unwrap_or_default()
        .into_iter()
        .map(|entry| license_assignment(id, entry))
        .collect::<Result<Vec<_>, _>>()?;

    let manager = match semantics {
        Semantics::Listing => match user.manager {
            Field::Value(object) => manager_of(object)?,
            _ => None,
        },
        Semantics::InitialDelta | Semantics::Changes => match user.manager_delta {
            Field::Absent => None,
            Field::Null => {
                present.insert(UserField::Manager);
                None
            }
            Field::Value(list) => {
                present.insert(UserField::Manager);
                // An empty list or an `@removed` entry means the manager was removed.
                match list.into_iter().rev().find(|o| o.removed.is_none()) {
                    Some(object) => manager_of(object)?,
                    None => None,
                }
            }
        },
    };
    let (manager_id, manager_contact) = match manager {
        Some(Manager::User(id)) => (Some(id), None),
        Some(Manager::Contact(contact)) => (None, Some(contact)),
        None => (None, None),
    };

    Ok(UserChange::Present(Box::new(ImportedUser {
        id: Some(id),
        present,
        display_name,
        given_name,
        surname,
        user_principal_name,
        mail,
        user_type,
        account_enabled,
        job_title,
        department,
        company_name,
        office_location,
        street_address,
        city,
        state,
        postal_code,
        country,
        preferred_language,
        usage_location,
        extension_attributes,
        manager_id,
        manager_contact,
        licenses,
        license_assignments,
    })))
}

/// One `licenseAssignmentStates` entry of user `id`. Ids must be GUIDs and `skuId` and `state`
/// must be there; `state` and `error` values are kept as sent, known or not.
fn license_assignment(
    id: UserId,
    entry: GraphLicenseAssignmentState,
) -> Result<LicenseAssignmentState, ImportError> {
    let missing = |property: &str| ImportError::Malformed {
        message: format!("user {id}: a licenseAssignmentStates entry has no {property}"),
    };
    let sku_id = SkuId(guid(
        "licenseAssignmentStates skuId",
        &entry.sku_id.ok_or_else(|| missing("skuId"))?,
    )?);
    let assigned_by = match entry.assigned_by_group.as_deref() {
        None => AssignedBy::Direct,
        Some(group) => AssignedBy::Group(GroupId(guid("assignedByGroup", group)?)),
    };
    let state = entry
        .state
        .filter(|s| !s.is_empty())
        .ok_or_else(|| missing("state"))?;
    let disabled_plans = entry
        .disabled_plans
        .unwrap_or_default()
        .iter()
        .map(|p| guid("disabled plan id", p).map(ServicePlanId))
        .collect::<Result<Vec<_>, _>>()?;
    let last_updated = entry
        .last_updated_date_time
        .map(|text| {
            // To whole microseconds, what PostgreSQL keeps: the value read back then equals
            // the one sent, and an unchanged assignment is not written again.
            DateTime::parse_from_rfc3339(&text)
                .map(|t| t.with_timezone(&Utc).trunc_subsecs(6))
                .map_err(|_| ImportError::Malformed {
                    message: format!(
                        "user {id}: lastUpdatedDateTime {text:?} of SKU {sku_id} is not an \
                         ISO 8601 timestamp"
                    ),
                })
        })
        .transpose()?;
    Ok(LicenseAssignmentState {
        sku_id,
        assigned_by,
        state,
        error: error_of(entry.error),
        disabled_plans,
        last_updated,
    })
}

/// A subscribed SKU and its service plans.
pub fn subscription(
    tenant_id: TenantId,
    sku: GraphSku,
    seen_at: DateTime<Utc>,
) -> Result<(Subscription, Vec<ServicePlan>), ImportError> {
    let sku_id = SkuId(guid("skuId", &sku.sku_id)?);
    let applies_to = sku.applies_to.unwrap_or_else(|| "User".to_owned());
    let plans = sku
        .service_plans
        .into_iter()
        .map(|p| {
            Ok(ServicePlan {
                tenant_id,
                sku_id,
                service_plan_id: ServicePlanId(guid("servicePlanId", &p.service_plan_id)?),
                name: p.service_plan_name.unwrap_or_default(),
                provisioning_status: p.provisioning_status.unwrap_or_default(),
                applies_to: p.applies_to.unwrap_or_else(|| applies_to.clone()),
            })
        })
        .collect::<Result<Vec<_>, ImportError>>()?;
    let prepaid = sku.prepaid_units.unwrap_or_default();
    Ok((
        Subscription {
            tenant_id,
            sku_id,
            sku_part_number: sku.sku_part_number,
            capability_status: sku.capability_status.unwrap_or_default(),
            applies_to,
            prepaid: PrepaidUnits {
                enabled: prepaid.enabled,
                warning: prepaid.warning,
                suspended: prepaid.suspended,
                locked_out: prepaid.locked_out,
            },
            consumed_units: sku.consumed_units,
            subscription_ids: sku.subscription_ids,
            // Classified once the commerce and directory subscriptions are read.
            billing: crate::domain::SkuBilling::Other,
            unknown: false,
            updated_at: seen_at,
        },
        plans,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::importer::clients::graph::parse_users_page;
    use serde_json::json;

    /// The first present record of `changes` named `name`.
    fn named<'a>(changes: &'a [UserChange], name: &str) -> &'a ImportedUser {
        changes
            .iter()
            .find_map(|c| match c {
                UserChange::Present(u) if u.display_name.as_deref() == Some(name) => Some(&**u),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no record of {name}"))
    }

    #[test]
    fn an_orgcontact_manager_is_kept_as_a_contact_not_a_user() {
        let page = parse_users_page(include_bytes!(
            "../../tests/fixtures/microsoft/graph/users-page2.json"
        ))
        .unwrap();
        let changes: Vec<_> = page
            .value
            .into_iter()
            .map(|u| user_change(u, Semantics::Listing).unwrap())
            .collect();
        let lukas = named(&changes, "Lukas Brunner");
        assert_eq!(lukas.manager_id, None);
        assert_eq!(
            lukas.manager_contact,
            Some(ManagerContact {
                id: "6c7b0752-b326-4fca-9c7d-862d2e661472".parse().unwrap(),
                display_name: Some("Beat Keller (extern)".into()),
                mail: Some("beat.keller@consulting.example.com".into()),
            })
        );
        let mia = named(&changes, "Mia O'Connor-Smith");
        assert!(mia.manager_id.is_some());
        assert_eq!(mia.manager_contact, None);

        // An initial delta round names the same contact by id only (reference §5).
        let page = parse_users_page(include_bytes!(
            "../../tests/fixtures/microsoft/graph/users-delta-initial.json"
        ))
        .unwrap();
        let changes: Vec<_> = page
            .value
            .into_iter()
            .map(|u| user_change(u, Semantics::InitialDelta).unwrap())
            .collect();
        let lukas = named(&changes, "Lukas Brunner");
        assert!(lukas.present.contains(UserField::Manager));
        let contact = lukas.manager_contact.as_ref().unwrap();
        assert_eq!(
            contact.id.to_string(),
            "6c7b0752-b326-4fca-9c7d-862d2e661472"
        );
        assert!(contact.id_only());
        assert_eq!(lukas.manager_id, None);
    }

    #[test]
    fn a_contact_with_limited_information_has_no_names() {
        let user: GraphUser = serde_json::from_value(serde_json::json!({
            "id": "5b0b1b4e-8d0e-4c44-9d39-1a3f2b6c7d80",
            "userPrincipalName": "lukas@example.com",
            "manager": {
                "@odata.type": "#microsoft.graph.orgContact",
                "id": "6c7b0752-b326-4fca-9c7d-862d2e661472",
                "displayName": null,
                "mail": null
            }
        }))
        .unwrap();
        let UserChange::Present(record) = user_change(user, Semantics::Listing).unwrap() else {
            panic!("a present user")
        };
        assert!(record.manager_contact.unwrap().id_only());
    }

    #[test]
    fn delta_changes_carry_only_what_was_sent() {
        let page = parse_users_page(include_bytes!(
            "../../tests/fixtures/microsoft/graph/users-delta-changes.json"
        ))
        .unwrap();
        let mut changes = page
            .value
            .into_iter()
            .map(|u| user_change(u, Semantics::Changes).unwrap());
        let UserChange::Present(zoe) = changes.next().unwrap() else {
            panic!("Zoë is present")
        };
        assert!(zoe.present.contains(UserField::Manager));
        assert_eq!(
            zoe.manager_id.map(|m| m.to_string()).as_deref(),
            Some("7afb3e5c-7b14-4fd9-9ac4-b9b67829f73b")
        );
        assert!(matches!(changes.next().unwrap(), UserChange::Removed(_)));
    }

    #[test]
    fn a_user_without_a_guid_id_is_malformed() {
        let user = GraphUser {
            id: Some("42".into()),
            ..GraphUser::default()
        };
        assert!(matches!(
            user_change(user, Semantics::Listing),
            Err(ImportError::Malformed { .. })
        ));
    }

    fn present_user(json: serde_json::Value, semantics: Semantics) -> ImportedUser {
        let page =
            parse_users_page(&serde_json::to_vec(&json!({ "value": [json] })).unwrap()).unwrap();
        match user_change(page.value.into_iter().next().unwrap(), semantics).unwrap() {
            UserChange::Present(user) => *user,
            UserChange::Removed(id) => panic!("{id} was removed"),
        }
    }

    const USER: &str = "0a5c3a1e-3b3d-4e5f-8a6b-7c8d9e0f1a2b";
    const E3: &str = "05e9a617-0261-4cee-bb44-138d3ef5d965";
    const GROUP: &str = "6b1a8e0c-2f4d-4c3a-9e8b-1d2c3b4a5f6e";

    #[test]
    fn license_assignment_states_keep_unknown_states_and_errors_as_sent() {
        let user = present_user(
            json!({
                "id": USER,
                "userPrincipalName": "ann@example.com",
                "licenseAssignmentStates": [
                    { "assignedByGroup": null, "disabledPlans": [], "error": "None",
                      "lastUpdatedDateTime": "2025-06-01T08:30:00Z", "skuId": E3,
                      "state": "Active" },
                    { "assignedByGroup": GROUP, "disabledPlans": null,
                      "error": "SomeViolationAddedLater", "skuId": E3,
                      "state": "PendingProvisioning" },
                    { "assignedByGroup": GROUP, "disabledPlans": [E3], "error": null,
                      "lastUpdatedDateTime": "2025-06-01T08:30:00.1234567+02:00",
                      "skuId": E3, "state": "Error" }
                ]
            }),
            Semantics::Listing,
        );
        assert!(user.present.contains(UserField::LicenseAssignments));
        let [direct, pending, failed] = &user.license_assignments[..] else {
            panic!("{:?}", user.license_assignments)
        };
        assert_eq!(direct.assigned_by, AssignedBy::Direct);
        assert_eq!(
            (direct.state.as_str(), direct.error.as_deref()),
            ("Active", None)
        );
        assert_eq!(
            direct.last_updated.map(|t| t.to_rfc3339()).as_deref(),
            Some("2025-06-01T08:30:00+00:00")
        );
        assert_eq!(pending.assigned_by.to_string(), GROUP);
        assert_eq!(pending.state, "PendingProvisioning");
        assert_eq!(pending.error.as_deref(), Some("SomeViolationAddedLater"));
        assert!(pending.disabled_plans.is_empty() && pending.last_updated.is_none());
        assert_eq!(
            (failed.state.as_str(), failed.error.as_deref()),
            ("Error", None)
        );
        assert!(failed.is_in_error());
        assert_eq!(
            failed.last_updated.map(|t| t.to_rfc3339()).as_deref(),
            Some("2025-06-01T06:30:00.123456+00:00")
        );
    }

    #[test]
    fn a_delta_change_without_license_assignment_states_leaves_them_unchanged() {
        let user = present_user(
            json!({ "id": USER, "department": "Legal" }),
            Semantics::Changes,
        );
        assert!(!user.present.contains(UserField::LicenseAssignments));
        let user = present_user(
            json!({ "id": USER, "assignedLicenses": [], "licenseAssignmentStates": [] }),
            Semantics::Changes,
        );
        assert!(user.present.contains(UserField::LicenseAssignments));
        assert!(user.license_assignments.is_empty());
    }

    #[test]
    fn a_license_assignment_state_without_sku_or_state_or_with_bad_values_is_malformed() {
        let cases = [
            (json!({ "state": "Active" }), "has no skuId"),
            (json!({ "skuId": E3 }), "has no state"),
            (
                json!({ "skuId": "E3", "state": "Active" }),
                "skuId \"E3\" is not a GUID",
            ),
            (
                json!({ "skuId": E3, "state": "Active", "assignedByGroup": "Sales" }),
                "assignedByGroup \"Sales\" is not a GUID",
            ),
            (
                json!({ "skuId": E3, "state": "Active", "lastUpdatedDateTime": "yesterday" }),
                "lastUpdatedDateTime \"yesterday\"",
            ),
        ];
        for (entry, expected) in cases {
            let page = json!({ "value": [{ "id": USER, "licenseAssignmentStates": [entry] }] });
            let page = parse_users_page(&serde_json::to_vec(&page).unwrap()).unwrap();
            let err = user_change(page.value.into_iter().next().unwrap(), Semantics::Listing)
                .unwrap_err();
            assert!(err.to_string().contains(expected), "{err} lacks {expected}");
        }
    }
}
