// Composes tenantgraph's subgraph SDL with the billing SDL into a supergraph, offline.
// Usage: node compose.mjs <tenantgraph schema.graphql> <supergraph out file> [billing.graphql]
import { readFileSync, writeFileSync } from 'node:fs';
import { composeServices } from '@apollo/composition';
import { parse } from 'graphql';

const [tenantgraphSdl, outFile, billingSdl = new URL('./billing.graphql', import.meta.url)] =
  process.argv.slice(2);
if (!tenantgraphSdl || !outFile) {
  console.error('usage: node compose.mjs <tenantgraph schema.graphql> <supergraph out> [billing.graphql]');
  process.exit(2);
}

// The URLs are placeholders: gateway.mjs routes by subgraph name to TENANTGRAPH_URL / BILLING_URL.
const subgraph = (name, file) => ({
  name,
  url: `http://${name}.invalid/graphql`,
  typeDefs: parse(readFileSync(file, 'utf8')),
});

let result;
try {
  result = composeServices([subgraph('tenantgraph', tenantgraphSdl), subgraph('billing', billingSdl)]);
} catch (err) {
  console.error(`composition failed: ${err.message}`);
  process.exit(1);
}
if (result.errors) {
  for (const err of result.errors) console.error(`composition error: ${err.message}`);
  process.exit(1);
}
for (const hint of result.hints ?? []) console.error(`composition hint: ${hint.toString()}`);
writeFileSync(outFile, result.supergraphSdl);
console.log(`supergraph written to ${outFile}`);
