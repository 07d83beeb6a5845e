-- wrk script: POST the cost report of TENANT_ID (every group's own and subtree lines, per SKU).
local tenant = os.getenv("TENANT_ID")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"variables":{"id":"' .. tenant .. '"},"query":'
  .. '"query($id: ID!) { tenant(id: $id) { costReport { asOf currency evaluatedAt '
  .. 'costGroups { costGroup { id name } own { users licenses cost skus { skuId licenses unitPrice cost } } '
  .. 'withDescendants { users cost } } unallocated { users licenses cost } '
  .. 'unassigned { licenses cost } assigned { users licenses cost } } } }"}'
