"""The last leg of benches/clone_to_browser.sh: a built `tenantgraph serve --demo` started, and
a query run in GraphiQL in headless Chromium as a new user would (load `/`, press the run
button on the page's default query, wait until the answer shows in the result pane), every
request to another host blocked. Prints one JSON object of seconds:

    exec_to_ready      exec of `serve --demo` (fresh SQLite file: migrations, the demo's
                       simulator and import) until /readyz answers 200
    browser_start      Chromium launched (the user's browser opening; not counted below)
    page_load          navigation to `/` until the page's load event
    load_to_editor     then until GraphiQL's editor shows
    editor_to_answer   then, after pressing run, until the answer is in the result pane
    page_to_answer     navigation until the answer: page_load + load_to_editor + editor_to_answer

Usage: target/browser-venv/bin/python benches/clone_to_browser.py BIN
Env: CHROMIUM (default /usr/bin/chromium).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests/browser"))
from graphiql_test import CHROMIUM, DEMO_TENANTS, RESULT_TEXT, TIMEOUT_MS  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as answer:
            return answer.status == 200
    except OSError:
        return False


def main(binary: str) -> int:
    figures: dict[str, float] = {}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="clone-to-browser.") as work:
        env = {key: value for key, value in os.environ.items() if not key.startswith("TENANTGRAPH_")}
        env.update(
            TENANTGRAPH_DATABASE_URL=f"sqlite://{work}/demo.db?mode=rwc",
            TENANTGRAPH_METRICS_BIND="off",
            TENANTGRAPH_LOG_LEVEL="warn",
        )
        log = open(Path(work) / "server.log", "wb")
        started = time.monotonic()
        server = subprocess.Popen(
            [binary, "serve", "--demo", "--bind", f"127.0.0.1:{port}"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            # Polled every 5 ms: the figure is at most that late.
            while not ready(f"{base}/readyz"):
                if server.poll() is not None:
                    sys.exit(f"the server exited ({server.returncode}):\n"
                             + (Path(work) / "server.log").read_text(errors="replace"))
                if time.monotonic() - started > 120:
                    sys.exit("the server was not ready within 120 s")
                time.sleep(0.005)
            figures["exec_to_ready"] = time.monotonic() - started
            answer = run_in_browser(base, figures)
        finally:
            server.terminate()
            server.wait(timeout=15)
    tenants = answer["data"]["tenants"]
    assert tenants["totalCount"] == DEMO_TENANTS, answer
    figures = {key: round(value, 3) for key, value in figures.items()}
    figures["tenants_shown"] = len(tenants["edges"])
    print(json.dumps(figures))
    return 0


def run_in_browser(base: str, figures: dict[str, float]) -> dict:
    """Loads GraphiQL at `base`, runs the default query and returns the answer it shows."""
    with sync_playwright() as playwright:
        started = time.monotonic()
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"],
        )
        page = browser.new_page()
        page.route(
            "**/*",
            lambda route: route.continue_()
            if route.request.url.startswith(base)
            else route.abort(),
        )
        figures["browser_start"] = time.monotonic() - started

        started = time.monotonic()
        page.goto(base + "/", wait_until="load")
        loaded = time.monotonic()
        page.wait_for_selector(".graphiql-query-editor .CodeMirror", timeout=TIMEOUT_MS)
        page.wait_for_selector("button.graphiql-execute-button", timeout=TIMEOUT_MS)
        editor = time.monotonic()
        page.click("button.graphiql-execute-button")
        # A function, not an expression: the page's CSP (no 'unsafe-eval') refuses an
        # expression string that the predicate would eval.
        page.wait_for_function(
            f"expect => ({RESULT_TEXT}).includes(expect)", arg="totalCount", timeout=TIMEOUT_MS
        )
        answer = json.loads(page.evaluate(RESULT_TEXT))
        # On screen, not only in the result editor's text.
        first = answer["data"]["tenants"]["edges"][0]["node"]["name"]
        page.locator(".result-window").get_by_text(first).wait_for(timeout=TIMEOUT_MS)
        done = time.monotonic()
        figures["page_load"] = loaded - started
        figures["load_to_editor"] = editor - loaded
        figures["editor_to_answer"] = done - editor
        figures["page_to_answer"] = done - started
        browser.close()
    return answer


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
