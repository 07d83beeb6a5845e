//! A test that the API's modules import one another without a cycle: roots and entities use
//! `types`, `types` uses `loaders`, `loaders` uses `store`, and `ids`, `error` and `pagination`
//! sit below them all. Every file under `types/` counts as one module, as do `mutation.rs` and
//! `mutation/`; `mod.rs` is the module `graphql` itself. Test code is not read.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The node of the module `graphql` itself (`mod.rs`).
const ROOT: &str = "graphql";

/// Which modules each module's code names, with the files that name them.
type Edges = BTreeMap<String, BTreeMap<String, BTreeSet<String>>>;

fn graphql_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/graphql")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file below `src/graphql`: `types/user.rs` is `[types, user]`,
/// `types/mod.rs` is `[types]`, `mod.rs` is `[]`.
fn module_path(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> = relative
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// The code of a file without its tests (`mod tests` ends a file) and without comments, whose
/// paths name nothing.
fn code_of(text: &str) -> String {
    let end = text.find("#[cfg(test)]\nmod tests").unwrap_or(text.len());
    text[..end]
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The first segments a path names after its prefix: one, or each of a `{…}` group's.
fn first_segments(rest: &str) -> Vec<String> {
    let Some(group) = rest.strip_prefix('{') else {
        let name: String = rest.chars().take_while(|c| is_ident(*c)).collect();
        return [name].into_iter().filter(|n| !n.is_empty()).collect();
    };
    let (mut depth, mut names, mut current, mut taking) = (0, Vec::new(), String::new(), true);
    for c in group.chars() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                names.push(std::mem::take(&mut current));
                taking = true;
                continue;
            }
            _ => {}
        }
        if depth == 0 && taking {
            if is_ident(c) {
                current.push(c);
            } else if !current.is_empty() {
                taking = false;
            }
        }
    }
    names.push(current);
    names.retain(|n| !n.is_empty());
    names
}

/// The top-level module a path resolves to: its first segment when that is one of `modules`,
/// else the module `graphql` itself (an item `mod.rs` declares or re-exports).
fn node_of(path: &[String], modules: &BTreeSet<String>) -> String {
    match path.first() {
        Some(first) if modules.contains(first) => first.clone(),
        _ => ROOT.to_owned(),
    }
}

/// The top-level modules that the code of the file at `module` names, through
/// `crate::graphql::…`, `super::…` and, in `mod.rs`, its own modules' names.
fn named_modules(module: &[String], code: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (at, _) in code.match_indices("crate::graphql::") {
        for segment in first_segments(&code[at + "crate::graphql::".len()..]) {
            found.insert(node_of(&[segment], modules));
        }
    }
    for (at, _) in code.match_indices("super::") {
        let preceded_by_super = code[..at].ends_with("super::");
        if preceded_by_super || code[..at].ends_with(|c: char| is_ident(c) || c == ':') {
            continue;
        }
        let mut rest = &code[at..];
        let mut base = module.to_vec();
        while let Some(after) = rest.strip_prefix("super::") {
            base.pop();
            rest = after;
        }
        for segment in first_segments(rest) {
            let mut path = base.clone();
            path.push(segment);
            found.insert(node_of(&path, modules));
        }
    }
    if module.is_empty() {
        for name in modules {
            let pattern = format!("{name}::");
            let named = code
                .match_indices(&pattern)
                .any(|(at, _)| !code[..at].ends_with(|c: char| is_ident(c) || c == ':'));
            if named {
                found.insert(name.clone());
            }
        }
    }
    found
}

/// Every edge between the API's top-level modules, read from the source.
fn edges() -> Edges {
    let dir = graphql_dir();
    let mut files = Vec::new();
    rust_files(&dir, &mut files);
    let paths: Vec<(PathBuf, Vec<String>)> = files
        .into_iter()
        .map(|file| {
            let relative = file.strip_prefix(&dir).unwrap().to_path_buf();
            let module = module_path(&relative);
            (file, module)
        })
        .collect();
    let modules: BTreeSet<String> = paths
        .iter()
        .filter_map(|(_, module)| module.first().cloned())
        .collect();
    let mut edges = Edges::new();
    for (file, module) in &paths {
        // This file is test code through and through; its strings name no module.
        if module == &["module_graph"] {
            continue;
        }
        let from = node_of(module, &modules);
        let code = code_of(&std::fs::read_to_string(file).unwrap());
        let relative = file.strip_prefix(&dir).unwrap().display().to_string();
        for to in named_modules(module, &code, &modules) {
            if to != from {
                edges
                    .entry(from.clone())
                    .or_default()
                    .entry(to)
                    .or_default()
                    .insert(relative.clone());
            }
        }
    }
    edges
}

/// A cycle through `edges`, as the modules on it (the first repeated at the end), if any.
fn find_cycle(edges: &Edges) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &Edges,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = stack.iter().position(|n| n == node) {
            let mut cycle = stack[start..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_owned());
        for next in edges
            .get(node)
            .into_iter()
            .flat_map(|targets| targets.keys())
        {
            if let Some(cycle) = visit(next, edges, stack, done) {
                return Some(cycle);
            }
        }
        stack.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|node| visit(node, edges, &mut Vec::new(), &mut done))
}

#[test]
fn the_api_modules_import_one_another_without_a_cycle() {
    let edges = edges();
    let has = |from: &str, to: &str| edges.get(from).is_some_and(|t| t.contains_key(to));
    // The reading found the imports everyone knows of; an empty graph has no cycle either.
    assert!(has("query", "types") && has("types", "loaders") && has(ROOT, "schema"));
    if let Some(cycle) = find_cycle(&edges) {
        let steps: Vec<String> = cycle
            .windows(2)
            .map(|pair| {
                let files = &edges[&pair[0]][&pair[1]];
                format!("{} -> {} (in {files:?})", pair[0], pair[1])
            })
            .collect();
        panic!(
            "the API's modules import in a circle:\n{}",
            steps.join("\n")
        );
    }
}

#[test]
fn a_circle_through_super_paths_and_groups_is_found() {
    let modules: BTreeSet<String> = ["types", "query", "loaders"].map(String::from).into();
    let types = named_modules(
        &["types".to_owned(), "tenant".to_owned()],
        "use super::user::X;\nuse crate::graphql::{loaders::Key, query::parse};",
        &modules,
    );
    assert_eq!(
        types,
        ["loaders", "query", "types"].map(String::from).into()
    );
    let mut edges = Edges::new();
    for (from, to) in [
        ("query", "types"),
        ("types", "loaders"),
        ("loaders", "types"),
    ] {
        edges
            .entry(from.to_owned())
            .or_default()
            .insert(to.to_owned(), BTreeSet::new());
    }
    assert_eq!(
        find_cycle(&edges),
        Some(["loaders", "types", "loaders"].map(String::from).to_vec())
    );
}
