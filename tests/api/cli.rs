//! The binary: exit codes and one-line errors.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::simulated_import::import_from_simulator;
use crate::support::{KillOnDrop, SECRET_KEY};

fn tenantgraph() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tenantgraph"));
    cmd.env_remove("TENANTGRAPH_DATABASE_URL");
    for key in [
        "TENANTGRAPH_SECRET_KEY",
        "TENANTGRAPH_SECRET_KEY_FILE",
        "TENANTGRAPH_SECRET_KEY_PREVIOUS",
        "TENANTGRAPH_SECRET_KEY_PREVIOUS_FILE",
    ] {
        cmd.env_remove(key);
    }
    // These tests are not about authentication: loopback servers without it.
    cmd.env("TENANTGRAPH_AUTH_MODE", "none");
    cmd
}

#[test]
fn serve_without_an_authentication_mode_refuses_to_start_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("a.db").display());
    let output = tenantgraph()
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env_remove("TENANTGRAPH_AUTH_MODE")
        .env("TENANTGRAPH_DATABASE_URL", &url)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("TENANTGRAPH_AUTH_MODE"), "{stderr}");
    assert!(stderr.contains("--demo"), "{stderr}");
}

#[test]
fn authentication_mode_none_refuses_a_non_loopback_bind() {
    for args in [
        vec!["serve", "--bind", "0.0.0.0:0"],
        vec!["serve", "--demo", "--bind", "0.0.0.0:0"],
    ] {
        let mut cmd = tenantgraph();
        if args.contains(&"--demo") {
            cmd.env_remove("TENANTGRAPH_AUTH_MODE");
        }
        let output = cmd.args(&args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("loopback"), "{stderr}");
    }
}

#[test]
fn unreachable_database_exits_with_one_line_naming_the_masked_url() {
    let output = tenantgraph()
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env(
            "TENANTGRAPH_DATABASE_URL",
            "postgres://app:hunter2@127.0.0.1:1/tg",
        )
        .env("TENANTGRAPH_DB_ACQUIRE_TIMEOUT_SECS", "2")
        .env("TENANTGRAPH_LOG_LEVEL", "off")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("postgres://app:***@127.0.0.1:1/tg"),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"));
}

#[test]
fn invalid_setting_names_it_and_exits_2() {
    let output = tenantgraph()
        .args(["migrate"])
        .env("TENANTGRAPH_DB_MAX_CONNECTIONS", "lots")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("TENANTGRAPH_DB_MAX_CONNECTIONS"),
        "{stderr}"
    );

    let bad_bind = tenantgraph()
        .args(["serve", "--bind", "nowhere"])
        .output()
        .unwrap();
    assert_eq!(
        bad_bind.status.code(),
        Some(2),
        "clap refuses a malformed --bind"
    );
}

#[test]
fn importer_credentials_without_a_secret_key_exit_2_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("k.db").display());
    let with_credentials = |args: &[&str]| {
        let mut cmd = tenantgraph();
        cmd.args(args)
            .env("TENANTGRAPH_DATABASE_URL", &url)
            .env("TENANTGRAPH_CLIENT_ID", "app")
            .env("TENANTGRAPH_CLIENT_SECRET", "client-secret")
            .env("TENANTGRAPH_REFRESH_TOKEN", "refresh-token")
            .env(
                "TENANTGRAPH_PARTNER_TENANT_ID",
                uuid::Uuid::nil().to_string(),
            )
            .env("TENANTGRAPH_LOG_LEVEL", "off");
        cmd
    };
    for args in [vec!["import"], vec!["serve", "--bind", "127.0.0.1:0"]] {
        let output = with_credentials(&args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(stderr.contains("TENANTGRAPH_SECRET_KEY"), "{stderr}");
    }
    assert!(
        !dir.path().join("k.db").exists(),
        "refused before opening the store"
    );
    // A key that is not 32 bytes of base64 is named, never shown.
    let output = with_credentials(&["import"])
        .env("TENANTGRAPH_SECRET_KEY", "c2hvcnQta2V5LXZhbHVl")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("TENANTGRAPH_SECRET_KEY"), "{stderr}");
    assert!(!stderr.contains("c2hvcnQta2V5LXZhbHVl"), "{stderr}");
    // Migrations store no token: no key needed.
    let status = with_credentials(&["migrate"]).status().unwrap();
    assert!(status.success());
}

#[test]
fn migrate_creates_the_schema_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("m.db").display());
    for _ in 0..2 {
        let status = tenantgraph()
            .arg("migrate")
            .env("TENANTGRAPH_DATABASE_URL", &url)
            .env("TENANTGRAPH_LOG_LEVEL", "off")
            .status()
            .unwrap();
        assert!(status.success());
    }
}

#[test]
fn schema_command_prints_the_federation_sdl() {
    let output = tenantgraph().arg("schema").output().unwrap();
    assert!(output.status.success());
    let sdl = String::from_utf8(output.stdout).unwrap();
    assert!(sdl.contains("type Tenant @key(fields: \"id\")"));
}

/// `tenantgraph serve` on a free loopback port over its own SQLite file, logging JSON lines
/// to stderr, which the test reads as they come.
struct Serving {
    child: KillOnDrop,
    lines: std::sync::mpsc::Receiver<String>,
    _dir: tempfile::TempDir,
}

impl Serving {
    /// Starts the server with these extra environment variables.
    fn start(env: &[(&str, &str)]) -> Serving {
        use std::io::{BufRead, BufReader};
        use std::process::Stdio;

        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("s.db").display());
        let mut child = tenantgraph()
            .args(["serve", "--bind", "127.0.0.1:0", "--log-format", "json"])
            .env("TENANTGRAPH_DATABASE_URL", &url)
            .env("TENANTGRAPH_LOG_LEVEL", "info")
            .envs(env.iter().copied())
            .stderr(Stdio::piped())
            .spawn()
            .map(KillOnDrop)
            .unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Serving {
            child,
            lines,
            _dir: dir,
        }
    }

    /// The next log line containing `needle`, waiting up to 30 s for it.
    fn wait_for(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        while let Ok(line) = self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            if line.contains(needle) {
                return line;
            }
        }
        panic!("no log line containing {needle:?}");
    }

    /// The address the server reports serving on, once it does.
    fn addr(&self) -> String {
        let serving: serde_json::Value =
            serde_json::from_str(&self.wait_for("serving GraphQL")).unwrap();
        serving["addr"].as_str().unwrap().to_owned()
    }
}

/// The status code of `GET path` on `addr`, over a plain HTTP/1.1 connection.
fn get_status(addr: &str, path: &str) -> u16 {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"))
}

#[test]
fn sigterm_stops_the_server_gracefully() {
    let mut server = Serving::start(&[]);
    let addr = server.addr();
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");

    let killed = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    server.wait_for("shut down");
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "still running 15 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
}

#[test]
fn graphiql_false_serves_neither_the_page_nor_its_files() {
    let page_files = [
        "/".to_owned(),
        format!(
            "{}/graphiql.min.js",
            tenantgraph::http::graphiql::asset_base()
        ),
    ];
    let on = Serving::start(&[]);
    let addr = on.addr();
    for path in &page_files {
        assert_eq!(get_status(&addr, path), 200, "{path} with GraphiQL on");
    }
    let off = Serving::start(&[("TENANTGRAPH_GRAPHIQL", "false")]);
    let addr = off.addr();
    for path in &page_files {
        assert_eq!(get_status(&addr, path), 404, "{path} with GraphiQL off");
    }
    assert_eq!(get_status(&addr, "/healthz"), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_prints_a_summary_with_what_to_do_and_exits_1_when_a_tenant_failed() {
    use tenantgraph::simulator::{self, Fault, SimulatorConfig, TenantSelector};
    let sim = simulator::start(
        SimulatorConfig {
            tenants: 3,
            users_per_tenant: 30,
            ..SimulatorConfig::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    sim.set_faults(vec![(TenantSelector::Index(1), Fault::ConsentMissing)]);
    let dir = tempfile::tempdir().unwrap();
    let config = sim.config().clone();
    let base = sim.base_url();
    let db = format!("sqlite://{}/import.db?mode=rwc", dir.path().display());
    let run = move |extra: &[&str]| {
        let mut cmd = tenantgraph();
        cmd.arg("import").args(extra);
        import_from_simulator(&mut cmd, &base, &config, &db).env("TENANTGRAPH_LOG_LEVEL", "warn");
        cmd.output().unwrap()
    };
    let output = tokio::task::spawn_blocking({
        let run = run.clone();
        move || run(&[])
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("SUCCEEDED"), "{stdout}");
    assert!(stdout.contains("CONSENT_MISSING"), "{stdout}");
    assert!(stdout.contains("AADSTS65001"), "{stdout}");
    assert!(
        stdout.contains("what to do: The importer app is not consented"),
        "{stdout}"
    );
    assert!(stderr.contains("1 of 3 tenant imports failed"), "{stderr}");
    // Plain progress lines when stderr is not a terminal, naming tenants by name even on the
    // first import; log lines without colour codes.
    assert!(stderr.contains("SUCCEEDED ("), "{stderr}");
    let first = sim.snapshot(sim.tenant_ids()[0]).unwrap().name;
    assert!(
        stderr.contains(&format!("{first}: SUCCEEDED (")),
        "{stderr}"
    );
    assert!(stderr.contains("token request refused"), "{stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "no ANSI escape codes: {stderr:?}"
    );
    assert!(!stdout.contains(&sim.config().client_secret));

    // One healthy tenant alone: exit 0, and the run is a delta run now.
    let healthy = sim.tenant_ids()[0].to_string();
    let output = tokio::task::spawn_blocking({
        let run = run.clone();
        move || run(&["--tenant", &healthy])
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("DELTA"), "{stdout}");

    // `--as-of`: not in the future, and not before a tenant's last import (today, above).
    let today = chrono::Utc::now().date_naive();
    let as_of = |date: chrono::NaiveDate, extra: &'static [&'static str]| {
        let run = run.clone();
        let date = date.to_string();
        tokio::task::spawn_blocking(move || {
            let mut args = vec!["--as-of", date.as_str()];
            args.extend_from_slice(extra);
            run(&args)
        })
    };
    for (date, refusal) in [
        (today + chrono::Duration::days(1), "is after today"),
        (today - chrono::Duration::days(3), "only move forward"),
    ] {
        let output = as_of(date, &[]).await.unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_ne!(output.status.code(), Some(0), "{date}: {stderr}");
        assert!(stderr.contains(refusal), "{date}: {stderr}");
        assert!(stderr.contains(&date.to_string()), "{stderr}");
    }
    let stderr = String::from_utf8_lossy(
        &as_of(today - chrono::Duration::days(3), &[])
            .await
            .unwrap()
            .stderr,
    )
    .into_owned();
    assert!(
        stderr.contains(&format!("last observed {today}")),
        "names the date: {stderr}"
    );
    sim.stop().await;
}

#[test]
fn import_help_lists_the_settings_it_requires() {
    let output = tenantgraph().args(["import", "--help"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    let help = String::from_utf8_lossy(&output.stdout);
    for setting in [
        "TENANTGRAPH_CLIENT_ID",
        "TENANTGRAPH_CLIENT_SECRET",
        "TENANTGRAPH_REFRESH_TOKEN",
        "TENANTGRAPH_SECRET_KEY",
        "TENANTGRAPH_PARTNER_TENANT_ID",
        "TENANTGRAPH_IMPORT_TENANTS",
        "TENANTGRAPH_DATABASE_URL",
    ] {
        assert!(help.contains(setting), "{setting} missing from:\n{help}");
    }
}

#[test]
fn import_without_what_it_needs_fails_before_creating_a_database_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("never.db");
    let url = format!("sqlite://{}?mode=rwc", file.display());
    let without_credentials = tenantgraph()
        .arg("import")
        .env("TENANTGRAPH_DATABASE_URL", &url)
        .output()
        .unwrap();
    let with_credentials_only = tenantgraph()
        .arg("import")
        .env("TENANTGRAPH_DATABASE_URL", &url)
        .env("TENANTGRAPH_CLIENT_ID", "app")
        .env("TENANTGRAPH_CLIENT_SECRET", "client-secret")
        .env("TENANTGRAPH_REFRESH_TOKEN", "refresh-token")
        .env("TENANTGRAPH_SECRET_KEY", SECRET_KEY)
        .output()
        .unwrap();
    for (output, names) in [
        (without_credentials, "TENANTGRAPH_CLIENT_ID"),
        (with_credentials_only, "TENANTGRAPH_PARTNER_TENANT_ID"),
    ] {
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(stderr.contains(names), "{stderr}");
        assert!(stderr.contains("import --help"), "{stderr}");
        assert!(!file.exists(), "no database file was created");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_stored_refresh_token_falls_back_once_to_the_configured_one() {
    use tenantgraph::simulator::{self, SimulatorConfig};
    let config = SimulatorConfig {
        tenants: 2,
        users_per_tenant: 10,
        ..SimulatorConfig::default()
    };
    let sim = simulator::start(config.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let addr = sim.addr();
    let base = sim.base_url();
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/fallback.db?mode=rwc", dir.path().display());
    let run = {
        let config = config.clone();
        move || {
            let mut cmd = tenantgraph();
            cmd.arg("import");
            let output = import_from_simulator(&mut cmd, &base, &config, &db)
                .env("TENANTGRAPH_LOG_LEVEL", "warn")
                .output()
                .unwrap();
            (
                output.status.code(),
                String::from_utf8_lossy(&output.stdout).into_owned(),
                String::from_utf8_lossy(&output.stderr).into_owned(),
            )
        }
    };
    let run = std::sync::Arc::new(run);
    let import = || {
        let run = run.clone();
        tokio::task::spawn_blocking(move || run())
    };
    const FELL_BACK: &str = "the stored rotated refresh token was refused";

    // The first import keeps a rotated token; a second one uses it.
    for _ in 0..2 {
        let (code, stdout, stderr) = import().await.unwrap();
        assert_eq!(code, Some(0), "{stdout}\n{stderr}");
        assert!(!stderr.contains(FELL_BACK), "{stderr}");
    }
    // A restarted simulator has forgotten the tokens it rotated, as Entra forgets a revoked one.
    sim.stop().await;
    let sim = simulator::start(config.clone(), addr).await.unwrap();
    let (code, stdout, stderr) = import().await.unwrap();
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert_eq!(stderr.matches(FELL_BACK).count(), 1, "{stderr}");
    assert!(
        stderr.contains(&config.partner_tenant_id.to_string()),
        "names the tenant: {stderr}"
    );
    assert!(stderr.contains("AADSTS70008"), "names the reason: {stderr}");
    assert!(!stderr.contains("sim-rt-"), "no token in the log: {stderr}");
    assert!(!stderr.contains(&config.refresh_token), "{stderr}");
    // The token that redemption rotated was kept: no fallback the next time.
    let (code, _, stderr) = import().await.unwrap();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains(FELL_BACK), "{stderr}");

    // When the configured token is refused too, the import fails with the typed reason after
    // two redemptions, not more.
    sim.stop().await;
    let sim = simulator::start(
        SimulatorConfig {
            refresh_token: "a-token-tenantgraph-was-never-given".to_owned(),
            ..config.clone()
        },
        addr,
    )
    .await
    .unwrap();
    let (code, stdout, stderr) = import().await.unwrap();
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    assert!(stderr.contains("REFRESH_TOKEN_EXPIRED"), "{stderr}");
    assert_eq!(stderr.matches(FELL_BACK).count(), 1, "{stderr}");
    assert_eq!(sim.stats().total.token_requests, 2, "{stderr}");
    sim.stop().await;
}
