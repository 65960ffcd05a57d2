#!/usr/bin/env bash
# Deploys the stack to Cloudflare with the production settings of every wrangler config
# ([env.production]): the reference session store, then the edge (then the demo app with
# --with-demo). See README, "Deploy", and `bash scripts/deploy.sh --help`.
#
#   bash scripts/deploy.sh --dry-run   no account needed: `wrangler deploy --dry-run --outdir`
#                                      for every worker, bundle sizes, and a check that no dev
#                                      secret is in a production var or bundle (CI runs it)
#   bash scripts/deploy.sh             checks the login, creates the KV namespace, sets the
#                                      missing secrets, deploys, prints the URLs
#
# The work is in scripts/deploy.mjs (node, which wrangler needs anyway).
set -euo pipefail
cd "$(dirname "$0")/.."
export WRANGLER_SEND_METRICS=false WRANGLER_HIDE_BANNER=true CLOUDFLARE_CF_FETCH_ENABLED=false
exec node scripts/deploy.mjs "$@"
