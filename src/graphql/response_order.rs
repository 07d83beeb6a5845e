//! Response keys in the order the selection set asks for them (GraphQL spec, "Serialized Map
//! Ordering": the order of `CollectFields`). async-graphql resolves an object's fields
//! concurrently and adds each to the response as it completes (its issue #612), so a field that
//! waits on a DataLoader (`users`, `totalCount`) lands after the fields that don't, whatever the
//! query says. [`SelectionOrder`] puts every object's keys back in the query's order once the
//! response is complete. Works on async-graphql's parsed document; knows nothing of actix.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

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
            layouts: RefCell::default(),
        };
        walk.order(
            &[&operation.selection_set.node],
            Some(shape.root(operation.ty)),
            data,
        );
    }
}

/// The fields of one object, in `CollectFields` order: each response key with the field's name
/// and the selection sets of every field merged under it.
type Collected<'a> = Vec<(&'a Name, &'a Name, Vec<&'a SelectionSet>)>;

/// How the objects selected by the same selection sets, of the same type, are ordered: their
/// fields, each response key's place among them and each field's type. Every user of a page
/// shares one, so it is worked out once per response, not once per object.
struct Layout<'a> {
    fields: Collected<'a>,
    position: HashMap<&'a Name, usize, foldhash::fast::RandomState>,
    child_types: Vec<Option<&'a str>>,
}

/// What a [`Layout`] depends on: the selection sets, the object's concrete type and the type
/// of the field that selected it. The sets are known by the address and length of the slice
/// holding them: the operation's own, or a field's in its parent's layout, which the walk keeps
/// (and so neither moves nor frees) until it ends.
type LayoutKey<'a> = ((usize, usize), Option<Cow<'a, str>>, Option<&'a str>);

struct Walk<'a> {
    document: &'a ExecutableDocument,
    variables: Variables,
    shape: &'a SchemaShape,
    layouts: RefCell<HashMap<LayoutKey<'a>, Rc<Layout<'a>>, foldhash::fast::RandomState>>,
}

impl<'a> Walk<'a> {
    /// Orders `value` (an object, a list of them, or a leaf) selected by `sets` on a field of
    /// type `ty` (`None` when unknown). An object already in order is left as it is.
    fn order(&self, sets: &[&'a SelectionSet], ty: Option<&'a str>, value: &mut ConstValue) {
        match value {
            ConstValue::List(items) => {
                // The objects of a list of one object type share one layout.
                let shared = ty
                    .filter(|ty| self.shape.is_object(ty))
                    .map(|ty| self.layout(sets, Some(Cow::Borrowed(ty)), Some(ty)));
                for item in items {
                    match (&shared, item) {
                        (Some(layout), ConstValue::Object(map)) => self.order_object(layout, map),
                        (_, item) => self.order(sets, ty, item),
                    }
                }
            }
            ConstValue::Object(map) => {
                let layout = self.layout(sets, self.concrete_type(ty, map), ty);
                self.order_object(&layout, map);
            }
            _ => {}
        }
    }

    /// Puts the keys of `map` in `layout`'s order, and orders its children.
    fn order_object(
        &self,
        layout: &Layout<'a>,
        map: &mut async_graphql::indexmap::IndexMap<Name, ConstValue>,
    ) {
        // Keys not asked for (a `__typename` added for fragments) go last.
        let rank = |key: &Name| layout.position.get(key).copied().unwrap_or(usize::MAX);
        let (mut sorted, mut previous, mut expected) = (true, 0, 0);
        for (key, child) in map.iter_mut() {
            // Most keys come in the selection's order: the next field is checked first.
            let place = match layout.fields.get(expected) {
                Some((next, _, _)) if *next == key => expected,
                _ => rank(key),
            };
            sorted &= place >= previous;
            previous = place;
            let Some((_, _, child_sets)) = layout.fields.get(place) else {
                continue;
            };
            expected = place + 1;
            if !child_sets.is_empty() {
                self.order(child_sets, layout.child_types[place], child);
            }
        }
        if !sorted {
            map.sort_by(|a, _, b, _| rank(a).cmp(&rank(b)));
        }
    }

    /// The layout of objects of type `concrete` selected by `sets` on a field of type `ty`.
    fn layout(
        &self,
        sets: &[&'a SelectionSet],
        concrete: Option<Cow<'a, str>>,
        ty: Option<&'a str>,
    ) -> Rc<Layout<'a>> {
        let key: LayoutKey<'a> = ((sets.as_ptr() as usize, sets.len()), concrete, ty);
        if let Some(layout) = self.layouts.borrow().get(&key) {
            return layout.clone();
        }
        let concrete = key.1.as_deref();
        let mut fields: Collected<'a> = Vec::new();
        for set in sets {
            self.collect(set, concrete, &mut fields);
        }
        let position = fields
            .iter()
            .enumerate()
            .map(|(i, (key, _, _))| (*key, i))
            .collect();
        let parent = match &key.1 {
            Some(Cow::Borrowed(object)) => Some(*object),
            // A type named by `__typename` only: found in the schema's shape, if there.
            Some(Cow::Owned(object)) => self.shape.type_name(object),
            None => ty,
        };
        let child_types = fields
            .iter()
            .map(|(_, name, _)| parent.and_then(|p| self.shape.field_type(p, name)))
            .collect();
        let layout = Rc::new(Layout {
            fields,
            position,
            child_types,
        });
        self.layouts.borrow_mut().insert(key, layout.clone());
        layout
    }

    /// The object type of `map`: `ty` when it is an object type, else the `__typename` the
    /// query asked for, else unknown.
    fn concrete_type(
        &self,
        ty: Option<&'a str>,
        map: &async_graphql::indexmap::IndexMap<Name, ConstValue>,
    ) -> Option<Cow<'a, str>> {
        if let Some(ty) = ty
            && self.shape.is_object(ty)
        {
            return Some(Cow::Borrowed(ty));
        }
        match map.get("__typename") {
            Some(ConstValue::String(name)) => Some(Cow::Owned(name.clone())),
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
        type Query { tenant: Tenant node: Node nodes: [Node] }
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

    #[test]
    fn objects_of_one_selection_are_each_ordered_by_their_own_type() {
        let text = ordered(
            "{ nodes { ... on User { name } ... on Tenant { count name } id __typename } }",
            serde_json::json!({}),
            serde_json::json!({ "nodes": [
                { "id": "1", "name": "x", "__typename": "User" },
                { "__typename": "Tenant", "name": "A", "id": "2", "count": 1 },
                { "name": "y", "id": "3", "__typename": "User" },
                { "id": "4", "__typename": "User", "name": "z" }
            ] }),
        );
        assert_eq!(
            text,
            r#"{"nodes":[{"name":"x","id":"1","__typename":"User"},{"count":1,"name":"A","id":"2","__typename":"Tenant"},{"name":"y","id":"3","__typename":"User"},{"name":"z","id":"4","__typename":"User"}]}"#
        );
    }
}
