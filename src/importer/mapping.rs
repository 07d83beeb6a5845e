//! Graph wire types to domain values. Ids are checked here; a record that breaks the
//! reference's shape is malformed upstream data.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::clients::graph::{Field, GraphDirectoryObject, GraphSku, GraphUser};
use super::error::ImportError;
use crate::domain::{
    EXTENSION_ATTRIBUTES, FieldSet, ImportedUser, PrepaidUnits, ServicePlan, ServicePlanId, SkuId,
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

fn manager_of(object: &GraphDirectoryObject) -> Result<Option<UserId>, ImportError> {
    if object.removed.is_some() {
        return Ok(None);
    }
    // Organizational contacts can be managers but are not users of the tenant (reference §4.3).
    if object
        .odata_type
        .as_deref()
        .is_some_and(|t| !t.eq_ignore_ascii_case("#microsoft.graph.user"))
    {
        return Ok(None);
    }
    match object.id.as_deref() {
        Some(id) => Ok(Some(UserId(guid("manager id", id)?))),
        None => Err(ImportError::Malformed {
            message: "a manager reference has no id".to_owned(),
        }),
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

    let manager_id = match semantics {
        Semantics::Listing => match user.manager {
            Field::Value(object) => manager_of(&object)?,
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
                match list.iter().rev().find(|o| o.removed.is_none()) {
                    Some(object) => manager_of(object)?,
                    None => None,
                }
            }
        },
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
        licenses,
    })))
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
            updated_at: seen_at,
        },
        plans,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::importer::clients::graph::parse_users_page;

    #[test]
    fn orgcontact_manager_is_not_a_user() {
        let page = parse_users_page(include_bytes!(
            "../../tests/fixtures/microsoft/graph/users-page2.json"
        ))
        .unwrap();
        let changes: Vec<_> = page
            .value
            .into_iter()
            .map(|u| user_change(u, Semantics::Listing).unwrap())
            .collect();
        let lukas = changes
            .iter()
            .find_map(|c| match c {
                UserChange::Present(u) if u.display_name.as_deref() == Some("Lukas Brunner") => {
                    Some(u)
                }
                _ => None,
            })
            .unwrap();
        assert_eq!(lukas.manager_id, None);
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
}
