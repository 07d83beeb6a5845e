//! What the real binary logs at the default level (info) through a full import from the simulator
//! over HTTP and a session of queries and mutations with real bearer tokens (HTTP, WebSocket,
//! refused tokens): no secret, token or `Authorization` value, and no personal value (name,
//! mail, address) of an imported user.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, LazyLock, Mutex, mpsc};
use std::time::{Duration, Instant};

use futures_util::SinkExt;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};
use tenantgraph::simulator::{self, Fault, RunningSimulator, SimulatorConfig, TenantSelector};
use tokio_tungstenite::tungstenite::Message;

use crate::support::simulated_import::import_from_simulator;
use crate::support::{KillOnDrop, SECRET_KEY, client, read_json, ws_connect, ws_open_with_headers};

/// The server's HS256 secret; it must never be logged.
const AUTH_SECRET: &str = "logs-test-hs256-secret-5b0c2e9d71a4f3e8";

/// A token signed with `secret`, valid from `nbf` to `exp` (seconds from now).
fn token(secret: &str, nbf: i64, exp: i64) -> String {
    let now = i64::try_from(jsonwebtoken::get_current_timestamp()).unwrap();
    let claims = json!({ "oid": "logs-test-admin", "roles": ["partner_admin"],
        "nbf": now + nbf, "exp": now + exp });
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

/// The `Authorization` value of every request of the session; it must never be logged.
pub(crate) static CLIENT_BEARER: LazyLock<String> =
    LazyLock::new(|| format!("Bearer {}", token(AUTH_SECRET, -10, 600)));

/// The binary with the importer pointed at `sim`, on `db`, at the default log level.
pub(crate) fn tenantgraph(sim: &RunningSimulator, db: &str) -> Command {
    let config = sim.config();
    let base = sim.base_url();
    let mut command = Command::new(env!("CARGO_BIN_EXE_tenantgraph"));
    command
        .env_remove("TENANTGRAPH_LOG_LEVEL")
        .env_remove("RUST_LOG")
        .env("TENANTGRAPH_AUTH_MODE", "hs256")
        .env("TENANTGRAPH_AUTH_HS256_SECRET", AUTH_SECRET);
    import_from_simulator(&mut command, &base, config, db)
        .env("TENANTGRAPH_IMPORT_RETRY_BASE_MS", "1")
        .env("TENANTGRAPH_IMPORT_SCHEDULE", "off");
    command
}

/// `tenantgraph serve` on port 0, its log lines collected as they come.
pub(crate) struct Served {
    child: KillOnDrop,
    /// The address it listens on (`127.0.0.1:PORT`).
    pub(crate) addr: String,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Served {
    pub(crate) fn start(mut command: Command) -> Served {
        let mut child = command
            .args(["--log-format", "json", "serve", "--bind", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map(KillOnDrop)
            .unwrap();
        let lines: Arc<Mutex<Vec<String>>> = Arc::default();
        let (tx, rx) = mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let lines = lines.clone();
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let _ = tx.send(line.clone());
                    lines.lock().unwrap().push(line);
                }
            });
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        let addr = loop {
            let line = rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .expect("the server logs `serving GraphQL` within 60 s");
            if line.contains("serving GraphQL") {
                let line: Value = serde_json::from_str(&line).unwrap();
                break line["addr"].as_str().unwrap().to_owned();
            }
        };
        Served { child, addr, lines }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Stops the server with SIGTERM and returns everything it logged.
    pub(crate) fn stop(mut self) -> String {
        let killed = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let status = self.child.wait().unwrap();
        assert!(status.success(), "{status}");
        // The reader threads end with the pipes; give them the last lines.
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self
                .lines
                .lock()
                .unwrap()
                .iter()
                .any(|l| l.contains("shut down"))
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.lines.lock().unwrap().join("\n")
    }
}

/// A GraphQL request over POST with the client's `Authorization` header.
async fn post(served: &Served, query: &str, variables: Value) -> Value {
    client()
        .post(served.url("/graphql"))
        .header("Authorization", CLIENT_BEARER.as_str())
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// A GraphQL query over GET, variables in the query string.
async fn get(served: &Served, query: &str, variables: Value) -> Value {
    let url = url::Url::parse_with_params(
        &served.url("/graphql"),
        [
            ("query", query.to_owned()),
            ("variables", variables.to_string()),
        ],
    )
    .unwrap();
    client()
        .get(url)
        .header("Authorization", CLIENT_BEARER.as_str())
        .header("X-Requested-With", "test")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

const USERS: &str = "query ($t: ID!, $search: String) { tenant(id: $t) { users(first: 500, filter: { search: $search }) {
    totalCount edges { node { id displayName mail userPrincipalName streetAddress city postalCode
      manager { displayName mail } licenses { subscription { skuPartNumber } } } } } } }";

/// Fails when any of `needles` occurs in `logs`, as it is or as a query string encodes it,
/// naming what leaked.
fn assert_absent<'a>(logs: &str, what: &str, needles: impl IntoIterator<Item = &'a str>) {
    for needle in needles {
        if needle.len() < 4 {
            continue;
        }
        let encoded: String = url::form_urlencoded::byte_serialize(needle.as_bytes()).collect();
        for form in [needle, encoded.as_str()] {
            assert!(
                !logs.contains(form),
                "{what} {needle:?} appears in the logs (as {form:?})"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_and_a_session_log_no_secret_and_no_personal_value_at_info() {
    let sim = simulator::start(
        SimulatorConfig {
            tenants: 3,
            users_per_tenant: 40,
            seed: 11,
            // Tokens expire during the run, so they are redeemed again (and rotated).
            access_token_lifetime: Duration::from_secs(1),
            ..SimulatorConfig::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    // One tenant fails (a refused token), one is throttled: the warning paths log too.
    sim.set_faults(vec![
        (TenantSelector::Index(0), Fault::ConditionalAccess),
        (
            TenantSelector::Index(1),
            Fault::Throttle {
                count: 2,
                retry_after_secs: 0,
            },
        ),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/logs.db?mode=rwc", dir.path().display());

    // A full import through the CLI.
    let output = tokio::task::spawn_blocking({
        let mut command = tenantgraph(&sim, &db);
        move || command.arg("import").output().unwrap()
    })
    .await
    .unwrap();
    let mut logs = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.status.code(), Some(1), "one tenant failed: {logs}");
    assert!(logs.contains("import committed"), "import logs captured");
    // Secrets stay out even at trace level, where the libraries log requests too.
    let output = tokio::task::spawn_blocking({
        let mut command = tenantgraph(&sim, &db);
        command.env("TENANTGRAPH_LOG_LEVEL", "trace");
        move || command.arg("import").output().unwrap()
    })
    .await
    .unwrap();
    let trace = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        trace.contains("token request refused"),
        "the failure was logged"
    );
    sim.set_faults(Vec::new());

    // A session: reads with personal values in variables and the query string, mutations, an
    // import started over GraphQL, an export, a malformed request.
    let served = Served::start(tenantgraph(&sim, &db));
    let tenant = sim.tenant_ids()[1];
    let users = sim.snapshot(tenant).unwrap().users;
    let someone = users
        .iter()
        .find(|u| u.display_name.is_some() && u.mail.is_some() && u.street_address.is_some())
        .unwrap();
    let name = someone.display_name.clone().unwrap();
    let mail = someone.mail.clone().unwrap();
    let body = post(&served, USERS, json!({ "t": tenant, "search": name })).await;
    assert!(body.get("errors").is_none(), "{body}");
    assert!(body.to_string().contains(&name), "the user is found");
    let body = get(&served, USERS, json!({ "t": tenant, "search": mail })).await;
    assert!(body.get("errors").is_none(), "{body}");
    let body = get(
        &served,
        &format!("{{ tenants(search: {name:?}) {{ totalCount }} }}"),
        json!({}),
    )
    .await;
    assert!(body.get("errors").is_none(), "{body}");
    let body = post(
        &served,
        "mutation ($t: ID!, $name: String!) { createCostGroup(input: { tenantId: $t, name: $name, code: \"CC-1\" }) { id } }",
        json!({ "t": tenant, "name": format!("Team {name}") }),
    )
    .await;
    let group = body["data"]["createCostGroup"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned();
    let body = post(
        &served,
        "mutation ($t: ID!, $g: ID!, $city: String!) { createAllocationRule(input: { tenantId: $t, costGroupId: $g,
           conditions: [{ attribute: CITY, operator: EQUALS, values: [$city] }] }) { id } }",
        json!({ "t": tenant, "g": group, "city": someone.street_address }),
    )
    .await;
    assert!(body.get("errors").is_none(), "{body}");
    let body = post(
        &served,
        "mutation ($t: ID!, $u: ID!, $g: ID!) { setUserAllocation(tenantId: $t, userId: $u, shares: [{ costGroupId: $g, percent: \"100\" }]) { id } }",
        json!({ "t": tenant, "u": someone.id, "g": group }),
    )
    .await;
    assert!(body.get("errors").is_none(), "{body}");
    // Errors whose messages carry the personal value the client sent.
    let body = post(
        &served,
        "query ($t: ID!) { tenant(id: $t) { id } }",
        json!({ "t": mail }),
    )
    .await;
    assert!(body.get("errors").is_some(), "{body}");
    let body = post(&served, &format!("{{ {mail} }}"), json!({})).await;
    assert!(body.get("errors").is_some(), "{body}");
    let run = post(
        &served,
        "mutation ($t: ID!) { triggerImport(tenantId: $t) { id } }",
        json!({ "t": tenant }),
    )
    .await;
    let run = run["data"]["triggerImport"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{run}"))
        .to_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let body = post(
            &served,
            "query ($id: ID!) { importRun(id: $id) { status } }",
            json!({ "id": run }),
        )
        .await;
        if body["data"]["importRun"]["status"] != "RUNNING" {
            assert_eq!(body["data"]["importRun"]["status"], "SUCCEEDED", "{body}");
            break;
        }
        assert!(Instant::now() < deadline, "the import did not finish");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let csv = client()
        .get(served.url(&format!("/export/tenants/{tenant}/users.csv")))
        .header("Authorization", CLIENT_BEARER.as_str())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(csv.contains(&name), "the export has the users");
    // The same search over a WebSocket authenticated in its connection_init.
    let addr = served.addr.clone();
    let mut socket = ws_connect(&addr, json!({ "Authorization": *CLIENT_BEARER })).await;
    let subscribe = json!({ "id": "1", "type": "subscribe",
        "payload": { "query": USERS, "variables": { "t": tenant, "search": name } } });
    socket
        .send(Message::text(subscribe.to_string()))
        .await
        .unwrap();
    let answer = read_json(&mut socket).await;
    assert!(answer.to_string().contains(&mail), "{answer}");
    // Refused tokens: expired, not yet valid, signed with another secret, not a JWT.
    let refused = [
        format!("Bearer {}", token(AUTH_SECRET, -1_000, -500)),
        format!("Bearer {}", token(AUTH_SECRET, 500, 1_000)),
        format!(
            "Bearer {}",
            token("another-secret-of-32-bytes-or-more!!", -10, 600)
        ),
        "Bearer not-a-jwt-9f8e7d6c".to_owned(),
    ];
    for authorization in &refused {
        let response = client()
            .post(served.url("/graphql"))
            .header("Authorization", authorization)
            .json(&json!({ "query": USERS, "variables": { "t": tenant, "search": name } }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 401);
    }
    logs.push_str(&served.stop());
    assert!(logs.contains("serving GraphQL"), "server logs captured");

    // Operations that run out of time log a warning inside the request's span: the span must
    // not carry the query string (a GET's operation and variables).
    // Beside the search, every tenant's users ten times over (different page sizes, so no
    // loader shares a read): longer than the 1 ms timeout even in a fast machine's debug build.
    let lists: Vec<String> = (0..10)
        .map(|i| {
            format!(
                "l{i}: tenants {{ edges {{ node {{ users(first: {}) {{ edges {{ node {{ displayName \
                 manager {{ displayName }} licenses {{ subscription {{ skuPartNumber }} }} }} }} }} }} }} }}",
                500 - i
            )
        })
        .collect();
    let slow = USERS.replacen(" tenant(", &format!(" {} tenant(", lists.join(" ")), 1);
    let mut command = tenantgraph(&sim, &db);
    command.env("TENANTGRAPH_GRAPHQL_TIMEOUT_MS", "1");
    command.env("TENANTGRAPH_GRAPHQL_MAX_COMPLEXITY", "100000000");
    command.env("TENANTGRAPH_GRAPHQL_MAX_ALIASES", "100");
    command.env("TENANTGRAPH_GRAPHQL_MAX_ROOT_FIELDS", "20");
    let served = Served::start(command);
    for _ in 0..5 {
        let body = get(&served, &slow, json!({ "t": tenant, "search": mail })).await;
        assert!(body.get("errors").is_some(), "{body}");
    }
    let timed_out = served.stop();
    assert!(
        timed_out.contains("cancelled at its timeout"),
        "a warning was logged in a request: {timed_out}"
    );
    logs.push_str(&timed_out);

    let config = sim.config();
    logs.push_str(&trace);
    assert_absent(
        &logs,
        "a secret",
        [
            config.client_secret.as_str(),
            config.refresh_token.as_str(),
            CLIENT_BEARER.as_str(),
            AUTH_SECRET,
            SECRET_KEY,
        ],
    );
    // Neither the tokens nor their signatures (the part that cannot be derived from claims).
    for authorization in refused.iter().chain([&*CLIENT_BEARER]) {
        let jwt = authorization.trim_start_matches("Bearer ");
        let signature = jwt.rsplit('.').next().unwrap_or(jwt);
        assert_absent(&logs, "a client token", [jwt, signature]);
    }
    // Every token the simulator issues starts with these.
    assert_absent(
        &logs,
        "a token",
        ["sim-at-", "sim-rt-", "Bearer ", "access_token"],
    );
    // Personal values are checked at info only: `trace` may show what the libraries parse.
    let logs = logs.replace(&trace, "");
    for tenant in sim.tenant_ids() {
        for user in sim.snapshot(tenant).unwrap().users {
            assert_absent(
                &logs,
                "a personal value",
                [
                    user.display_name.as_deref(),
                    user.mail.as_deref(),
                    Some(user.user_principal_name.as_str()),
                    user.street_address.as_deref(),
                ]
                .into_iter()
                .flatten(),
            );
        }
    }
    assert_absent(&logs, "a search term", [name.as_str(), mail.as_str()]);
    sim.stop().await;
}

/// The log line of a WebSocket closed for want of `connection_init`, from a server that trusts
/// `trusted_proxies`, after an upgrade from loopback claiming to be forwarded for
/// 198.51.100.77.
async fn forwarded_upgrade_log_line(trusted_proxies: &str) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_tenantgraph"));
    command
        .env_remove("TENANTGRAPH_LOG_LEVEL")
        .env_remove("RUST_LOG")
        .env(
            "TENANTGRAPH_DATABASE_URL",
            format!("sqlite://{}/proxies.db?mode=rwc", dir.path().display()),
        )
        .env("TENANTGRAPH_AUTH_MODE", "none")
        .env("TENANTGRAPH_IMPORT_SCHEDULE", "off")
        .env("TENANTGRAPH_WS_INIT_TIMEOUT_SECS", "1")
        .env("TENANTGRAPH_HTTP_TRUSTED_PROXIES", trusted_proxies);
    let served = Served::start(command);
    let mut socket = ws_open_with_headers(&served.addr, &[("Forwarded", "for=198.51.100.77")])
        .await
        .unwrap();
    // No connection_init: the server closes the socket after its second, logging why.
    use futures_util::StreamExt;
    while let Some(Ok(message)) = socket.next().await {
        if message.is_close() {
            break;
        }
    }
    let logs = served.stop();
    let line = logs
        .lines()
        .find(|line| line.contains("no connection_init in time"))
        .unwrap_or_else(|| panic!("no line about the closed WebSocket in\n{logs}"));
    serde_json::from_str(line).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forwarded_client_address_is_logged_only_from_a_trusted_proxy() {
    let untrusted = forwarded_upgrade_log_line("").await;
    assert_eq!(
        untrusted["span"]["client.address"], "127.0.0.1",
        "{untrusted}"
    );
    assert!(
        !untrusted.to_string().contains("198.51.100.77"),
        "{untrusted}"
    );
    let trusted = forwarded_upgrade_log_line("127.0.0.1/32").await;
    assert_eq!(
        trusted["span"]["client.address"], "198.51.100.77",
        "{trusted}"
    );
}
