//! `User` written straight into the response. async-graphql resolves an object a field at a
//! time: a boxed future, a context and a map insert per field, which for a page of 100 users
//! with their managers and licenses is over a thousand futures for values already in memory.
//! A selection made only of plain fields (the summary's columns, `__typename`) and of the
//! relations the page read ahead (`manager`, `licenses` with their `subscription`) is turned
//! into its response value here in one synchronous pass. Any other selection (a field with
//! arguments or directives, a fragment, a field that loads or can fail, a key selected twice)
//! resolves field by field as before, so both ways give the same response.
//!
//! No registered extension hooks fields (`schema::build_for`), so skipping the per-field path
//! skips nothing an extension would do.

use std::borrow::Cow;

use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{Field, Selection, SelectionSet};
use async_graphql::registry::Registry;
use async_graphql::resolver_utils::resolve_container;
use async_graphql::{ContextSelectionSet, Name, OutputType, Positioned, ScalarType, ServerResult};
use async_graphql::{ID, Value};
use chrono::{DateTime, Utc};

use super::user::{UserFields, UserObject};
use crate::domain::{AssignedLicense, Subscription, UserSummary};
use crate::graphql::loaders::PageRelations;

impl OutputType for UserObject {
    fn type_name() -> Cow<'static, str> {
        <UserFields as OutputType>::type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        <UserFields as OutputType>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        _field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        let user = &self.0;
        match user_value(&user.summary, user.relations.as_deref(), &ctx.item.node) {
            Some(value) => Ok(value),
            None => resolve_container(ctx, user).await,
        }
    }
}

/// The fields of one object of a selection, each with its response key, when every selected
/// item is a plain field: no fragment, no argument, no directive, no key twice. `None` sends
/// the object down the per-field path.
fn plain_fields(set: &SelectionSet) -> Option<Vec<(&Name, &Field)>> {
    let mut fields: Vec<(&Name, &Field)> = Vec::with_capacity(set.items.len());
    for item in &set.items {
        let Selection::Field(field) = &item.node else {
            return None;
        };
        let field = &field.node;
        if !field.arguments.is_empty() || !field.directives.is_empty() {
            return None;
        }
        let key = &field.response_key().node;
        if fields.iter().any(|(seen, _)| *seen == key) {
            return None;
        }
        fields.push((key, field));
    }
    Some(fields)
}

/// Builds an object from `set`, asking `value` for each field by name; `None` when the
/// selection is not plain or `value` has no value at hand for one of its fields.
fn object_of(set: &SelectionSet, value: impl Fn(&str, &Field) -> Option<Value>) -> Option<Value> {
    let fields = plain_fields(set)?;
    let mut object = IndexMap::with_capacity(fields.len());
    for (key, field) in fields {
        object.insert(key.clone(), value(field.name.node.as_str(), field)?);
    }
    Some(if object.is_empty() {
        Value::Null
    } else {
        Value::Object(object)
    })
}

fn text(value: &str) -> Value {
    Value::String(value.to_owned())
}

fn optional_text(value: Option<&str>) -> Value {
    value.map_or(Value::Null, text)
}

fn id(value: impl ToString) -> Value {
    ID(value.to_string()).to_value()
}

fn time(value: Option<DateTime<Utc>>) -> Value {
    value.map_or(Value::Null, |t| t.to_value())
}

/// The response value of a user for `set`, with `relations` the page read ahead (none for a
/// user read alone, such as a manager).
fn user_value(
    user: &UserSummary,
    relations: Option<&PageRelations>,
    set: &SelectionSet,
) -> Option<Value> {
    object_of(set, |name, field| {
        Some(match name {
            "__typename" => text("User"),
            "id" => id(user.id),
            "tenantId" => id(user.tenant_id),
            "displayName" => text(&user.display_name),
            "userPrincipalName" => text(&user.user_principal_name),
            "mail" => optional_text(user.mail.as_deref()),
            "userType" => optional_text(user.user_type.as_deref()),
            "jobTitle" => optional_text(user.job_title.as_deref()),
            "department" => optional_text(user.department.as_deref()),
            "accountEnabled" => user.account_enabled.map_or(Value::Null, Value::Boolean),
            "managerId" => user.manager_id.map_or(Value::Null, id),
            "deletedAt" => time(user.deleted_at),
            "managerContact" => match &user.manager_contact {
                None => Value::Null,
                Some(contact) => object_of(&field.selection_set.node, |name, _| {
                    Some(match name {
                        "__typename" => text("ManagerContact"),
                        "id" => id(contact.id),
                        "displayName" => optional_text(contact.display_name.as_deref()),
                        "mail" => optional_text(contact.mail.as_deref()),
                        _ => return None,
                    })
                })?,
            },
            "manager" => {
                let managers = relations?.managers.as_ref()?;
                match user.manager_id.and_then(|m| managers.get(&m)) {
                    None => Value::Null,
                    Some(manager) => user_value(manager, None, &field.selection_set.node)?,
                }
            }
            "licenses" => {
                let relations = relations?;
                let licenses = relations.licenses.as_ref()?;
                let mut list = Vec::new();
                for license in licenses.get(&user.id).into_iter().flatten() {
                    list.push(license_value(
                        license,
                        relations,
                        &field.selection_set.node,
                    )?);
                }
                Value::List(list)
            }
            _ => return None,
        })
    })
}

/// The response value of an `AssignedLicense` for `set`.
fn license_value(
    license: &AssignedLicense,
    relations: &PageRelations,
    set: &SelectionSet,
) -> Option<Value> {
    object_of(set, |name, field| {
        Some(match name {
            "__typename" => text("AssignedLicense"),
            "skuId" => id(license.sku_id),
            "disabledServicePlanIds" => {
                Value::List(license.disabled_plans.iter().map(id).collect())
            }
            "subscription" => {
                let found = relations
                    .subscriptions
                    .as_ref()?
                    .get(&(license.tenant_id, license.sku_id))?;
                subscription_value(found, &field.selection_set.node)?
            }
            _ => return None,
        })
    })
}

/// The response value of a `LicenseSubscription` for `set`: its identifying fields only.
fn subscription_value(subscription: &Subscription, set: &SelectionSet) -> Option<Value> {
    object_of(set, |name, _| {
        Some(match name {
            "__typename" => text("LicenseSubscription"),
            "id" => Value::String(subscription.graph_id()),
            "tenantId" => id(subscription.tenant_id),
            "skuId" => id(subscription.sku_id),
            "skuPartNumber" => text(&subscription.sku_part_number),
            _ => return None,
        })
    })
}
