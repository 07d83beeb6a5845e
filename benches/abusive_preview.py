"""The abusive caller of benches/abusive_preview.sh.

  setup URL                        creates a cost group in the first tenant; prints the first
                                   tenant's id, the second's and the group's
  refused URL TENANT GROUP         sends ten aliases sharing 1,000 rules once; must be refused
  abuse URL TENANT GROUP SECONDS   sends the heaviest allowed preview on two connections for
                                   SECONDS; prints how each answer ended
"""
import collections
import json
import sys
import threading
import time
import urllib.request


def post(url, query, variables=None, timeout=60):
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.load(response)


def rules(group, count, conditions):
    matches = ["^nobody-is-in-this$"] if conditions == 1 else [".", "example", "C", "^nobody-is-in-this$"]
    attributes = ["DEPARTMENT", "MAIL", "USAGE_LOCATION", "DEPARTMENT"]
    rule = {"costGroupId": group, "conditions": [
        {"attribute": attributes[i], "operator": "MATCHES", "values": [m]} for i, m in enumerate(matches)]}
    return [rule] * count


def previews(aliases):
    fields = " ".join(
        f"p{i}: previewAllocation(tenantId: $t, rules: $rules) {{ changedUsers }}" for i in range(aliases))
    return f"query($t: ID!, $rules: [AllocationRuleInput!]!) {{ {fields} }}"


def main():
    mode, url = sys.argv[1], sys.argv[2]
    if mode == "setup":
        edges = post(url, "{ tenants(first: 2) { edges { node { id } } } }")["data"]["tenants"]["edges"]
        abused, victim = edges[0]["node"]["id"], edges[1]["node"]["id"]
        group = post(url, 'mutation($t: ID!) { createCostGroup(input: {tenantId: $t, name: "Everyone"}) { id } }',
                     {"t": abused})["data"]["createCostGroup"]["id"]
        print(abused, victim, group)
        return
    tenant, group = sys.argv[3], sys.argv[4]
    if mode == "refused":
        started = time.monotonic()
        answer = post(url, previews(10), {"t": tenant, "rules": rules(group, 1000, 1)})
        error = answer["errors"][0]
        assert error["extensions"]["code"] == "OPERATION_LIMIT_EXCEEDED", answer
        print(f"ten aliases of 1,000 rules: {error['extensions']['code']} in "
              f"{(time.monotonic() - started) * 1000:.1f} ms: {error['message']}")
        return
    until = time.monotonic() + float(sys.argv[5])
    outcomes = collections.Counter()
    durations = []
    lock = threading.Lock()

    def loop():
        while time.monotonic() < until:
            started = time.monotonic()
            answer = post(url, previews(1), {"t": tenant, "rules": rules(group, 500, 4)})
            code = answer["errors"][0]["extensions"]["code"] if answer.get("errors") else "ok"
            with lock:
                outcomes[code] += 1
                durations.append(time.monotonic() - started)

    threads = [threading.Thread(target=loop) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    durations.sort()
    print(f"previews of 500 rules x 4 conditions: {dict(outcomes)}; "
          f"median {durations[len(durations) // 2]:.2f} s, longest {durations[-1]:.2f} s")


if __name__ == "__main__":
    main()
