// Apollo gateway over a static supergraph, routing to the tenantgraph and billing subgraphs.
// Usage: TENANTGRAPH_URL=... BILLING_URL=... node gateway.mjs <supergraph.graphql> [port]
import { readFileSync } from 'node:fs';
import { ApolloGateway, RemoteGraphQLDataSource } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';

const [supergraphFile, portArg] = process.argv.slice(2);
const urls = { tenantgraph: process.env.TENANTGRAPH_URL, billing: process.env.BILLING_URL };
if (!supergraphFile || !urls.tenantgraph || !urls.billing) {
  console.error('usage: TENANTGRAPH_URL=... BILLING_URL=... node gateway.mjs <supergraph.graphql> [port]');
  process.exit(2);
}

const gateway = new ApolloGateway({
  supergraphSdl: readFileSync(supergraphFile, 'utf8'),
  buildService: ({ name }) => {
    if (!urls[name]) throw new Error(`no URL for subgraph ${name}`);
    return new RemoteGraphQLDataSource({ url: urls[name] });
  },
});

const port = Number(portArg ?? process.env.GATEWAY_PORT ?? 0);
const server = new ApolloServer({ gateway });
const { url } = await startStandaloneServer(server, { listen: { host: '127.0.0.1', port } });
console.log(`gateway ready at ${url}`);
