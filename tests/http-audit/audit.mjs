// Runs the GraphQL-over-HTTP spec's audit suite (graphql-http's serverAudits) against a running
// tenantgraph and prints every audit's result. Exits 1 when a MUST audit fails; SHOULD and MAY
// audits that fail are reported as warnings (docs/api.md explains each one).
// Usage: node audit.mjs http://127.0.0.1:PORT/graphql
import { serverAudits } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node audit.mjs <graphql endpoint URL>');
  process.exit(2);
}

const results = [];
for (const audit of serverAudits({ url })) {
  const result = await audit.fn();
  let detail = '';
  if (result.status !== 'ok') {
    const body = await result.response.text().catch(() => '');
    detail = ` -- ${result.reason} (HTTP ${result.response.status}: ${body.slice(0, 200)})`;
  }
  console.log(`${result.status.toUpperCase().padEnd(6)} ${result.id} ${result.name}${detail}`);
  results.push(result);
}

const count = (status) => results.filter((r) => r.status === status).length;
const mustFailures = results.filter((r) => r.status === 'error' || (r.status !== 'ok' && r.name.startsWith('MUST')));
console.log(
  `\n${results.length} audits: ${count('ok')} ok, ${count('warn')} warnings, ${count('notice')} notices, ` +
    `${count('error')} errors`,
);
console.log(`${results.length - mustFailures.length} passed, ${mustFailures.length} failed`);
if (mustFailures.length > 0) {
  console.error(`FAIL: ${mustFailures.length} MUST audit(s) failed`);
  process.exit(1);
}
