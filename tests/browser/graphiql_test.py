"""GraphiQL at / in a real browser, offline.

Starts `tenantgraph serve --demo` on a free loopback port and drives Debian's headless Chromium
through Playwright: every request to another host is aborted (and the browser resolves no other
host name), the page is loaded from the server alone, a query, a mutation starting an import and
a subscription to that import's progress are run from GraphiQL's editor, and their results are
read from the result pane. The explorer, history and settings dialog are opened too. Then the
same against a server that authenticates (hs256), with the bearer token typed into GraphiQL's
Headers pane, which goes with HTTP requests and with the WebSocket's connection_init. Fails on a
console error (a Content-Security-Policy violation is one), an uncaught exception, a failed or
blocked request, or a result that is not what the demo data holds.

Usage (after `cargo build` or `cargo test`):
    target/browser-venv/bin/python tests/browser/graphiql_test.py

Env: TENANTGRAPH_BIN (default target/debug/tenantgraph), CHROMIUM (default /usr/bin/chromium).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import Page, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("TENANTGRAPH_BIN", ROOT / "target/debug/tenantgraph"))
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# The tenants `serve --demo` imports from its simulator.
DEMO_TENANTS = 5
TIMEOUT_MS = 30_000
# What GraphiQL's result pane holds (a CodeMirror editor).
RESULT_TEXT = "document.querySelector('.result-window .CodeMirror').CodeMirror.getValue()"

# Named apart from the page's default query (`Tenants`), so that the tab's title shows when
# GraphiQL has taken each one in.
TENANTS_QUERY = """query DemoTenants {
  tenants(first: 10) { totalCount edges { node { id name } } }
}"""
TRIGGER_IMPORT = """mutation Trigger($tenant: ID!) {
  triggerImport(tenantId: $tenant) { id status }
}"""
IMPORT_PROGRESS = """subscription Progress($run: ID!) {
  importProgress(runId: $run) { runId phase status users }
}"""


def start_server(work: Path, settings: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    """Starts the demo server on port 0 with these `TENANTGRAPH_*` settings; returns it and
    its `http://127.0.0.1:PORT` base. Its log is `server.log` in `work`."""
    if not os.access(BIN, os.X_OK):
        sys.exit(f"error: {BIN} not built (run cargo build or cargo test first)")
    log = work / "server.log"
    env = {key: value for key, value in os.environ.items() if not key.startswith("TENANTGRAPH_")}
    env.update(
        TENANTGRAPH_DATABASE_URL=f"sqlite://{work / 'demo.db'}?mode=rwc",
        TENANTGRAPH_LOG_LEVEL="info",
        **settings,
    )
    with log.open("wb") as out:
        server = subprocess.Popen(
            [str(BIN), "--log-format", "json", "serve", "--demo", "--bind", "127.0.0.1:0"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = re.search(r'"addr":"(127\.0\.0\.1:\d+)"', log.read_text(errors="replace"))
        if found:
            return server, f"http://{found.group(1)}"
        if server.poll() is not None:
            sys.exit(f"error: the server exited ({server.returncode}):\n{log.read_text()}")
        time.sleep(0.2)
    server.kill()
    sys.exit(f"error: the server did not start within 120 s:\n{log.read_text()}")


def set_editor(page: Page, selector: str, text: str) -> None:
    """Replaces the text of the CodeMirror editor in `selector`."""
    editor = page.locator(f"{selector} .CodeMirror")
    editor.evaluate("(editor, text) => editor.CodeMirror.setValue(text)", text)


def set_tool(page: Page, tool: str, text: str) -> None:
    """Opens the editor tool `tool` (Variables or Headers) below the query and sets its text."""
    page.locator(".graphiql-editor-tools button", has_text=tool).click()
    set_editor(page, ".graphiql-editor-tool .graphiql-editor:not(.hidden)", text)


def run_in_editor(page: Page, operation: str, variables: dict[str, str], expect: str) -> dict:
    """Puts the named `operation` and its `variables` into GraphiQL's editors, runs it with the
    run button and returns the JSON the result pane shows once it holds `expect`."""
    set_tool(page, "Variables", json.dumps(variables))
    set_editor(page, ".graphiql-query-editor", operation)
    # GraphiQL takes in an edit after a pause; the tab's title shows the operation once it has.
    name = re.match(r"\w+ (\w+)", operation).group(1)
    tab = page.locator(".graphiql-tab-active .graphiql-tab-button")
    tab.filter(has_text=re.compile(f"^{name}$")).wait_for(timeout=TIMEOUT_MS)
    page.click("button.graphiql-execute-button")
    try:
        page.wait_for_function(
            f"expect => ({RESULT_TEXT}).includes(expect)", arg=expect, timeout=TIMEOUT_MS
        )
    except PlaywrightTimeout:
        shown = page.evaluate(RESULT_TEXT)
        raise AssertionError(f"no {expect} in the result pane, which shows: {shown}") from None
    return json.loads(page.evaluate(RESULT_TEXT))


def open_plugin(page: Page, title: str, shows: str, exact: bool = True) -> None:
    """Opens the sidebar plugin titled `title` and waits for it to show the text `shows`."""
    page.click(f'.graphiql-sidebar button[aria-label="Show {title}"]')
    plugin = page.locator(".graphiql-plugin")
    plugin.get_by_text(shows, exact=exact).first.wait_for(timeout=TIMEOUT_MS)


def check(base: str, headers: dict[str, str], problems: list[str]) -> None:
    """Drives GraphiQL on `base` with `headers` in its Headers pane, adding what went wrong to
    `problems`; raises on a failed assertion or a timeout."""
    origin = urlsplit(base)
    sockets: list[dict] = []

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                # A second wall besides the routes below: no other host name resolves.
                f"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE {origin.hostname}",
                "--disable-background-networking",
                "--disable-component-update",
            ],
        )
        context = browser.new_context()

        def route(route):
            url = urlsplit(route.request.url)
            if (url.scheme, url.netloc) == (origin.scheme, origin.netloc):
                route.continue_()
            else:
                problems.append(f"blocked request to another host: {route.request.url}")
                route.abort()

        context.route("**/*", route)
        page = context.new_page()
        page.on(
            "console",
            lambda msg: msg.type == "error"
            and problems.append(f"console error: {msg.text} ({msg.location})"),
        )
        page.on("pageerror", lambda err: problems.append(f"uncaught exception: {err}"))
        page.on(
            "requestfailed",
            lambda req: problems.append(f"request failed: {req.url} ({req.failure})"),
        )
        page.on(
            "response",
            lambda res: res.status >= 400
            and problems.append(f"{res.status} for {res.request.method} {res.url}"),
        )

        def websocket(ws):
            record = {"url": ws.url, "received": []}
            sockets.append(record)
            ws.on("framereceived", lambda payload: record["received"].append(payload))

        page.on("websocket", websocket)

        page.goto(base + "/", wait_until="load")
        page.wait_for_selector(".graphiql-query-editor .CodeMirror", timeout=TIMEOUT_MS)
        if headers:
            # Without the token, GraphiQL's schema request is refused, which its result pane
            # says; with the token in the Headers pane, the schema is fetched again.
            page.wait_for_function(
                f"({RESULT_TEXT}).includes('missing bearer token')", timeout=TIMEOUT_MS
            )
            refused = [p for p in problems if " 401 " in f" {p} " or "status of 401" in p]
            assert refused and refused == problems, f"more than the refused schema: {problems}"
            problems.clear()
            set_tool(page, "Headers", json.dumps(headers))
            page.click('button[aria-label="Re-fetch GraphQL schema"]')
        # The schema arrived (introspection): the doc explorer can list the root types.
        open_plugin(page, "Documentation Explorer", "Root Types", exact=False)

        result = run_in_editor(page, TENANTS_QUERY, {}, "totalCount")
        tenants = result["data"]["tenants"]
        assert tenants["totalCount"] == DEMO_TENANTS, result
        names = [edge["node"]["name"] for edge in tenants["edges"]]
        assert len(names) == DEMO_TENANTS and all(names), result
        # What the result pane shows on screen, not only what its editor holds.
        page.locator(".result-window").get_by_text(names[0]).wait_for(timeout=TIMEOUT_MS)
        tenant = tenants["edges"][0]["node"]["id"]
        print(f"query: {DEMO_TENANTS} tenants ({', '.join(names)})")

        result = run_in_editor(page, TRIGGER_IMPORT, {"tenant": tenant}, '"triggerImport"')
        run = result["data"]["triggerImport"]["id"]
        print(f"mutation: import run {run} started for tenant {tenant}")

        result = run_in_editor(page, IMPORT_PROGRESS, {"run": run}, '"FINISHED"')
        progress = result["data"]["importProgress"]
        assert progress["runId"] == run, result
        assert progress["status"] == "SUCCEEDED", result
        endpoint = f"ws://{origin.netloc}/graphql"
        streamed = [
            frame
            for socket in sockets
            if socket["url"] == endpoint
            for frame in socket["received"]
            if '"type":"next"' in frame and run in frame
        ]
        assert streamed, f"no progress of run {run} arrived over {endpoint}: {sockets}"
        print(f"subscription: {len(streamed)} reports over {endpoint}, the last {progress}")

        open_plugin(page, "GraphiQL Explorer", "importProgress")
        open_plugin(page, "History", "Progress")
        history = page.locator(".graphiql-plugin .graphiql-history-item").all_inner_texts()
        assert history == ["Progress", "Trigger", "DemoTenants"], f"history holds {history}"
        print(f"the explorer shows the subscription; the history holds {history}")

        # The settings dialog adds a <style> element (react-remove-scroll), which only the
        # page's nonce lets through.
        page.click('button[aria-label="Open settings dialog"]')
        page.wait_for_selector('[role="dialog"]', timeout=TIMEOUT_MS)
        styled = page.evaluate(
            "Array.from(document.querySelectorAll('style')).filter(s => s.nonce).length"
        )
        assert styled > 0, "the dialog added no <style> element with the page's nonce"
        page.keyboard.press("Escape")
        page.wait_for_selector('[role="dialog"]', state="detached", timeout=TIMEOUT_MS)
        print("settings dialog opened and closed")

        context.close()
        browser.close()


def hs256_token(secret: str) -> str:
    """A partner_admin bearer token signed with `secret`."""
    claims = json.dumps({"oid": "graphiql-test", "roles": ["partner_admin"]})
    return subprocess.check_output(
        [sys.executable, str(ROOT / "benches/hs256_token.py"), secret, claims], text=True
    ).strip()


def scenario(name: str, settings: dict[str, str], headers: dict[str, str]) -> list[str]:
    """Runs the checks against a server started with `settings`; returns what went wrong."""
    print(f"== {name}")
    with tempfile.TemporaryDirectory(prefix="tenantgraph-browser.") as tmp:
        work = Path(tmp)
        server, base = start_server(work, settings)
        problems: list[str] = []
        try:
            print(f"tenantgraph serving {base}; Chromium at {CHROMIUM}")
            try:
                check(base, headers, problems)
            except Exception as err:  # an assertion or a timeout: report it with the rest
                problems.append(f"{type(err).__name__}: {err}")
            if server.poll() is not None:
                problems.append(f"the server exited ({server.returncode})")
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
        log = (work / "server.log").read_text(errors="replace")
        errors = [line for line in log.splitlines() if '"level":"ERROR"' in line]
        problems += [f"server logged: {line}" for line in errors]
        if problems:
            print("\n".join(log.splitlines()[-40:]), file=sys.stderr)
        return [f"{name}: {problem}" for problem in problems]


def main() -> int:
    secret = secrets.token_hex(32)
    scenarios = [
        ("serve --demo, no authentication", {}, {}),
        (
            "serve --demo, hs256 token in the Headers pane",
            {"TENANTGRAPH_AUTH_MODE": "hs256", "TENANTGRAPH_AUTH_HS256_SECRET": secret},
            {"Authorization": f"Bearer {hs256_token(secret)}"},
        ),
    ]
    failed = 0
    for name, settings, headers in scenarios:
        problems = scenario(name, settings, headers)
        for problem in problems:
            print(f"FAIL: {problem}", file=sys.stderr)
        failed += bool(problems)
    print(f"graphiql: {len(scenarios) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
