#!/usr/bin/env bash
# From `git clone` to a query answered in the browser, as a new user on a fresh machine: clone
# the repository, `cargo build --release --timings` with an empty target directory (the clone's
# own; CARGO_TARGET_DIR is unset), start `target/release/tenantgraph serve --demo` and run
# GraphiQL's default query in headless Chromium until the answer shows
# (benches/clone_to_browser.py). Prints the total wall time, the build's wall and CPU time, the
# build's parts from cargo's --timings report (dependencies; tenantgraph's library; its binary,
# which is where the release profile's fat LTO link happens), start-up to ready, and page load
# to answer.
#
# Not in the clock: Chromium and Playwright (the user's browser) are installed first, by
# tests/browser/run.sh --install-only. Cargo's registry in ~/.cargo is used as it is: on a
# machine that never fetched the crates, their download comes on top (say so with the figures).
# A clone from a local path copies no bytes over a network either.
#
# Usage: bash benches/clone_to_browser.sh [repository, default this one] [clone dir, default
#        /tmp/clone-to-browser]; the report and logs go to <clone dir>.out/.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
source=${1:-$here}
dest=${2:-/tmp/clone-to-browser}
out=$dest.out
if [[ -e $dest ]]; then
  echo "$dest exists: remove it first (the build must start from an empty target directory)" >&2
  exit 1
fi
mkdir -p "$out"
bash "$here/tests/browser/run.sh" --install-only >/dev/null
python=$here/target/browser-venv/bin/python
now() { date +%s.%N; }

started=$(now)
git clone -q "$source" "$dest"
cloned=$(now)
cd "$dest"
env -u CARGO_TARGET_DIR /usr/bin/time -v -o "$out/build-time.txt" \
  nice -n 5 cargo build --release --timings >"$out/build.log" 2>&1 \
  || { tail -30 "$out/build.log" >&2; exit 1; }
built=$(now)
"$python" "$here/benches/clone_to_browser.py" target/release/tenantgraph >"$out/browser.json"
answered=$(now)
cp target/cargo-timings/cargo-timing.html "$out/"

python3 - "$out" "$started" "$cloned" "$built" "$answered" "$(git rev-parse --short HEAD)" \
  "$(du -sk .git | cut -f1)" "$(stat -c %s target/release/tenantgraph)" <<'PY' | tee "$out/report.txt"
import json, re, sys
out, started, cloned, built, answered, commit, git_kib, binary = sys.argv[1:]
started, cloned, built, answered = map(float, (started, cloned, built, answered))

time_v = open(f"{out}/build-time.txt").read()
def field(label):
    return re.search(re.escape(label) + r": (.+)", time_v).group(1).strip()
user, system = float(field("User time (seconds)")), float(field("System time (seconds)"))
peak_mib = int(field("Maximum resident set size (kbytes)")) / 1024

# cargo's report embeds its units as `const UNIT_DATA = [...]`: name, target, start and
# duration in seconds from the build's start.
html = open(f"{out}/cargo-timing.html").read()
units = json.loads(re.search(r"const UNIT_DATA = (\[.*?\]);\n", html, re.S).group(1))
ours = {"tenantgraph", "migrations"}
deps = [u for u in units if u["name"] not in ours]
# The library's target is written as "", a binary's as ' NAME "bin"'.
lib = [u for u in units if u["name"] == "tenantgraph" and not u["target"].strip()]
bins = [u for u in units if u["name"] == "tenantgraph" and "bin" in u["target"]]
migr = [u for u in units if u["name"] == "migrations"]
deps_end = max(u["start"] + u["duration"] for u in deps)
last = max(u["start"] + u["duration"] for u in units)
browser = json.load(open(f"{out}/browser.json"))

print(f"commit {commit}; .git {int(git_kib) / 1024:.1f} MiB; release binary {int(binary) / 1e6:.1f} MB")
print(f"total, git clone to the answer in GraphiQL: {answered - started:.0f} s wall")
print(f"  git clone (local path): {cloned - started:.1f} s")
print(f"  cargo build --release --timings: {built - cloned:.0f} s wall, "
      f"{user + system:.0f} s CPU (user {user:.0f} + system {system:.0f}), "
      f"peak RSS of one process {peak_mib:.0f} MiB; {len(units)} units")
print(f"    dependencies ({len(deps)} units): done at {deps_end:.0f} s, "
      f"{sum(u['duration'] for u in deps):.0f} s summed over units")
for u in sorted(deps, key=lambda u: -u["duration"])[:5]:
    print(f"      {u['name']} {u['version']}{u['target']}: {u['duration']:.1f} s")
for name, group in (("migrations", migr), ("tenantgraph lib", lib), ("tenantgraph bin (fat LTO link)", bins)):
    for u in group:
        print(f"    {name}: {u['start']:.0f} s to {u['start'] + u['duration']:.0f} s = {u['duration']:.0f} s")
print(f"    cargo's last unit ended at {last:.0f} s")
print(f"  serve --demo, exec to /readyz 200: {browser['exec_to_ready'] * 1000:.0f} ms")
print(f"  browser: Chromium launch {browser['browser_start']:.2f} s; page load "
      f"{browser['page_load']:.2f} s + editor shown {browser['load_to_editor']:.2f} s + run "
      f"to answer {browser['editor_to_answer']:.2f} s = {browser['page_to_answer']:.2f} s "
      f"({browser['tenants_shown']} tenants shown)")
PY
