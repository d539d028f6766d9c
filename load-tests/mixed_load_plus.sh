#!/bin/sh
# The extended mixed load: also updates and deletes this run's posts, then removes them. See README.md.
set -e
dir=$(cd "$(dirname "$0")" && pwd)
[ -f "$dir/dist/cli.js" ] || (cd "$dir/.." && npm run --silent build)
exec node "$dir/dist/cli.js" plus "$@"
