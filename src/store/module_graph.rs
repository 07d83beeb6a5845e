//! Keeps the store's modules free of import circles: every `.rs` file under `src/store` is read,
//! the store modules it names (`use super::…`, `use crate::store::…`, re-exports and paths in
//! code alike) become edges, and the graph must have no cycle. Compiled for tests only.
//!
//! A module is one file; the SeaORM entities (`store/entities/`, which name one another in their
//! relations) count as one module. Comments and `#[cfg(test)]` modules are left out, and
//! `mod x;` declarations are no imports.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A module as its path from the crate root: `["store", "allocation", "rules"]`.
type Module = Vec<String>;

/// The module of `file`, a path relative to `src/`: `store/allocation/mod.rs` is
/// `store::allocation`.
fn module_of(file: &str) -> Module {
    let file = file.strip_suffix(".rs").unwrap_or(file);
    let mut module: Module = file.split('/').map(str::to_owned).collect();
    if module.last().is_some_and(|last| last == "mod") {
        module.pop();
    }
    module
}

/// The node of `module` in the graph: itself, or `store::entities` for every entity.
fn node_of(mut module: Module) -> Module {
    if module.len() > 2 && module[0] == "store" && module[1] == "entities" {
        module.truncate(2);
    }
    module
}

/// `source` without comments and without `#[cfg(test)]` items.
fn code_of(source: &str) -> String {
    let mut code = String::with_capacity(source.len());
    for line in source.lines() {
        // A `//` inside a string literal cuts the rest of its line too: no import hides there.
        code.push_str(line.split("//").next().unwrap_or(""));
        code.push('\n');
    }
    while let Some(start) = code.find("#[cfg(test)]") {
        let end = item_end(&code, start + "#[cfg(test)]".len());
        code.replace_range(start..end, "");
    }
    code
}

/// Where the item starting after `from` ends: after its `;` or its balanced `{…}` block.
fn item_end(code: &str, from: usize) -> usize {
    let mut depth = 0usize;
    for (i, c) in code[from..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 1 => return from + i + 1,
            '}' => depth = depth.saturating_sub(1),
            ';' if depth == 0 => return from + i + 1,
            _ => {}
        }
    }
    code.len()
}

/// Identifiers and the punctuation of paths; anything else is `"."`.
fn tokens(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = code.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c.is_alphanumeric() || c == '_' {
            let mut end = i + c.len_utf8();
            while let Some(&(j, d)) = chars.peek() {
                if !(d.is_alphanumeric() || d == '_') {
                    break;
                }
                end = j + d.len_utf8();
                chars.next();
            }
            out.push(code[i..end].to_owned());
        } else if c == ':' && chars.peek().is_some_and(|&(_, d)| d == ':') {
            chars.next();
            out.push("::".to_owned());
        } else if matches!(c, '{' | '}' | ',' | '*') {
            out.push(c.to_string());
        } else if !c.is_whitespace() {
            out.push(".".to_owned());
        }
    }
    out
}

/// Reads the path (or `use` tree) starting at `tokens[i]` below `prefix`; pushes every full path
/// it names to `out` and returns the index after it.
fn read_tree(tokens: &[String], mut i: usize, mut prefix: Module, out: &mut Vec<Module>) -> usize {
    loop {
        match tokens.get(i).map(String::as_str) {
            Some("{") => {
                i += 1;
                while tokens.get(i).is_some_and(|t| t != "}") {
                    i = read_tree(tokens, i, prefix.clone(), out);
                    if tokens.get(i).is_some_and(|t| t == ",") {
                        i += 1;
                    }
                }
                return i + 1;
            }
            Some(name) if name.chars().all(|c| c.is_alphanumeric() || c == '_') => {
                match name {
                    "super" => {
                        prefix.pop();
                    }
                    "crate" => prefix.clear(),
                    "self" => {}
                    _ => prefix.push(name.to_owned()),
                }
                i += 1;
                if tokens.get(i).is_some_and(|t| t == "::") {
                    i += 1;
                    continue;
                }
                out.push(prefix);
                return i;
            }
            _ => {
                out.push(prefix);
                return i;
            }
        }
    }
}

/// Every path `code` of `module` names, made absolute: those starting with `crate`, `super` or
/// `self`, and `use` paths relative to the module (`pub use connect::Store` in `store/mod.rs`).
fn paths_named(module: &Module, code: &str) -> Vec<Module> {
    let tokens = tokens(code);
    let mut out = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        let after_path = i > 0 && tokens[i - 1] == "::";
        let starts = matches!(token.as_str(), "crate" | "super" | "self")
            && !after_path
            && tokens.get(i + 1).is_some_and(|t| t == "::");
        let relative_use = i > 0
            && tokens[i - 1] == "use"
            && !matches!(token.as_str(), "crate" | "super" | "self");
        if starts || relative_use {
            read_tree(&tokens, i, module.clone(), &mut out);
        }
    }
    out
}

/// The store modules each module imports, from `(file below src/, source)` pairs.
fn import_graph(files: &[(String, String)]) -> BTreeMap<Module, BTreeSet<Module>> {
    let known: BTreeSet<Module> = files.iter().map(|(file, _)| module_of(file)).collect();
    let mut graph: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for (file, source) in files {
        let module = module_of(file);
        let node = node_of(module.clone());
        let imports = graph.entry(node.clone()).or_default();
        for path in paths_named(&module, &code_of(source)) {
            // The longest store module the path lies in; paths outside the store are skipped.
            let target = (1..=path.len())
                .rev()
                .map(|n| path[..n].to_vec())
                .find(|prefix| known.contains(prefix))
                .map(node_of);
            if let Some(target) = target.filter(|t| *t != node) {
                imports.insert(target);
            }
        }
    }
    graph
}

/// A circle of imports in `graph` (its first module repeated at the end), if there is one.
fn find_circle(graph: &BTreeMap<Module, BTreeSet<Module>>) -> Option<Vec<Module>> {
    fn visit(
        graph: &BTreeMap<Module, BTreeSet<Module>>,
        module: &Module,
        path: &mut Vec<Module>,
        done: &mut BTreeSet<Module>,
    ) -> Option<Vec<Module>> {
        if let Some(at) = path.iter().position(|m| m == module) {
            let mut circle = path[at..].to_vec();
            circle.push(module.clone());
            return Some(circle);
        }
        if done.contains(module) {
            return None;
        }
        path.push(module.clone());
        for next in graph.get(module).into_iter().flatten() {
            if let Some(circle) = visit(graph, next, path, done) {
                return Some(circle);
            }
        }
        path.pop();
        done.insert(module.clone());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|m| visit(graph, m, &mut Vec::new(), &mut done))
}

/// Every `.rs` file below `dir`, as (path relative to `src`, source), `src` being `root`.
fn read_sources(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            read_sources(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let file = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            out.push((file, std::fs::read_to_string(&path).unwrap()));
        }
    }
}

fn named(module: &str) -> Module {
    module.split("::").map(str::to_owned).collect()
}

#[test]
fn no_store_modules_import_one_another_in_a_circle() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    read_sources(&root, &root.join("store"), &mut files);
    // This file names store paths only inside its tests.
    files.retain(|(file, _)| file != "store/module_graph.rs");
    let graph = import_graph(&files);

    // The check sees the imports it is about (so it can't pass by reading nothing).
    for (from, to) in [
        ("store::allocation::rules", "store::allocation::write"),
        ("store::allocation::write", "store::allocation::evaluation"),
        ("store::allocation::evaluation", "store::allocation::reads"),
        ("store::allocation", "store::allocation::rules"),
        ("store::import_commit", "store::allocation"),
        ("store", "store::connect"),
    ] {
        assert!(
            graph[&named(from)].contains(&named(to)),
            "{from} should import {to}; read: {:?}",
            graph[&named(from)]
        );
    }
    if let Some(circle) = find_circle(&graph) {
        let names: Vec<String> = circle.iter().map(|m| m.join("::")).collect();
        panic!(
            "store modules import each other in a circle: {}",
            names.join(" -> ")
        );
    }
}

#[test]
fn a_circle_through_use_trees_and_paths_in_code_is_found() {
    let files = |c: &str| {
        vec![
            (
                "store/mod.rs".to_owned(),
                "pub mod a;\npub use a::Thing;\n".to_owned(),
            ),
            (
                "store/a.rs".to_owned(),
                "use super::{b::{self, B}, c};\n".to_owned(),
            ),
            (
                "store/b.rs".to_owned(),
                "// use super::a;\nfn f() { crate::store::c::g() }\n".to_owned(),
            ),
            ("store/c.rs".to_owned(), c.to_owned()),
            (
                "store/d/mod.rs".to_owned(),
                "#[cfg(test)]\nmod tests {\n    use super::super::a;\n}\n".to_owned(),
            ),
            (
                "store/entities/x.rs".to_owned(),
                "use super::y::Entity;".to_owned(),
            ),
            (
                "store/entities/y.rs".to_owned(),
                "use super::x::Entity;".to_owned(),
            ),
        ]
    };
    let graph = import_graph(&files("fn g() {}\n"));
    assert_eq!(graph[&named("store")], BTreeSet::from([named("store::a")]));
    assert_eq!(
        graph[&named("store::a")],
        BTreeSet::from([named("store::b"), named("store::c")])
    );
    assert_eq!(
        graph[&named("store::b")],
        BTreeSet::from([named("store::c")])
    );
    assert!(
        graph[&named("store::d")].is_empty(),
        "test modules are no imports"
    );
    assert!(
        graph[&named("store::entities")].is_empty(),
        "entities are one module"
    );
    assert_eq!(find_circle(&graph), None);

    let graph = import_graph(&files("fn g() { super::a::h() }\n"));
    let circle = find_circle(&graph).map(|c| c.iter().map(|m| m.join("::")).collect::<Vec<_>>());
    assert_eq!(
        circle,
        Some(vec![
            "store::a".into(),
            "store::b".into(),
            "store::c".into(),
            "store::a".into()
        ])
    );
}
