#!/usr/bin/env bash
# Re-vendors the browser bundles of GraphiQL at / from the npm registry: installs the versions
# pinned in package-lock.json into a temporary folder (`npm ci`, no install scripts) and copies
# the prebuilt UMD bundles, their styles and every package's license into dist/.
#
#   bash assets/graphiql/update.sh           rewrite dist/
#   bash assets/graphiql/update.sh --check   fail if dist/ differs from what npm gives
#
# To move to other versions: edit package.json, run `npm install --package-lock-only
# --ignore-scripts` in this folder, then this script; commit package.json, package-lock.json
# and dist/ together.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cp "$here/package.json" "$here/package-lock.json" "$work/"
(cd "$work" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
modules=$work/node_modules

out=$work/dist
mkdir "$out"
cp "$modules/react/umd/react.production.min.js" "$out/react.production.min.js"
cp "$modules/react-dom/umd/react-dom.production.min.js" "$out/react-dom.production.min.js"
cp "$modules/graphiql/graphiql.min.js" "$out/graphiql.min.js"
cp "$modules/graphiql/graphiql.min.css" "$out/graphiql.min.css"
cp "$modules/@graphiql/plugin-explorer/dist/index.umd.js" "$out/plugin-explorer.umd.js"
cp "$modules/@graphiql/plugin-explorer/dist/style.css" "$out/plugin-explorer.css"
# The bundles end with a sourceMappingURL to maps that are not vendored; without the comment,
# browsers with developer tools open would ask for them and get 404.
sed -i -e '/^\/\/# sourceMappingURL=/d' "$out"/*.js
node "$here/licenses.mjs" "$modules" >"$out/THIRD-PARTY-LICENSES.txt"

if [ "${1:-}" = --check ]; then
  diff -r "$here/dist" "$out" >/dev/null || {
    echo "error: assets/graphiql/dist differs from the npm packages pinned in package-lock.json;" \
      "run bash assets/graphiql/update.sh" >&2
    exit 1
  }
  echo "assets/graphiql/dist matches the pinned npm packages"
else
  rm -rf "$here/dist"
  cp -r "$out" "$here/dist"
  ls -l "$here/dist"
fi
