-- wrk script: POST the Client Portal's users page query (100 users with manager and licenses).
-- TENANT_ID comes from the environment (see benches/users_page.sh).
local tenant = os.getenv("TENANT_ID")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
-- BEARER (optional) is sent as the bearer token, for servers that authenticate.
local bearer = os.getenv("BEARER")
if bearer and bearer ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. bearer
end
wrk.body = '{"operationName":"UsersPage","variables":{"id":"' .. tenant .. '"},"query":'
  .. '"query UsersPage($id: ID!) { tenant(id: $id) { name users(first: 100) { totalCount '
  .. 'pageInfo { hasNextPage endCursor } edges { node { id displayName userPrincipalName department jobTitle '
  .. 'manager { id displayName } licenses { skuId subscription { skuPartNumber } } } } } } }"}'
