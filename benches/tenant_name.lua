-- wrk script: POST `tenant(id) { name }` for TENANT_ID (see benches/abusive_preview.sh).
local tenant = os.getenv("TENANT_ID")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"query":"query($id: ID!) { tenant(id: $id) { name } }","variables":{"id":"' .. tenant .. '"}}'
