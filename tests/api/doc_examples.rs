//! Every GraphQL example of `README.md` and `docs/*.md`, run as written against the real
//! binary's `serve --demo`, in the order a reader meets them (the README first, then `docs/`
//! by file name). The conventions (README, "Examples in these pages"): one named operation per
//! ```` ```graphql ```` block; its variables in a ```` ```json ```` block right after it;
//! `{{Operation.path}}` in a variable stands for a value an earlier example answered,
//! `{{today}}`, `{{lastMonth}}` and `{{nextMonth}}` for dates; `<!-- expect: … -->` lines before a block say
//! what its answer must hold.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{Datelike, Months, Utc};
use serde_json::{Value, json};

use crate::support::{KillOnDrop, client, read_json, ws_connect};

/// One example: where it is, the operation, its variables and what its answer must hold.
#[derive(Debug)]
struct Example {
    at: String,
    operation: String,
    kind: &'static str,
    name: String,
    variables: Value,
    expects: Vec<Expect>,
}

/// What an `<!-- expect: … -->` line asks of an answer.
#[derive(Debug, Clone, PartialEq)]
enum Expect {
    /// `PATH non-empty`: under `data`, a value that is not null, not an empty list and not an
    /// empty string (with `*` in the path: at least one such value).
    NonEmpty(String),
    /// `PATH non-zero`: a number (or decimal string) other than zero.
    NonZero(String),
    /// `error CODE`: the example shows an error on purpose; the first error has this code.
    Error(String),
}

fn parse_expect(text: &str) -> Result<Expect, String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    match words.as_slice() {
        ["error", code] => Ok(Expect::Error((*code).to_owned())),
        [path, "non-empty"] => Ok(Expect::NonEmpty((*path).to_owned())),
        [path, "non-zero"] => Ok(Expect::NonZero((*path).to_owned())),
        _ => Err(format!(
            "expect must be `PATH non-empty`, `PATH non-zero` or `error CODE`, got {text:?}"
        )),
    }
}

/// The documentation pages in reading order: the README, then `docs/*.md` by name.
fn pages(root: &Path) -> Vec<PathBuf> {
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    let mut all = vec![root.join("README.md")];
    all.extend(docs);
    all
}

/// The top-level definitions of a GraphQL document: (keyword, name), `{` for a shorthand query.
fn definitions(document: &str) -> Vec<(String, String)> {
    // Words and opening brackets outside any brackets, strings and comments.
    let mut tokens: Vec<String> = Vec::new();
    let mut depth = 0usize;
    let mut chars = document.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '#' => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '"' => {
                let mut escaped = false;
                for c in chars.by_ref() {
                    if c == '"' && !escaped {
                        break;
                    }
                    escaped = c == '\\' && !escaped;
                }
            }
            '{' | '(' => {
                if depth == 0 {
                    tokens.push(c.to_string());
                }
                depth += 1;
            }
            '}' | ')' => depth = depth.saturating_sub(1),
            c if depth == 0 && (c.is_alphanumeric() || c == '_') => {
                let mut word = c.to_string();
                while let Some(&n) = chars.peek() {
                    if !(n.is_alphanumeric() || n == '_') {
                        break;
                    }
                    word.push(n);
                    chars.next();
                }
                tokens.push(word);
            }
            _ => {}
        }
    }
    let mut defs = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let token = &tokens[i];
        if token == "{" {
            defs.push(("{".to_owned(), String::new()));
        } else if matches!(
            token.as_str(),
            "query" | "mutation" | "subscription" | "fragment"
        ) {
            let name = tokens
                .get(i + 1)
                .filter(|t| *t != "{" && *t != "(")
                .cloned()
                .unwrap_or_default();
            defs.push((token.clone(), name));
            // Skip to the definition's selection set.
            while i < tokens.len() && tokens[i] != "{" {
                i += 1;
            }
        }
        i += 1;
    }
    defs
}

/// Every example of `page`, or what breaks the conventions.
fn examples_of(page: &Path) -> Result<Vec<Example>, String> {
    let text = std::fs::read_to_string(page).unwrap();
    let file = page.file_name().unwrap().to_string_lossy().into_owned();
    let lines: Vec<&str> = text.lines().collect();
    let mut examples = Vec::new();
    let mut expects = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim();
        if let Some(rest) = line.strip_prefix("<!-- expect:") {
            let body = rest.trim_end_matches("-->").trim();
            expects.push(parse_expect(body).map_err(|e| format!("{file}:{}: {e}", i + 1))?);
            i += 1;
            continue;
        }
        if line != "```graphql" {
            if line.starts_with("```") {
                expects.clear();
            }
            i += 1;
            continue;
        }
        let at = format!("{file}:{}", i + 1);
        let end = (i + 1..lines.len())
            .find(|&j| lines[j].trim() == "```")
            .ok_or_else(|| format!("{at}: graphql block never closed"))?;
        let operation = lines[i + 1..end]
            .iter()
            .map(|l| l.trim_end())
            .collect::<Vec<_>>()
            .join("\n");
        let defs = definitions(&operation);
        let (kind, name) = match defs.as_slice() {
            [(kind, name)] if !name.is_empty() && kind != "{" && kind != "fragment" => {
                (kind.clone(), name.clone())
            }
            _ => {
                return Err(format!(
                    "{at}: a block must hold one named operation, found {defs:?}"
                ));
            }
        };
        i = end + 1;
        while i < lines.len() && lines[i].trim().is_empty() {
            i += 1;
        }
        let mut variables = json!({});
        if i < lines.len() && lines[i].trim() == "```json" {
            let close = (i + 1..lines.len())
                .find(|&j| lines[j].trim() == "```")
                .ok_or_else(|| format!("{at}: variables block never closed"))?;
            let body = lines[i + 1..close].join("\n");
            variables = serde_json::from_str(&body)
                .map_err(|e| format!("{at}: variables of {name} are not JSON: {e}"))?;
            i = close + 1;
        }
        examples.push(Example {
            at,
            operation,
            kind: match kind.as_str() {
                "query" => "query",
                "mutation" => "mutation",
                _ => "subscription",
            },
            name,
            variables,
            expects: std::mem::take(&mut expects),
        });
    }
    Ok(examples)
}

/// The values a later example may refer to: `today`, `lastMonth`, `nextMonth` and each
/// example's `data`.
#[derive(Default)]
struct Answers(std::collections::HashMap<String, Value>);

impl Answers {
    fn lookup(&self, reference: &str) -> Result<Value, String> {
        let today = Utc::now().date_naive();
        match reference {
            "today" => return Ok(json!(today.to_string())),
            "lastMonth" | "nextMonth" => {
                let month = if reference == "lastMonth" {
                    today.checked_sub_months(Months::new(1))
                } else {
                    today.checked_add_months(Months::new(1))
                }
                .unwrap();
                return Ok(json!(format!("{:04}-{:02}", month.year(), month.month())));
            }
            _ => {}
        }
        let (operation, path) = reference.split_once('.').unwrap_or((reference, ""));
        let data = self
            .0
            .get(operation)
            .ok_or_else(|| format!("{{{{{reference}}}}}: no earlier example named {operation}"))?;
        let found = resolve(data, path);
        match found.as_slice() {
            [one] if !one.is_null() => Ok((*one).clone()),
            _ => Err(format!(
                "{{{{{reference}}}}}: {operation} answered no single value there: {data}"
            )),
        }
    }

    /// `value` with each `{{…}}` replaced: a string that is one reference takes the value
    /// referred to as it is (a number stays a number).
    fn fill(&self, value: &Value) -> Result<Value, String> {
        Ok(match value {
            Value::String(s) => {
                if let Some(inner) = s.strip_prefix("{{").and_then(|r| r.strip_suffix("}}"))
                    && !inner.contains("{{")
                {
                    return self.lookup(inner.trim());
                }
                let mut out = String::new();
                let mut rest = s.as_str();
                while let Some(start) = rest.find("{{") {
                    let end = rest[start..]
                        .find("}}")
                        .ok_or_else(|| format!("unclosed {{{{ in {s:?}"))?;
                    out.push_str(&rest[..start]);
                    let found = self.lookup(rest[start + 2..start + end].trim())?;
                    match found {
                        Value::String(text) => out.push_str(&text),
                        other => out.push_str(&other.to_string()),
                    }
                    rest = &rest[start + end + 2..];
                }
                out.push_str(rest);
                Value::String(out)
            }
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|v| self.fill(v))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| Ok((k.clone(), self.fill(v)?)))
                    .collect::<Result<_, String>>()?,
            ),
            other => other.clone(),
        })
    }
}

/// The values at a dotted `path` under `value`; a number indexes a list, `*` takes every item.
fn resolve<'a>(value: &'a Value, path: &str) -> Vec<&'a Value> {
    let mut current = vec![value];
    for segment in path.split('.').filter(|s| !s.is_empty()) {
        current = current
            .into_iter()
            .flat_map(|v| match (segment, v) {
                ("*", Value::Array(items)) => items.iter().collect(),
                (s, Value::Array(items)) => s
                    .parse::<usize>()
                    .ok()
                    .and_then(|n| items.get(n))
                    .into_iter()
                    .collect(),
                (s, Value::Object(map)) => map.get(s).into_iter().collect(),
                _ => Vec::new(),
            })
            .collect();
    }
    current
}

fn non_empty(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Array(items) => !items.is_empty(),
        Value::String(s) => !s.is_empty(),
        Value::Object(map) => !map.is_empty(),
        _ => true,
    }
}

fn non_zero(v: &Value) -> bool {
    match v {
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => s
            .parse::<rust_decimal::Decimal>()
            .is_ok_and(|d| !d.is_zero()),
        _ => false,
    }
}

/// What is wrong with `answer` for `example`, if anything.
fn check(example: &Example, answer: &Value) -> Result<(), String> {
    let errors = answer.get("errors").filter(|e| !e.is_null());
    let wanted_error = example.expects.iter().find_map(|e| match e {
        Expect::Error(code) => Some(code),
        _ => None,
    });
    if let Some(code) = wanted_error {
        let got = answer["errors"][0]["extensions"]["code"].as_str();
        return if got == Some(code.as_str()) {
            Ok(())
        } else {
            Err(format!("expected error {code}, got {answer}"))
        };
    }
    if let Some(errors) = errors {
        return Err(format!("errors: {errors}"));
    }
    let data = &answer["data"];
    if data.is_null() {
        return Err(format!("no data: {answer}"));
    }
    for expect in &example.expects {
        let (path, ok, what): (&str, fn(&Value) -> bool, &str) = match expect {
            Expect::NonEmpty(p) => (p, non_empty, "non-empty"),
            Expect::NonZero(p) => (p, non_zero, "non-zero"),
            Expect::Error(_) => continue,
        };
        if !resolve(data, path).into_iter().any(ok) {
            return Err(format!("expected data.{path} {what}, got {data}"));
        }
    }
    Ok(())
}

/// `serve --demo` on a free loopback port, with no authentication settings (as a reader runs
/// it), over a SQLite file of its own.
struct Demo {
    _child: KillOnDrop,
    addr: String,
    _dir: tempfile::TempDir,
}

impl Demo {
    fn start() -> Demo {
        use std::io::{BufRead, BufReader};
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("demo.db").display());
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tenantgraph"));
        for (key, _) in std::env::vars() {
            if key.starts_with("TENANTGRAPH_") {
                cmd.env_remove(key);
            }
        }
        let mut child = cmd
            .args([
                "--log-format",
                "json",
                "serve",
                "--demo",
                "--bind",
                "127.0.0.1:0",
            ])
            .env("TENANTGRAPH_DATABASE_URL", &url)
            .env("TENANTGRAPH_LOG_LEVEL", "info")
            .stderr(Stdio::piped())
            .spawn()
            .map(KillOnDrop)
            .unwrap();
        let stderr = BufReader::new(child.stderr.take().unwrap());
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut seen = Vec::new();
        let addr = loop {
            let line = rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .unwrap_or_else(|_| panic!("serve --demo did not start:\n{}", seen.join("\n")));
            if line.contains("serving GraphQL") {
                let v: Value = serde_json::from_str(&line).unwrap();
                break v["addr"].as_str().unwrap().to_owned();
            }
            seen.push(line);
        };
        Demo {
            _child: child,
            addr,
            _dir: dir,
        }
    }

    async fn run(&self, example: &Example, variables: Value) -> Value {
        if example.kind == "subscription" {
            return self.subscribe(example, variables).await;
        }
        client()
            .post(format!("http://{}/graphql", self.addr))
            .json(
                &json!({ "query": example.operation, "operationName": example.name,
                "variables": variables }),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The first event (or error) of a subscription over `graphql-transport-ws`.
    async fn subscribe(&self, example: &Example, variables: Value) -> Value {
        use futures_util::SinkExt;
        use tokio_tungstenite::tungstenite::Message;
        let mut socket = ws_connect(&self.addr, json!({})).await;
        let subscribe = json!({ "id": "1", "type": "subscribe", "payload": {
            "query": example.operation, "operationName": example.name, "variables": variables } });
        socket
            .send(Message::text(subscribe.to_string()))
            .await
            .unwrap();
        let message = read_json(&mut socket).await;
        match message["type"].as_str() {
            Some("next") => message["payload"].clone(),
            Some("error") => json!({ "errors": message["payload"] }),
            _ => json!({ "errors": [{ "message": format!("unexpected {message}") }] }),
        }
    }
}

#[test]
fn every_block_of_the_docs_is_one_named_operation() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut problems = Vec::new();
    let mut count = 0;
    for page in pages(root) {
        match examples_of(&page) {
            Ok(examples) => count += examples.len(),
            Err(e) => problems.push(e),
        }
        let text = std::fs::read_to_string(&page).unwrap();
        // A GraphQL example in a block of another language would escape the run.
        for (n, line) in text.lines().enumerate() {
            let fence = line.trim();
            if fence.starts_with("```") && (fence.contains("gql") || fence.contains("GraphQL")) {
                problems.push(format!("{}:{}: write ```graphql", page.display(), n + 1));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(count > 0);
}

#[test]
fn block_parsing_finds_names_and_refuses_anonymous_or_several_operations() {
    assert_eq!(
        definitions("query Tenants($a: ID!) { tenants { id } }"),
        vec![("query".to_owned(), "Tenants".to_owned())]
    );
    assert_eq!(
        definitions("{ tenants { id } }"),
        vec![("{".to_owned(), String::new())]
    );
    assert_eq!(
        definitions("mutation ($id: ID!) { x(a: \"{\") }"),
        vec![("mutation".to_owned(), String::new())]
    );
    assert_eq!(definitions("query A { a }\nmutation B { b }").len(), 2);
    let answers = Answers(
        [(
            "Tenants".to_owned(),
            json!({ "tenants": { "nodes": [{ "id": "t1" }] } }),
        )]
        .into(),
    );
    assert_eq!(
        answers
            .fill(&json!({ "t": "{{Tenants.tenants.nodes.0.id}}", "s": "x-{{Tenants.tenants.nodes.0.id}}" }))
            .unwrap(),
        json!({ "t": "t1", "s": "x-t1" })
    );
    assert!(answers.fill(&json!("{{Nobody.id}}")).is_err());
    let example = |expects| Example {
        at: String::new(),
        operation: String::new(),
        kind: "query",
        name: String::new(),
        variables: json!({}),
        expects,
    };
    let answer = json!({ "data": { "tenants": { "nodes": [] }, "total": { "amount": "0.00" } } });
    assert!(
        check(
            &example(vec![Expect::NonEmpty("tenants.nodes".into())]),
            &answer
        )
        .is_err()
    );
    assert!(
        check(
            &example(vec![Expect::NonZero("total.amount".into())]),
            &answer
        )
        .is_err()
    );
    assert!(check(&example(vec![]), &answer).is_ok());
    let error = json!({ "data": null, "errors": [{ "extensions": { "code": "CONFLICT" } }] });
    assert!(check(&example(vec![]), &error).is_err());
    assert!(check(&example(vec![Expect::Error("CONFLICT".into())]), &error).is_ok());
    assert!(check(&example(vec![Expect::Error("CONFLICT".into())]), &answer).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_example_runs_as_written_against_serve_demo() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let examples: Vec<Example> = pages(root)
        .iter()
        .map(|p| examples_of(p).unwrap())
        .collect::<Vec<_>>()
        .into_iter()
        .flatten()
        .collect();
    let demo = Demo::start();
    let mut answers = Answers::default();
    let mut failures = Vec::new();
    for example in &examples {
        let variables = match answers.fill(&example.variables) {
            Ok(v) => v,
            Err(e) => {
                failures.push(format!("{} {}: {e}", example.at, example.name));
                continue;
            }
        };
        let answer = demo.run(example, variables).await;
        if let Err(e) = check(example, &answer) {
            failures.push(format!("{} {}: {e}", example.at, example.name));
        }
        assert!(
            answers
                .0
                .insert(example.name.clone(), answer["data"].clone())
                .is_none(),
            "{}: a second example named {}",
            example.at,
            example.name
        );
    }
    println!(
        "{} documented examples run against serve --demo",
        examples.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));

    // What the demo data promises beyond "not empty".
    let answer = |name: &str| answers.0.get(name).unwrap().clone();
    let runs = answer("ImportRuns");
    let triggers: Vec<&Value> = resolve(&runs, "importRuns.edges.*.node.trigger");
    assert!(
        triggers.len() == 8 && triggers.iter().all(|t| *t == "DEMO"),
        "the start-up imports are recorded with trigger DEMO: {runs}"
    );
    let status = answer("ImportStatus");
    let blocked: Vec<&Value> = resolve(&status, "tenants.edges.*.node.importStatus")
        .into_iter()
        .filter(|s| s["reason"] == "CONDITIONAL_ACCESS_BLOCKED")
        .collect();
    assert_eq!(blocked.len(), 1, "{status}");
    assert_eq!(blocked[0]["lastRun"]["upstreamCode"], "AADSTS53003");
    let report = answer("CostReport");
    let vertrieb = resolve(&report, "tenant.costReport.costGroups.*")
        .into_iter()
        .find(|g| g["costGroup"]["name"] == "Vertrieb")
        .cloned()
        .unwrap_or_else(|| panic!("no Vertrieb line: {report}"));
    assert!(
        non_zero(&vertrieb["own"]["users"]),
        "the UPN_DOMAIN rule matches: {vertrieb}"
    );
    let optimization = answer("Optimization");
    for kind in resolve(&optimization, "tenant.optimization.byKind.*") {
        assert!(
            non_zero(&kind["licenses"]) && non_zero(&kind["monthlySaving"]),
            "the demo shows every kind of waste, priced: {kind}"
        );
    }
    let budgets = answer("Budgets");
    let statuses: Vec<&Value> = resolve(&budgets, "tenant.costGroups.*.budget.status");
    assert!(
        statuses.iter().any(|s| *s == "UNDER")
            && statuses.iter().any(|s| *s == "OVER" || *s == "AT_RISK"),
        "the demo's budgets show a budget kept and one at risk or over: {budgets}"
    );
    let audit = answer("AuditLog");
    let actors: Vec<&Value> = resolve(&audit, "auditLog.edges.*.node.actor");
    assert!(actors.iter().any(|a| *a == "demo"), "{audit}");
}
