// Billing subgraph for the federation test: extends Tenant with `billing`, derived from the tenant id.
// Usage: node billing-subgraph.mjs [port]   (or BILLING_PORT; 0 or unset = any free port)
import { readFileSync } from 'node:fs';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse } from 'graphql';

const typeDefs = parse(readFileSync(new URL('./billing.graphql', import.meta.url), 'utf8'));
const PAYMENT_TERMS = ['NET15', 'NET30', 'NET45', 'NET60'];

// Deterministic, so the test can predict accountManager from the id alone.
function billingFor(id) {
  let sum = 0;
  for (const ch of id) sum = (sum * 31 + ch.charCodeAt(0)) % 1_000_003;
  return {
    accountManager: `AM-${id.slice(0, 8)}`,
    paymentTerms: PAYMENT_TERMS[sum % PAYMENT_TERMS.length],
    creditLimitCents: (1 + (sum % 100)) * 100_000,
  };
}

const resolvers = {
  Tenant: {
    __resolveReference: ({ id }) => ({ id }),
    billing: ({ id }) => billingFor(id),
  },
};

const port = Number(process.argv[2] ?? process.env.BILLING_PORT ?? 0);
const server = new ApolloServer({ schema: buildSubgraphSchema([{ typeDefs, resolvers }]) });
const { url } = await startStandaloneServer(server, { listen: { host: '127.0.0.1', port } });
console.log(`billing subgraph ready at ${url}`);
