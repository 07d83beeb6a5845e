//! The binary: exit codes and one-line errors.

use std::process::Command;

fn tenantgraph() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tenantgraph"));
    cmd.env_remove("TENANTGRAPH_DATABASE_URL");
    cmd
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

#[test]
fn sigterm_stops_the_server_gracefully() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("s.db").display());
    let mut child = tenantgraph()
        .args(["serve", "--bind", "127.0.0.1:0", "--log-format", "json"])
        .env("TENANTGRAPH_DATABASE_URL", &url)
        .env("TENANTGRAPH_LOG_LEVEL", "info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let wait_for = |needle: &str| -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        while let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            if line.contains(needle) {
                return line;
            }
        }
        panic!("no log line containing {needle:?}");
    };
    let serving: serde_json::Value = serde_json::from_str(&wait_for("serving GraphQL")).unwrap();
    assert!(
        serving["addr"].as_str().unwrap().starts_with("127.0.0.1:"),
        "{serving}"
    );

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    wait_for("shut down");
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
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
