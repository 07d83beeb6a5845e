// Sends the federated tenants+billing query through the gateway and checks the joined answer.
// Usage: node check.mjs <gateway url>   (exit 1 with a reason on any mismatch)
const gatewayUrl = process.argv[2];
const query = '{ tenants(first: 3) { edges { node { id name billing { accountManager paymentTerms } } } } }';

function fail(msg, body) {
  console.error(`check failed: ${msg}`);
  if (body !== undefined) console.error(JSON.stringify(body, null, 2));
  process.exit(1);
}

const res = await fetch(gatewayUrl, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ query }),
});
const text = await res.text();
let body;
try { body = JSON.parse(text); } catch { fail(`HTTP ${res.status}, not JSON: ${text.slice(0, 500)}`); }
if (!res.ok) fail(`HTTP ${res.status}`, body);
if (body.errors) fail('response has errors', body);

const edges = body.data?.tenants?.edges;
if (!Array.isArray(edges) || edges.length !== 3) fail(`expected 3 tenants, got ${edges?.length}`, body);
for (const { node } of edges) {
  if (typeof node.id !== 'string' || node.id.length < 8) fail(`bad id ${JSON.stringify(node.id)}`, body);
  if (typeof node.name !== 'string' || node.name === '') fail(`tenant ${node.id}: empty name`, body);
  const want = `AM-${node.id.slice(0, 8)}`;
  if (node.billing?.accountManager !== want) {
    fail(`tenant ${node.id}: accountManager ${node.billing?.accountManager}, want ${want}`, body);
  }
  if (!node.billing.paymentTerms) fail(`tenant ${node.id}: empty paymentTerms`, body);
}
for (const { node } of edges) {
  console.log(`  ${node.id}  ${node.name}  ${node.billing.accountManager} ${node.billing.paymentTerms}`);
}
