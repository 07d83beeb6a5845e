// Starts GraphiQL on tenantgraph's page at /: queries and mutations go to POST /graphql,
// subscriptions over a WebSocket to /graphql (graphql-transport-ws). The headers set in
// GraphiQL's header editor (such as {"Authorization": "Bearer …"}) go with both: as HTTP
// headers, and as the connection_init payload of the WebSocket.
"use strict";
(function () {
  // GraphiQL's dialogs (react-remove-scroll) add a <style> element carrying this global's
  // nonce; the page's Content-Security-Policy allows no other inline style.
  window.__webpack_nonce__ = document.querySelector('meta[name="style-nonce"]').content;

  const http = new URL("/graphql", window.location.href);
  const ws = new URL(http);
  ws.protocol = http.protocol === "https:" ? "wss:" : "ws:";

  const fetcher = GraphiQL.createFetcher({ url: http.href, subscriptionUrl: ws.href });
  const explorer = GraphiQLPluginExplorer.explorerPlugin();
  const defaultQuery = `# tenantgraph's GraphQL API. Run with Ctrl-Enter; the Explorer on the left builds
# queries by ticking fields, and the Docs list every type.

query Tenants {
  tenants(first: 10) {
    totalCount
    edges {
      node {
        id
        name
        defaultDomain
      }
    }
  }
}
`;
  ReactDOM.createRoot(document.getElementById("graphiql")).render(
    React.createElement(GraphiQL, {
      fetcher,
      plugins: [explorer],
      defaultQuery,
      defaultEditorToolsVisibility: true,
    }),
  );
})();
