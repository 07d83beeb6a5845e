"""Sets up cost allocation for benches/cost_report.sh, or times setUserAllocation + costReport.

  cost_report_setup.py URL                  groups per department, rules, overrides, prices;
                                            prints the tenant id
  cost_report_setup.py URL --mutations N    N x (setUserAllocation, costReport), checking that
                                            each report shows the change
"""
import json
import os
import statistics
import sys
import time
import urllib.request

url = sys.argv[1]


def gql(query, variables=None):
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    req = urllib.request.Request(url, body, {"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as res:
        out = json.load(res)
    if out.get("errors"):
        raise SystemExit(f"GraphQL errors: {out['errors']}")
    return out["data"]


tenant = gql("{ tenants(first: 1) { edges { node { id } } } }")["tenants"]["edges"][0]["node"]["id"]
REPORT = """query($id: ID!) { tenant(id: $id) { costReport {
  assigned { cost } unallocated { cost } costGroups { costGroup { id } own { users cost } } } } }"""

if "--mutations" in sys.argv:
    n = int(sys.argv[sys.argv.index("--mutations") + 1])
    groups = gql("query($id: ID!) { tenant(id: $id) { costGroups { id } } }", {"id": tenant})
    groups = [g["id"] for g in groups["tenant"]["costGroups"]]
    users = gql("query($id: ID!) { tenant(id: $id) { users(first: 100, filter: {unallocated: false}) "
                "{ edges { node { id allocation { shares { costGroup { id } } } } } } } }", {"id": tenant})
    users = [e["node"] for e in users["tenant"]["users"]["edges"]]
    mutate_ms, report_ms, stale = [], [], 0
    for i in range(n):
        user = users[i % len(users)]
        target = groups[(i * 7) % len(groups)]
        before = gql(REPORT, {"id": tenant})["tenant"]["costReport"]
        own_before = {g["costGroup"]["id"]: g["own"]["users"] for g in before["costGroups"]}
        t0 = time.perf_counter()
        gql("""mutation($t: ID!, $u: ID!, $g: ID!) { setUserAllocation(tenantId: $t, userId: $u,
            shares: [{costGroupId: $g, percent: "100"}]) { id } }""", {"t": tenant, "u": user["id"], "g": target})
        t1 = time.perf_counter()
        after = gql(REPORT, {"id": tenant})["tenant"]["costReport"]
        t2 = time.perf_counter()
        mutate_ms.append((t1 - t0) * 1000)
        report_ms.append((t2 - t1) * 1000)
        own_after = {g["costGroup"]["id"]: g["own"]["users"] for g in after["costGroups"]}
        old = {g["costGroup"]["id"] for g in user["allocation"]["shares"]}
        # The user now counts in `target` only: once more there unless already there, once
        # less in every other group they had a share in.
        expected = dict(own_before)
        if target not in old:
            expected[target] += 1
        for g in old - {target}:
            expected[g] -= 1
        if own_after != expected:
            stale += 1
        user["allocation"]["shares"] = [{"costGroup": {"id": target}}]

    def show(name, xs):
        print(f"{name}: median {statistics.median(xs):.1f} ms (min {min(xs):.1f}, max {max(xs):.1f}, "
              f"stdev {statistics.pstdev(xs):.1f}) over {len(xs)}")
    show("setUserAllocation", mutate_ms)
    show("costReport right after", report_ms)
    print(f"reports not showing the change at once: {stale} of {n}")
    sys.exit(1 if stale else 0)

# Departments of the tenant, from the users.
departments = set()
after = None
while True:
    page = gql("""query($id: ID!, $after: String) { tenant(id: $id) { users(first: 500, after: $after) {
        pageInfo { hasNextPage endCursor } edges { node { department } } } } }""", {"id": tenant, "after": after})
    conn = page["tenant"]["users"]
    departments.update(e["node"]["department"] for e in conn["edges"] if e["node"]["department"])
    if not conn["pageInfo"]["hasNextPage"] or len(departments) > 40:
        break
    after = conn["pageInfo"]["endCursor"]
root = gql("""mutation($t: ID!) { createCostGroup(input: {tenantId: $t, name: "Company"}) { id } }""",
           {"t": tenant})["createCostGroup"]["id"]
groups = []
for d in sorted(departments):
    g = gql("""mutation($t: ID!, $n: String!, $p: ID) { createCostGroup(input: {tenantId: $t, name: $n,
        parentId: $p}) { id } }""", {"t": tenant, "n": d, "p": root})["createCostGroup"]["id"]
    groups.append(g)
    gql("""mutation($t: ID!, $g: ID!, $d: String!) { createAllocationRule(input: {tenantId: $t, costGroupId: $g,
        conditions: [{attribute: DEPARTMENT, operator: EQUALS, values: [$d]}]}) { id } }""",
        {"t": tenant, "g": g, "d": d})
users = gql("query($id: ID!) { tenant(id: $id) { users(first: 200) { edges { node { id } } } } }", {"id": tenant})
for i, e in enumerate(users["tenant"]["users"]["edges"]):
    a, b = groups[i % len(groups)], groups[(i + 1) % len(groups)]
    gql("""mutation($t: ID!, $u: ID!, $a: ID!, $b: ID!) { setUserAllocation(tenantId: $t, userId: $u,
        shares: [{costGroupId: $a, percent: "33.33"}, {costGroupId: $b, percent: "66.67"}]) { id } }""",
        {"t": tenant, "u": e["node"]["id"], "a": a, "b": b})
skus = gql("query($id: ID!) { tenant(id: $id) { subscriptions { skuId } } }", {"id": tenant})
for i, s in enumerate(skus["tenant"]["subscriptions"]):
    gql("""mutation($t: ID!, $s: ID!, $p: Decimal!) { setLicensePrice(input: {tenantId: $t, skuId: $s,
        monthlyUnitPrice: $p, currency: "EUR", effectiveFrom: "2020-01-01"}) { skuId } }""",
        {"t": tenant, "s": s["skuId"], "p": f"{7.35 + i * 3.1:.2f}"})
report = gql(REPORT, {"id": tenant})["tenant"]["costReport"]
print(f"set up: {len(report['costGroups'])} cost groups, {len(departments)} rules, 200 split overrides, "
      f"{len(skus['tenant']['subscriptions'])} prices; assigned {report['assigned']['cost']}, "
      f"unallocated {report['unallocated']['cost']}", file=sys.stderr)
print(tenant)
