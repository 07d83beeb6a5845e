//! Response keys in the order the selection set asks for them (GraphQL spec, "Serialized Map
//! Ordering": the order of `CollectFields`). async-graphql resolves an object's fields
//! concurrently and adds each to the response as it completes (its issue #612), so a field that
//! waits on a DataLoader (`users`, `totalCount`) lands after the fields that don't, whatever the
//! query says. [`SelectionOrder`] puts every object's keys back in the query's order once the
//! response is complete. Works on async-graphql's parsed document; knows nothing of actix.

use std::collections::HashMap;

use async_graphql::parser::types::{Directive, ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Name, Positioned, Request, Value as ConstValue, Variables};

use super::limits::{SchemaShape, effective_variables, select_operation};

/// What reordering a response needs of its request: the document, which operation ran and its
/// variables (for `@skip` and `@include`).
pub struct SelectionOrder {
    document: ExecutableDocument,
    operation_name: Option<String>,
    variables: Variables,
}

impl SelectionOrder {
    /// Keeps what reordering the response to `request` needs; `None` when its document does not
    /// parse (the response then has no data to order).
    pub fn of(request: &mut Request) -> Option<SelectionOrder> {
        let document = request.parsed_query().ok()?.clone();
        Some(SelectionOrder {
            document,
            operation_name: request.operation_name.clone(),
            variables: request.variables.clone(),
        })
    }

    /// Puts the keys of every object in `data` in the order of the selection that asked for
    /// them; `shape` tells which fragments apply to which object.
    pub fn apply(&self, shape: &SchemaShape, data: &mut ConstValue) {
        let Some(operation) = select_operation(&self.document, self.operation_name.as_deref())
        else {
            return;
        };
        let walk = Walk {
            document: &self.document,
            variables: effective_variables(operation, &self.variables),
            shape,
        };
        let root = shape.root(operation.ty).to_owned();
        walk.order(&[&operation.selection_set.node], Some(&root), data);
    }
}

/// The fields of one object, in `CollectFields` order: each response key with the field's name
/// and the selection sets of every field merged under it.
type Collected<'a> = Vec<(&'a Name, &'a Name, Vec<&'a SelectionSet>)>;

struct Walk<'a> {
    document: &'a ExecutableDocument,
    variables: Variables,
    shape: &'a SchemaShape,
}

impl<'a> Walk<'a> {
    /// Orders `value` (an object, a list of them, or a leaf) selected by `sets` on a field of
    /// type `ty` (`None` when unknown).
    fn order(&self, sets: &[&'a SelectionSet], ty: Option<&str>, value: &mut ConstValue) {
        match value {
            ConstValue::List(items) => {
                for item in items {
                    self.order(sets, ty, item);
                }
            }
            ConstValue::Object(map) => {
                let concrete = self.concrete_type(ty, map);
                let mut fields: Collected<'a> = Vec::new();
                for set in sets {
                    self.collect(set, concrete.as_deref(), &mut fields);
                }
                let position: HashMap<&Name, usize> = fields
                    .iter()
                    .enumerate()
                    .map(|(i, (key, _, _))| (*key, i))
                    .collect();
                let rank = |key: &Name| position.get(key).copied().unwrap_or(usize::MAX);
                map.sort_by(|a, _, b, _| rank(a).cmp(&rank(b)));
                for (key, child) in map.iter_mut() {
                    let Some(&i) = position.get(key) else {
                        continue;
                    };
                    let (_, name, child_sets) = &fields[i];
                    if child_sets.is_empty() {
                        continue;
                    }
                    let child_type = concrete
                        .as_deref()
                        .or(ty)
                        .and_then(|parent| self.shape.field_type(parent, name));
                    self.order(child_sets, child_type, child);
                }
            }
            _ => {}
        }
    }

    /// The object type of `map`: `ty` when it is an object type, else the `__typename` the
    /// query asked for, else unknown.
    fn concrete_type(
        &self,
        ty: Option<&str>,
        map: &async_graphql::indexmap::IndexMap<Name, ConstValue>,
    ) -> Option<String> {
        if let Some(ty) = ty
            && self.shape.is_object(ty)
        {
            return Some(ty.to_owned());
        }
        match map.get("__typename") {
            Some(ConstValue::String(name)) => Some(name.clone()),
            _ => None,
        }
    }

    /// Adds the fields of `set` that apply to an object of type `concrete` (all, when unknown).
    fn collect(&self, set: &'a SelectionSet, concrete: Option<&str>, fields: &mut Collected<'a>) {
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    if !self.included(&field.directives) {
                        continue;
                    }
                    let key = &field.response_key().node;
                    let sub = &field.selection_set.node;
                    let i = match fields.iter().position(|(k, _, _)| *k == key) {
                        Some(i) => i,
                        None => {
                            fields.push((key, &field.name.node, Vec::new()));
                            fields.len() - 1
                        }
                    };
                    if !sub.items.is_empty() {
                        fields[i].2.push(sub);
                    }
                }
                Selection::FragmentSpread(spread) => {
                    let spread = &spread.node;
                    if !self.included(&spread.directives) {
                        continue;
                    }
                    let Some(fragment) = self.document.fragments.get(&spread.fragment_name.node)
                    else {
                        continue;
                    };
                    let on = &fragment.node.type_condition.node.on.node;
                    if self.applies(on, concrete) {
                        self.collect(&fragment.node.selection_set.node, concrete, fields);
                    }
                }
                Selection::InlineFragment(inline) => {
                    let inline = &inline.node;
                    if !self.included(&inline.directives) {
                        continue;
                    }
                    let applies = inline
                        .type_condition
                        .as_ref()
                        .is_none_or(|c| self.applies(&c.node.on.node, concrete));
                    if applies {
                        self.collect(&inline.selection_set.node, concrete, fields);
                    }
                }
            }
        }
    }

    /// Whether a fragment on `condition` applies to an object of type `concrete`.
    fn applies(&self, condition: &str, concrete: Option<&str>) -> bool {
        match concrete {
            Some(object) => condition == object || self.shape.is_possible(condition, object),
            None => true,
        }
    }

    /// Whether `@skip` and `@include` leave a selection in.
    fn included(&self, directives: &[Positioned<Directive>]) -> bool {
        directives.iter().all(|directive| {
            let directive = &directive.node;
            let wanted = match directive.name.node.as_str() {
                "skip" => false,
                "include" => true,
                _ => return true,
            };
            let condition = directive.get_argument("if").and_then(|value| {
                match value
                    .node
                    .clone()
                    .into_const_with(|name| self.variables.get(&name).cloned().ok_or(()))
                {
                    Ok(ConstValue::Boolean(b)) => Some(b),
                    _ => None,
                }
            });
            condition.is_none_or(|b| b == wanted)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SDL: &str = r#"
        type Query { tenant: Tenant node: Node }
        interface Node { id: ID! }
        type Tenant implements Node { id: ID! name: String users: [User] count: Int }
        type User implements Node { id: ID! name: String }
    "#;

    fn ordered(query: &str, variables: serde_json::Value, data: serde_json::Value) -> String {
        let mut request = Request::new(query).variables(Variables::from_json(variables));
        let order = SelectionOrder::of(&mut request).unwrap();
        let mut value = ConstValue::from_json(data).unwrap();
        order.apply(&SchemaShape::from_sdl(SDL), &mut value);
        serde_json::to_string(&value).unwrap()
    }

    #[test]
    fn keys_follow_the_selection_set_at_every_level() {
        let text = ordered(
            "{ tenant { users { name id } count name } }",
            serde_json::json!({}),
            serde_json::json!({ "tenant": { "name": "A", "count": 2,
                "users": [{ "id": "1", "name": "x" }, { "id": "2", "name": "y" }] } }),
        );
        assert_eq!(
            text,
            r#"{"tenant":{"users":[{"name":"x","id":"1"},{"name":"y","id":"2"}],"count":2,"name":"A"}}"#
        );
    }

    #[test]
    fn fragments_aliases_and_skipped_fields_are_placed_as_collect_fields_places_them() {
        let text = ordered(
            "query($s: Boolean!) { node { ... on User { name } id @skip(if: $s) ...T b: id } }
             fragment T on Tenant { count id }",
            serde_json::json!({ "s": true }),
            serde_json::json!({ "node": { "b": "1", "id": "1", "count": 3, "__typename": "Tenant" } }),
        );
        // On a Tenant, the User fragment does not apply and the first `id` is skipped, so
        // `count` and `id` come from the fragment, then the alias; `__typename` (not asked for
        // here) goes last.
        assert_eq!(
            text,
            r#"{"node":{"count":3,"id":"1","b":"1","__typename":"Tenant"}}"#
        );
    }
}
