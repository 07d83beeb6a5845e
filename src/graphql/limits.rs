//! Operation limits, checked before any resolver runs: document size and tokens, aliases,
//! directives, root fields, introspection, depth, complexity (page sizes multiply what they
//! select) and `_entities` representations; and the cap on errors per response.
//! Works on async-graphql's parsed document; knows nothing of actix.

use std::collections::HashMap;

use async_graphql::parser::types::{
    BaseType, DocumentOperations, ExecutableDocument, Field, OperationDefinition, OperationType,
    Selection, SelectionSet, Type, TypeKind, TypeSystemDefinition,
};
use async_graphql::{Request, Response, ServerError, Value as ConstValue, Variables};

use super::error::{ApiError, Limit};
use crate::config::graphql::OperationLimits;
use crate::domain::paging::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};

/// A refusal naming the limit, the value found and the maximum, with the three also in
/// `extensions` (`limit`, `value`, `max`) for clients that act on them.
pub fn limit_exceeded(limit: &str, value: impl std::fmt::Display, max: u64) -> ServerError {
    ApiError::OperationLimit(Limit::new(limit, value, max)).into_server_error()
}

/// One field of the schema as the complexity count sees it.
#[derive(Debug)]
struct FieldShape {
    /// Name of the type it returns, lists and non-null unwrapped.
    ty: String,
    /// Whether it takes `first` (a connection: its default page size multiplies).
    paged: bool,
}

/// What the checks know of the schema: each object's and interface's fields, and the roots.
#[derive(Debug, Default)]
pub struct SchemaShape {
    types: HashMap<String, HashMap<String, FieldShape>>,
    /// Names of the object types (not interfaces or unions).
    objects: std::collections::HashSet<String>,
    /// The object types of each union and interface.
    possible: HashMap<String, std::collections::HashSet<String>>,
    query: String,
    mutation: String,
    subscription: String,
}

impl SchemaShape {
    /// Reads the shape from the schema's SDL; an SDL that does not parse gives an empty shape
    /// (every field then counts 1 unless it has a `first` argument).
    pub fn from_sdl(sdl: &str) -> SchemaShape {
        let mut shape = SchemaShape {
            query: "Query".to_owned(),
            mutation: "Mutation".to_owned(),
            subscription: "Subscription".to_owned(),
            ..SchemaShape::default()
        };
        let Ok(document) = async_graphql::parser::parse_schema(sdl) else {
            tracing::warn!("schema SDL did not parse; complexity counts without types");
            return shape;
        };
        for definition in document.definitions {
            match definition {
                TypeSystemDefinition::Schema(schema) => {
                    let schema = schema.node;
                    if let Some(name) = schema.query {
                        shape.query = name.node.to_string();
                    }
                    if let Some(name) = schema.mutation {
                        shape.mutation = name.node.to_string();
                    }
                    if let Some(name) = schema.subscription {
                        shape.subscription = name.node.to_string();
                    }
                }
                TypeSystemDefinition::Type(ty) => {
                    let ty = ty.node;
                    let name = ty.name.node.to_string();
                    let fields = match ty.kind {
                        TypeKind::Object(object) => {
                            for interface in &object.implements {
                                shape
                                    .possible
                                    .entry(interface.node.to_string())
                                    .or_default()
                                    .insert(name.clone());
                            }
                            shape.objects.insert(name);
                            object.fields
                        }
                        TypeKind::Interface(interface) => interface.fields,
                        TypeKind::Union(union) => {
                            let members = union.members.iter().map(|m| m.node.to_string());
                            shape.possible.entry(name).or_default().extend(members);
                            continue;
                        }
                        _ => continue,
                    };
                    let entry = shape.types.entry(ty.name.node.to_string()).or_default();
                    for field in fields {
                        let field = field.node;
                        entry.insert(
                            field.name.node.to_string(),
                            FieldShape {
                                ty: base_name(&field.ty.node).to_owned(),
                                paged: field.arguments.iter().any(|a| a.node.name.node == "first"),
                            },
                        );
                    }
                }
                TypeSystemDefinition::Directive(_) => {}
            }
        }
        shape
    }

    fn field(&self, parent: &str, name: &str) -> Option<&FieldShape> {
        self.types.get(parent)?.get(name)
    }

    /// The type `name` of `parent` returns (lists and non-null unwrapped), if known.
    pub(crate) fn field_type(&self, parent: &str, name: &str) -> Option<&str> {
        self.field(parent, name).map(|f| f.ty.as_str())
    }

    /// The schema's own spelling of type `name`, when it is a type with fields.
    pub(crate) fn type_name(&self, name: &str) -> Option<&str> {
        self.types.get_key_value(name).map(|(key, _)| key.as_str())
    }

    /// Whether `name` is an object type (not an interface, a union or unknown).
    pub(crate) fn is_object(&self, name: &str) -> bool {
        self.objects.contains(name)
    }

    /// Whether object type `object` is a member of union, or implements interface, `abstract_type`.
    pub(crate) fn is_possible(&self, abstract_type: &str, object: &str) -> bool {
        self.possible
            .get(abstract_type)
            .is_some_and(|objects| objects.contains(object))
    }

    pub(crate) fn root(&self, ty: OperationType) -> &str {
        match ty {
            OperationType::Query => &self.query,
            OperationType::Mutation => &self.mutation,
            OperationType::Subscription => &self.subscription,
        }
    }
}

fn base_name(ty: &Type) -> &str {
    match &ty.base {
        BaseType::Named(name) => name.as_str(),
        BaseType::List(inner) => base_name(inner),
    }
}

/// Checks operations against the limits; built once with the schema.
#[derive(Debug)]
pub struct OperationGuard {
    limits: OperationLimits,
    shape: SchemaShape,
}

impl OperationGuard {
    /// A guard enforcing `limits` over a schema of this `shape`.
    pub fn new(limits: OperationLimits, shape: SchemaShape) -> Self {
        OperationGuard { limits, shape }
    }

    /// What the checks know of the schema.
    pub fn shape(&self) -> &SchemaShape {
        &self.shape
    }

    /// The limits enforced.
    pub fn limits(&self) -> &OperationLimits {
        &self.limits
    }

    /// Checks `request` and keeps its parsed document in it, so the schema does not parse it
    /// again. Returns the type of the operation that will run, or `None` when the document
    /// names no runnable operation (the schema then reports why). A refusal is one error.
    pub fn check(&self, request: &mut Request) -> Result<Option<OperationType>, ServerError> {
        let limits = &self.limits;
        let size = request.query.len();
        if size > limits.max_document_bytes {
            return Err(limit_exceeded(
                "document size in bytes",
                size,
                limits.max_document_bytes as u64,
            ));
        }
        let tokens = count_tokens(&request.query, limits.max_tokens);
        if tokens > limits.max_tokens {
            return Err(limit_exceeded(
                "tokens",
                format!("more than {}", limits.max_tokens),
                limits.max_tokens as u64,
            ));
        }
        let document = async_graphql::parser::parse_query(&request.query)?;
        let result = self
            .check_document(&document, request)
            .map_err(|mut error| {
                // A limit of the operation points at the operation (the first one when the
                // document has several and none is chosen yet).
                if error.locations.is_empty() {
                    let operation = select_operation(&document, request.operation_name.as_deref())
                        .map(|o| o.selection_set.pos)
                        .or_else(|| document.operations.iter().next().map(|(_, o)| o.pos));
                    error.locations.extend(operation);
                }
                error
            });
        request.set_parsed_query(document);
        result
    }

    fn check_document(
        &self,
        document: &ExecutableDocument,
        request: &Request,
    ) -> Result<Option<OperationType>, ServerError> {
        let limits = &self.limits;
        let counts = count_document(document);
        if counts.aliases > limits.max_aliases {
            return Err(limit_exceeded(
                "aliases",
                counts.aliases,
                limits.max_aliases as u64,
            ));
        }
        if counts.max_directives > limits.max_directives {
            return Err(limit_exceeded(
                "directives on one selection",
                counts.max_directives,
                limits.max_directives as u64,
            ));
        }
        let Some(operation) = select_operation(document, request.operation_name.as_deref()) else {
            return Ok(None);
        };
        let mut roots = Vec::new();
        root_fields(
            document,
            &operation.selection_set.node,
            &mut Vec::new(),
            &mut roots,
        );
        if roots.len() > limits.max_root_fields {
            return Err(limit_exceeded(
                "root fields",
                roots.len(),
                limits.max_root_fields as u64,
            ));
        }
        if !limits.introspection
            && let Some(name) = roots
                .iter()
                .find(|name| matches!(**name, "__schema" | "__type" | "_service"))
        {
            return Err(ApiError::Forbidden(format!(
                "introspection is disabled on this server: {name} is not available \
                 (TENANTGRAPH_GRAPHQL_INTROSPECTION)"
            ))
            .into_server_error());
        }
        let variables = effective_variables(operation, &request.variables);
        refuse_nul_in_inputs(document, &variables)?;
        let mut walk = Walk {
            document,
            variables: &variables,
            shape: &self.shape,
            limits,
            fragments: HashMap::new(),
            visiting: Vec::new(),
            max_depth: limits.max_depth,
        };
        let cost = walk.selection_set(
            &operation.selection_set.node,
            Some(self.shape.root(operation.ty)),
            0,
        )?;
        if cost.aliases > limits.max_aliases as u64 {
            return Err(limit_exceeded(
                "aliases as executed (through fragments)",
                cost.aliases,
                limits.max_aliases as u64,
            ));
        }
        if cost.complexity > limits.max_complexity {
            return Err(limit_exceeded(
                "complexity",
                cost.complexity,
                limits.max_complexity,
            ));
        }
        Ok(Some(operation.ty))
    }

    /// Keeps at most `max_errors` errors in `response`: the first `max_errors - 1`, then one
    /// that says how many were left out.
    pub fn cap_errors(&self, response: &mut Response) {
        let max = self.limits.max_errors.max(1);
        let total = response.errors.len();
        if total <= max {
            return;
        }
        response.errors.truncate(max - 1);
        let mut summary = limit_exceeded("errors in the response", total, max as u64);
        summary.message = format!(
            "operation limit exceeded: errors in the response is {total}, the maximum is {max}; \
             {} more errors are not shown",
            total - (max - 1)
        );
        response.errors.push(summary);
    }
}

/// The operation a request runs: the named one, or the only one.
pub(crate) fn select_operation<'a>(
    document: &'a ExecutableDocument,
    name: Option<&str>,
) -> Option<&'a OperationDefinition> {
    match (&document.operations, name) {
        (DocumentOperations::Single(operation), _) => Some(&operation.node),
        (DocumentOperations::Multiple(operations), Some(name)) => {
            operations.get(name).map(|o| &o.node)
        }
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => {
            operations.values().next().map(|o| &o.node)
        }
        (DocumentOperations::Multiple(_), None) => None,
    }
}

/// The request's variables, with the operation's defaults for those it leaves out.
pub(crate) fn effective_variables(operation: &OperationDefinition, given: &Variables) -> Variables {
    let mut variables = given.clone();
    for definition in &operation.variable_definitions {
        let definition = &definition.node;
        if let Some(default) = &definition.default_value
            && !variables.contains_key(&definition.name.node)
        {
            variables.insert(definition.name.node.clone(), default.node.clone());
        }
    }
    variables
}

/// Refuses a NUL character (U+0000) in any string passed to the operation, as a variable or a
/// literal argument, naming where it is. PostgreSQL can store no NUL in text and SQLite cuts
/// text at it, so no input may hold one; both stores then answer alike.
fn refuse_nul_in_inputs(
    document: &ExecutableDocument,
    variables: &Variables,
) -> Result<(), ServerError> {
    let refuse = |place: String| {
        ApiError::BadUserInput(format!(
            "{place} contains a NUL character (U+0000), which no text input accepts"
        ))
        .into_server_error()
    };
    for (name, value) in variables.iter() {
        if let Some(path) = nul_path(value) {
            return Err(refuse(format!("variable ${name}{path}")));
        }
    }
    fn in_set(set: &SelectionSet) -> Option<String> {
        set.items
            .iter()
            .find_map(|selection| match &selection.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    field
                        .arguments
                        .iter()
                        .find_map(|(name, value)| {
                            // Variables are checked above; literals only here.
                            let literal = value
                                .node
                                .clone()
                                .into_const_with(|_| Ok::<_, ()>(ConstValue::Null))
                                .ok()?;
                            nul_path(&literal).map(|path| {
                                format!("argument {}{path} of field {}", name.node, field.name.node)
                            })
                        })
                        .or_else(|| in_set(&field.selection_set.node))
                }
                Selection::InlineFragment(inline) => in_set(&inline.node.selection_set.node),
                Selection::FragmentSpread(_) => None,
            })
    }
    let sets = document
        .operations
        .iter()
        .map(|(_, o)| &o.node.selection_set.node)
        .chain(
            document
                .fragments
                .values()
                .map(|f| &f.node.selection_set.node),
        );
    for set in sets {
        if let Some(place) = in_set(set) {
            return Err(refuse(place));
        }
    }
    Ok(())
}

/// Where in `value` a string holds a NUL: `""` for the value itself, else a path such as
/// `.rules[2].conditions[0].values[1]`; `None` when no string does.
fn nul_path(value: &ConstValue) -> Option<String> {
    match value {
        ConstValue::String(text) => text.contains('\0').then(String::new),
        ConstValue::Enum(name) => name.contains('\0').then(String::new),
        ConstValue::List(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| nul_path(item).map(|path| format!("[{i}]{path}"))),
        ConstValue::Object(fields) => fields.iter().find_map(|(key, item)| {
            if key.contains('\0') {
                return Some(format!(".{}", key.replace('\0', "\\0")));
            }
            nul_path(item).map(|path| format!(".{key}{path}"))
        }),
        _ => None,
    }
}

/// Names of the fields at the root of a selection set, through fragments. A fragment already
/// being expanded is skipped (cycles are reported by validation).
fn root_fields<'a>(
    document: &'a ExecutableDocument,
    set: &'a SelectionSet,
    visiting: &mut Vec<&'a str>,
    out: &mut Vec<&'a str>,
) {
    for selection in &set.items {
        match &selection.node {
            Selection::Field(field) => out.push(field.node.name.node.as_str()),
            Selection::InlineFragment(inline) => {
                root_fields(document, &inline.node.selection_set.node, visiting, out)
            }
            Selection::FragmentSpread(spread) => {
                let name = spread.node.fragment_name.node.as_str();
                if visiting.contains(&name) {
                    continue;
                }
                if let Some(fragment) = document.fragments.get(name) {
                    visiting.push(name);
                    root_fields(document, &fragment.node.selection_set.node, visiting, out);
                    visiting.pop();
                }
            }
        }
    }
}

/// Counts over the whole document as written (fragments once each).
#[derive(Debug, Default)]
struct DocumentCounts {
    aliases: usize,
    max_directives: usize,
}

fn count_document(document: &ExecutableDocument) -> DocumentCounts {
    fn walk(set: &SelectionSet, counts: &mut DocumentCounts) {
        for selection in &set.items {
            counts.max_directives = counts.max_directives.max(selection.node.directives().len());
            match &selection.node {
                Selection::Field(field) => {
                    if field.node.alias.is_some() {
                        counts.aliases += 1;
                    }
                    walk(&field.node.selection_set.node, counts);
                }
                Selection::InlineFragment(inline) => walk(&inline.node.selection_set.node, counts),
                Selection::FragmentSpread(_) => {}
            }
        }
    }
    let mut counts = DocumentCounts::default();
    for (_, operation) in document.operations.iter() {
        counts.max_directives = counts.max_directives.max(operation.node.directives.len());
        walk(&operation.node.selection_set.node, &mut counts);
    }
    for fragment in document.fragments.values() {
        counts.max_directives = counts.max_directives.max(fragment.node.directives.len());
        walk(&fragment.node.selection_set.node, &mut counts);
    }
    counts
}

/// Complexity and depth of a selection (depth relative to where it starts), how deeply
/// introspection lists nest in it, and its aliased fields as executed (a fragment's count once
/// per spread).
#[derive(Debug, Clone, Copy, Default)]
struct Cost {
    complexity: u64,
    depth: usize,
    lists: usize,
    aliases: u64,
}

/// Complexity of each rule of an allocation preview: a preview tries its rules on every user of
/// the tenant.
const PREVIEW_RULE_COST: u64 = 10;
/// Complexity of each condition of a preview's rules (a regex to compile, a value to compare).
const PREVIEW_CONDITION_COST: u64 = 2;

/// Complexity of a month's chargeback (read, closed or reopened): it reads the history of
/// every user of the tenant, so one operation may ask for a few months, not one per tenant of
/// a page (`tenants(first: 50) { chargeback }` is 50 times this).
const CHARGEBACK_COST: u64 = 1000;

/// The complexity a chargeback field adds; 0 for other fields.
fn chargeback_work(field: &Field) -> u64 {
    match field.name.node.as_str() {
        "chargeback" | "closeChargeback" | "reopenChargeback" => CHARGEBACK_COST,
        _ => 0,
    }
}

/// Introspection fields that return lists. Nested in each other (`types { fields { type {
/// fields … } } }`) they multiply the answer; the standard introspection query nests three
/// (`types`, `fields`, `args`). No field of our schema has these names.
const INTROSPECTION_LISTS: &[&str] = &[
    "types",
    "fields",
    "inputFields",
    "interfaces",
    "possibleTypes",
    "enumValues",
    "args",
    "directives",
];

/// Most introspection lists nested in each other.
const MAX_INTROSPECTION_LISTS: usize = 3;

/// Depth allowed below `__schema` and `__type`: the standard introspection query (GraphiQL's,
/// graphql-js's) nests `ofType` nine times and goes past the operation depth limit. Its lists
/// are bounded by [`MAX_INTROSPECTION_LISTS`] instead.
const INTROSPECTION_MAX_DEPTH: usize = 24;

/// Depth and complexity of the selected operation, each fragment computed once.
struct Walk<'a> {
    document: &'a ExecutableDocument,
    variables: &'a Variables,
    shape: &'a SchemaShape,
    limits: &'a OperationLimits,
    fragments: HashMap<&'a str, Cost>,
    visiting: Vec<&'a str>,
    /// The depth limit in force: the operation's, or inside introspection its own.
    max_depth: usize,
}

impl<'a> Walk<'a> {
    fn selection_set(
        &mut self,
        set: &'a SelectionSet,
        parent: Option<&'a str>,
        level: usize,
    ) -> Result<Cost, ServerError> {
        let mut total = Cost::default();
        for selection in &set.items {
            let cost = match &selection.node {
                Selection::Field(field) => self.field(&field.node, parent, level)?,
                Selection::InlineFragment(inline) => {
                    let ty = inline
                        .node
                        .type_condition
                        .as_ref()
                        .map(|c| c.node.on.node.as_str())
                        .or(parent);
                    self.selection_set(&inline.node.selection_set.node, ty, level)?
                }
                Selection::FragmentSpread(spread) => {
                    self.fragment(spread.node.fragment_name.node.as_str(), level)?
                }
            };
            total.complexity = total.complexity.saturating_add(cost.complexity);
            total.aliases = total.aliases.saturating_add(cost.aliases);
            total.depth = total.depth.max(cost.depth);
            total.lists = total.lists.max(cost.lists);
        }
        Ok(total)
    }

    fn fragment(&mut self, name: &'a str, level: usize) -> Result<Cost, ServerError> {
        let cost = match self.fragments.get(name) {
            Some(cost) => *cost,
            None if self.visiting.contains(&name) => {
                // async-graphql's own checks would follow the cycle to their recursion limit
                // and answer without a code.
                let start = self.visiting.iter().position(|v| *v == name).unwrap_or(0);
                let mut path = self.visiting[start..].to_vec();
                path.push(name);
                return Err(ApiError::BadUserInput(format!(
                    "fragment {name} spreads itself: {}",
                    path.join(", ")
                ))
                .into_server_error());
            }
            None => {
                let Some(fragment) = self.document.fragments.get(name) else {
                    return Ok(Cost::default());
                };
                self.visiting.push(name);
                let cost = self.selection_set(
                    &fragment.node.selection_set.node,
                    Some(fragment.node.type_condition.node.on.node.as_str()),
                    0,
                );
                self.visiting.pop();
                let cost = cost?;
                self.fragments.insert(name, cost);
                cost
            }
        };
        self.check_depth(level + cost.depth)?;
        Ok(cost)
    }

    fn check_depth(&self, depth: usize) -> Result<(), ServerError> {
        if depth > self.max_depth {
            let limit = if self.max_depth == self.limits.max_depth {
                "depth"
            } else {
                "introspection depth"
            };
            return Err(limit_exceeded(
                limit,
                format!("at least {depth}"),
                self.max_depth as u64,
            ));
        }
        Ok(())
    }

    fn field(
        &mut self,
        field: &'a Field,
        parent: Option<&'a str>,
        level: usize,
    ) -> Result<Cost, ServerError> {
        let name = field.name.node.as_str();
        if matches!(name, "__schema" | "__type") && self.max_depth == self.limits.max_depth {
            // Introspection gets its own depth limit and a limit on nested lists instead.
            self.max_depth = INTROSPECTION_MAX_DEPTH.max(self.limits.max_depth);
            let cost = self.plain_field(field, parent, level);
            self.max_depth = self.limits.max_depth;
            let cost = cost?;
            if cost.lists > MAX_INTROSPECTION_LISTS {
                return Err(limit_exceeded(
                    "nested introspection lists",
                    cost.lists,
                    MAX_INTROSPECTION_LISTS as u64,
                ));
            }
            self.check_depth(level + 1)?;
            return Ok(Cost { depth: 1, ..cost });
        }
        self.plain_field(field, parent, level)
    }

    fn plain_field(
        &mut self,
        field: &'a Field,
        parent: Option<&'a str>,
        level: usize,
    ) -> Result<Cost, ServerError> {
        let depth = level + 1;
        self.check_depth(depth)?;
        let shape = parent.and_then(|p| self.shape.field(p, field.name.node.as_str()));
        let multiplier = self.multiplier(field, shape)?;
        let children = if field.selection_set.node.items.is_empty() {
            Cost::default()
        } else {
            self.selection_set(
                &field.selection_set.node,
                shape.map(|s| s.ty.as_str()),
                depth,
            )?
        };
        let work = self
            .preview_work(field)?
            .saturating_add(chargeback_work(field));
        Ok(Cost {
            complexity: multiplier
                .saturating_mul(children.complexity)
                .saturating_add(1)
                .saturating_add(work),
            aliases: children
                .aliases
                .saturating_add(u64::from(field.alias.is_some())),
            depth: children.depth + 1,
            lists: children.lists
                + usize::from(INTROSPECTION_LISTS.contains(&field.name.node.as_str())),
        })
    }

    /// An argument of `field` with variables substituted; `None` when absent or unresolvable.
    fn argument(&self, field: &Field, name: &str) -> Option<ConstValue> {
        field
            .get_argument(name)?
            .node
            .clone()
            .into_const_with(|variable| self.variables.get(&variable).cloned().ok_or(()))
            .ok()
    }

    /// The complexity an allocation preview adds for its proposed rules (given inline or through
    /// variables), refusing more rules than allowed; 0 for other fields.
    fn preview_work(&self, field: &Field) -> Result<u64, ServerError> {
        if field.name.node != "previewAllocation" {
            return Ok(0);
        }
        let rules = match self.argument(field, "rules") {
            Some(ConstValue::List(rules)) => rules,
            Some(ConstValue::Null) | None => Vec::new(),
            Some(one) => vec![one],
        };
        if rules.len() > self.limits.max_preview_rules {
            return Err(limit_exceeded(
                "rules of one allocation preview",
                rules.len(),
                self.limits.max_preview_rules as u64,
            ));
        }
        let conditions: usize = rules
            .iter()
            .map(|rule| match rule {
                ConstValue::Object(fields) => match fields.get("conditions") {
                    Some(ConstValue::List(conditions)) => conditions.len(),
                    Some(ConstValue::Null) | None => 0,
                    Some(_) => 1,
                },
                _ => 0,
            })
            .sum();
        Ok(PREVIEW_RULE_COST
            .saturating_mul(rules.len() as u64)
            .saturating_add(PREVIEW_CONDITION_COST.saturating_mul(conditions as u64)))
    }

    /// How many times a field's selection runs: `first`/`last` (at most the largest page), a
    /// connection's default page size, or the number of `_entities` representations.
    fn multiplier(&self, field: &Field, shape: Option<&FieldShape>) -> Result<u64, ServerError> {
        let argument = |name: &str| self.argument(field, name);
        if field.name.node == "_entities" {
            let count = match argument("representations") {
                Some(ConstValue::List(items)) => items.len(),
                None | Some(ConstValue::Null) => 0,
                // A single value where a list is expected is coerced into a list of one.
                Some(_) => 1,
            };
            if count > self.limits.max_entities {
                return Err(limit_exceeded(
                    "_entities representations",
                    count,
                    self.limits.max_entities as u64,
                ));
            }
            return Ok(count.max(1) as u64);
        }
        let size =
            ["first", "last"]
                .into_iter()
                .filter_map(argument)
                .find_map(|value| match value {
                    ConstValue::Number(n) => n.as_i64(),
                    _ => None,
                });
        Ok(match size {
            // Resolvers refuse sizes over the largest page; count what could run.
            Some(n) => n.clamp(1, i64::from(MAX_PAGE_SIZE)) as u64,
            None if shape.is_some_and(|s| s.paged) => u64::from(DEFAULT_PAGE_SIZE),
            None => 1,
        })
    }
}

/// Counts GraphQL lexical tokens (punctuators, names, numbers, strings), stopping once past
/// `max`. Whitespace, commas and comments are not tokens.
fn count_tokens(source: &str, max: usize) -> usize {
    let bytes = source.as_bytes();
    let mut i = 0;
    let mut tokens = 0;
    while i < bytes.len() && tokens <= max {
        match bytes[i] {
            b' ' | b'\t' | b'\n' | b'\r' | b',' => i += 1,
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
            }
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                tokens += 1;
                i += 3;
                while i < bytes.len() && !bytes[i..].starts_with(b"\"\"\"") {
                    i += if bytes[i..].starts_with(b"\\\"\"\"") {
                        4
                    } else {
                        1
                    };
                }
                i += 3;
            }
            b'"' => {
                tokens += 1;
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'.' if bytes[i..].starts_with(b"...") => {
                tokens += 1;
                i += 3;
            }
            c if c == b'_' || c.is_ascii_alphanumeric() || c == b'-' => {
                tokens += 1;
                i += 1;
                while i < bytes.len()
                    && (bytes[i] == b'_'
                        || bytes[i].is_ascii_alphanumeric()
                        || (bytes[i] == b'.' && !bytes[i..].starts_with(b"..."))
                        || ((bytes[i] == b'+' || bytes[i] == b'-')
                            && matches!(bytes[i - 1], b'e' | b'E')))
                {
                    i += 1;
                }
            }
            _ => {
                tokens += 1;
                i += 1;
            }
        }
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::api::ApiSettings;
    use crate::graphql::error::OPERATION_LIMIT_EXCEEDED;

    /// Whether a refusal came from these limits.
    fn is_limit_error(error: &ServerError) -> bool {
        error
            .extensions
            .as_ref()
            .and_then(|e| e.get("code"))
            .is_some_and(|code| *code == async_graphql::Value::from(OPERATION_LIMIT_EXCEEDED))
    }

    fn guard() -> OperationGuard {
        let schema = crate::graphql::build();
        OperationGuard::new(
            ApiSettings::default().limits,
            SchemaShape::from_sdl(&schema.sdl()),
        )
    }

    fn check(query: &str) -> Result<Option<OperationType>, ServerError> {
        guard().check(&mut Request::new(query))
    }

    fn refused(query: &str) -> String {
        let err = check(query).expect_err("refused");
        err.message
    }

    #[test]
    fn tokens_are_counted_like_the_graphql_lexer() {
        assert_eq!(count_tokens("{ a }", 100), 3);
        assert_eq!(
            count_tokens("query Q($n: Int = -1.5e+3) { a(n: $n) }", 100),
            19
        );
        assert_eq!(count_tokens("# comment\n{ a, b }", 100), 4);
        assert_eq!(
            count_tokens(r#"{ a(s: "x \" y", t: """ "" """) }"#, 100),
            11
        );
        assert_eq!(count_tokens("{ ...F } fragment F on Q { a }", 100), 11);
        assert_eq!(count_tokens(&"{ a }".repeat(1000), 10), 11);
    }

    #[test]
    fn the_users_page_costs_its_page_size_times_a_user() {
        let mut request = Request::new(
            "query UsersPage($id: ID!) { tenant(id: $id) { name users(first: 100) { totalCount \
             pageInfo { hasNextPage endCursor } edges { node { id displayName userPrincipalName \
             department jobTitle manager { id displayName } licenses { skuId subscription { \
             skuPartNumber } } } } } } }",
        );
        assert_eq!(
            guard().check(&mut request).unwrap(),
            Some(OperationType::Query)
        );
        let guard = OperationGuard::new(
            OperationLimits {
                max_complexity: 1000,
                ..ApiSettings::default().limits
            },
            SchemaShape::from_sdl(&crate::graphql::build().sdl()),
        );
        let err = guard.check(&mut request).unwrap_err();
        assert_eq!(
            err.message,
            "operation limit exceeded: complexity is 1803, the maximum is 1000"
        );
    }

    #[test]
    fn a_chargeback_counts_a_thousand_so_one_per_tenant_of_a_page_is_refused() {
        let one = "{ tenant(id: \"x\") { chargeback(month: \"2026-11\") { month } } }";
        assert_eq!(check(one).unwrap(), Some(OperationType::Query));
        let err = refused(
            "{ tenants(first: 50) { edges { node { chargeback(month: \"2026-11\") { month } } } } }",
        );
        // 1 + 50 * (1 + 1 + (1 + 1000 + 1)) = 50201.
        assert_eq!(
            err,
            "operation limit exceeded: complexity is 50201, the maximum is 20000"
        );
    }

    #[test]
    fn a_connection_without_first_counts_its_default_page_size() {
        let guard = OperationGuard::new(
            OperationLimits {
                max_complexity: 1000,
                ..ApiSettings::default().limits
            },
            SchemaShape::from_sdl(&crate::graphql::build().sdl()),
        );
        // tenants (50) x users (50) x node id: 1 + 50 * (3 + 50 * 3) = 7651.
        let err = guard
            .check(&mut Request::new(
                "{ tenants { edges { node { users { edges { node { id } } } } } } }",
            ))
            .unwrap_err();
        assert_eq!(
            err.message,
            "operation limit exceeded: complexity is 7651, the maximum is 1000"
        );
    }

    #[test]
    fn page_sizes_from_variables_and_their_defaults_count() {
        let query = "query($n: Int = 500) { tenants(first: $n) { edges { node { users(first: $n) \
                     { edges { node { id } } } } } } }";
        assert!(refused(query).contains("complexity"));
        let mut small =
            Request::new(query).variables(Variables::from_json(serde_json::json!({ "n": 10 })));
        assert!(guard().check(&mut small).is_ok());
    }

    #[test]
    fn fragment_bombs_are_counted_without_expanding_them() {
        let mut query = String::from("{ tenants(first: 1) { edges { node { ...F0 } } } }\n");
        for i in 0..30 {
            query.push_str(&format!(
                "fragment F{i} on Tenant {{ ...F{} ...F{} }}\n",
                i + 1,
                i + 1
            ));
        }
        // 2^30 copies of two fields once expanded; counted in one pass over 31 fragments.
        query.push_str("fragment F30 on Tenant { id name }\n");
        let message = refused(&query);
        assert!(message.contains("complexity is"), "{message}");
    }

    #[test]
    fn aliases_inside_fragments_count_once_per_spread() {
        let fields: Vec<String> = (0..10).map(|i| format!("a{i}: id")).collect();
        let fragment = format!("fragment F on Tenant {{ {} }}", fields.join(" "));
        // Ten aliases as written, spread three times: 30, within the limit.
        let three = format!("{{ tenants {{ edges {{ node {{ ...F ...F ...F }} }} }} }} {fragment}");
        assert!(check(&three).is_ok());
        // Four spreads run 40 aliased fields, though the document holds ten.
        let four =
            format!("{{ tenants {{ edges {{ node {{ ...F ...F ...F ...F }} }} }} }} {fragment}");
        assert_eq!(
            refused(&four),
            "operation limit exceeded: aliases as executed (through fragments) is 40, the maximum is 30"
        );
    }

    /// A `previewAllocation` request with `rules` rules of one condition each in variables,
    /// run by `aliases` aliases.
    fn preview_request(rules: usize, aliases: usize) -> Request {
        let previews: Vec<String> = (0..aliases)
            .map(|i| {
                format!("p{i}: previewAllocation(tenantId: $t, rules: $rules) {{ changedUsers }}")
            })
            .collect();
        let rule = serde_json::json!({
            "costGroupId": "00000000-0000-0000-0000-000000000001",
            "conditions": [{ "attribute": "DEPARTMENT", "operator": "MATCHES", "values": ["^x"] }]
        });
        Request::new(format!(
            "query($t: ID!, $rules: [AllocationRuleInput!]!) {{ {} }}",
            previews.join(" ")
        ))
        .variables(Variables::from_json(serde_json::json!({
            "t": "00000000-0000-0000-0000-000000000002",
            "rules": vec![rule; rules],
        })))
    }

    #[test]
    fn a_preview_counts_its_rules_from_variables_and_refuses_more_than_allowed() {
        // 500 rules of one condition: 1 + 1 + 10 x 500 + 2 x 500.
        assert!(guard().check(&mut preview_request(500, 1)).is_ok());
        let err = guard().check(&mut preview_request(501, 1)).unwrap_err();
        assert_eq!(
            err.message,
            "operation limit exceeded: rules of one allocation preview is 501, the maximum is 500"
        );
        // Ten aliases sharing one variable of 200 rules: each counts.
        let err = guard().check(&mut preview_request(200, 10)).unwrap_err();
        assert_eq!(
            err.message,
            "operation limit exceeded: complexity is 24020, the maximum is 20000"
        );
    }

    #[test]
    fn a_nul_in_a_literal_or_a_variable_is_refused_naming_where() {
        let err = check("{ tenants(search: \"fjord\\u0000x\") { totalCount } }").unwrap_err();
        assert_eq!(
            err.message,
            "argument search of field tenants contains a NUL character (U+0000), which no text \
             input accepts"
        );
        let mut request = preview_request(3, 1);
        request.variables = Variables::from_json(serde_json::json!({
            "t": "00000000-0000-0000-0000-000000000002",
            "rules": [{ "costGroupId": "g", "conditions": [
                { "attribute": "DEPARTMENT", "operator": "IN", "values": ["Sales", "Sa\u{0}les"] }
            ] }],
        }));
        let err = guard().check(&mut request).unwrap_err();
        assert!(
            err.message
                .starts_with("variable $rules[0].conditions[0].values[1] contains a NUL character"),
            "{}",
            err.message
        );
        assert_eq!(
            serde_json::to_value(&err).unwrap()["extensions"]["code"],
            "BAD_USER_INPUT"
        );
        // Other control characters pass this check; names refuse them where they are parsed.
        assert!(check("{ tenants(search: \"a\\tb\") { totalCount } }").is_ok());
    }

    #[test]
    fn circular_fragments_are_refused_naming_the_cycle() {
        let query = "{ tenants { edges { node { ...A } } } } \
                     fragment A on Tenant { id ...B } fragment B on Tenant { name ...C } \
                     fragment C on Tenant { ...B }";
        assert_eq!(refused(query), "fragment B spreads itself: B, C, B");
    }

    fn with_introspection() -> OperationGuard {
        let schema = crate::graphql::build();
        let mut limits = ApiSettings::default().limits;
        limits.introspection = true;
        OperationGuard::new(limits, SchemaShape::from_sdl(&schema.sdl()))
    }

    #[test]
    fn circular_introspection_is_refused_by_its_nested_lists() {
        let guard = with_introspection();
        let circular =
            "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }";
        let err = guard.check(&mut Request::new(circular)).unwrap_err();
        assert_eq!(
            err.message,
            "operation limit exceeded: nested introspection lists is 4, the maximum is 3"
        );
        // The same through fragments, each computed once.
        let fragments = "{ __type(name: \"Tenant\") { ...A } } fragment A on __Type { fields { type { ...B } } }
            fragment B on __Type { fields { type { interfaces { name } possibleTypes { ...C } } } }
            fragment C on __Type { enumValues { name } }";
        let err = guard.check(&mut Request::new(fragments)).unwrap_err();
        assert!(
            err.message.contains("nested introspection lists is 4"),
            "{}",
            err.message
        );
        let deep = format!(
            "{{ __type(name: \"Tenant\") {{ {}name{} }} }}",
            "ofType { ".repeat(30),
            " }".repeat(30)
        );
        let err = guard.check(&mut Request::new(deep)).unwrap_err();
        assert!(
            err.message.contains("introspection depth is at least 25"),
            "{}",
            err.message
        );
    }

    #[test]
    fn introspection_is_refused_unless_enabled() {
        for query in [
            "{ __schema { types { name } } }",
            "{ __type(name: \"Tenant\") { name } }",
            "{ _service { sdl } }",
            "query { ...Q } fragment Q on Query { _service { sdl } }",
        ] {
            let err = check(query).unwrap_err();
            let code = err.extensions.as_ref().and_then(|e| e.get("code")).cloned();
            assert_eq!(
                code,
                Some(async_graphql::Value::from("FORBIDDEN")),
                "{query}"
            );
        }
        assert!(check("{ __typename }").is_ok());
    }

    #[test]
    fn too_many_errors_are_summed_up_in_the_last_one() {
        let guard = guard();
        let mut response = Response::from_errors(
            (0..75)
                .map(|i| ServerError::new(format!("e{i}"), None))
                .collect(),
        );
        guard.cap_errors(&mut response);
        assert_eq!(response.errors.len(), 50);
        assert_eq!(response.errors[48].message, "e48");
        assert!(is_limit_error(&response.errors[49]));
        assert!(
            response.errors[49].message.contains("26 more errors"),
            "{}",
            response.errors[49].message
        );
    }
}
