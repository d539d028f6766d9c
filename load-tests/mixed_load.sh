#!/bin/sh
# The seed's mixed load: list, detail and create at exact rates. See README.md.
set -e
dir=$(cd "$(dirname "$0")" && pwd)
[ -f "$dir/dist/cli.js" ] || (cd "$dir/.." && npm run --silent build)
exec node "$dir/dist/cli.js" mixed "$@"
