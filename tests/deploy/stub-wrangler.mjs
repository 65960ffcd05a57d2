#!/usr/bin/env node
// A stand-in for wrangler in tests/deploy (scripts/deploy.mjs runs $WRANGLER): answers what a
// Cloudflare account would, records every call, and hands `deploy --dry-run` to the real
// wrangler when REAL_WRANGLER is set (no account involved), else fakes a tiny bundle. Never
// talks to the network.
//   STUB_LOG       file: one JSON line per call { argv, secrets? (the --secrets-file content),
//                  secretsFile? }
//   STUB_LOGGED_IN "0": whoami fails as when not logged in
//   STUB_SECRETS   JSON { "<config path>": ["NAME", ...] }: secrets already set on that worker;
//                  a config missing from it is a worker that does not exist yet
//   STUB_KV        JSON [{ id, title }]: the account's KV namespaces
//   REAL_WRANGLER  the real binary, for --dry-run (unset: a fake bundle)
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';

const argv = process.argv.slice(2);
const entry = { argv };
const opt = (name) => {
  const i = argv.indexOf(name);
  return i < 0 ? undefined : argv[i + 1];
};

if (argv[0] === 'deploy' && argv.includes('--dry-run')) {
  if (process.env.REAL_WRANGLER) {
    const r = spawnSync(process.env.REAL_WRANGLER, argv, { stdio: 'inherit' });
    process.exit(r.status ?? 1);
  }
  // Without the real one: a bundle of one small file (the deploy path's checks still run on
  // the configs wrangler resolves).
  fs.mkdirSync(opt('--outdir'), { recursive: true });
  fs.writeFileSync(`${opt('--outdir')}/worker.js`, 'export default {};\n');
  console.log('Total Upload: 0.02 KiB / gzip: 0.04 KiB\n--dry-run: exiting now.');
  process.exit(0);
}

const record = () => fs.appendFileSync(process.env.STUB_LOG, `${JSON.stringify(entry)}\n`);
// The command words: the arguments before the first option.
const firstOption = argv.findIndex((a) => a.startsWith('-'));
const cmd = (firstOption < 0 ? argv : argv.slice(0, firstOption)).join(' ');

if (cmd.startsWith('whoami')) {
  record();
  if (process.env.STUB_LOGGED_IN === '0') {
    console.log('You are not authenticated. Please run `wrangler login`.');
    process.exit(1);
  }
  console.log(JSON.stringify({ loggedIn: true, email: 'ops@acme.test', accounts: [{ id: 'a1', name: 'Acme' }] }));
} else if (cmd === 'kv namespace list') {
  record();
  console.log(process.env.STUB_KV ?? '[]');
} else if (cmd.startsWith('kv namespace create')) {
  record();
  // wrangler 4.86's answer for a TOML config (createdResourceConfig).
  console.log(`🌀 Creating namespace with title "${argv[3]}"\n✨ Success!\nTo access your new KV Namespace in your Worker, add the following snippet to your configuration file:\n[[kv_namespaces]]\nbinding = "edge_session_revocations"\nid = "0123456789abcdef0123456789abcdef"`);
} else if (cmd === 'secret list') {
  record();
  const have = JSON.parse(process.env.STUB_SECRETS ?? '{}')[opt('-c')];
  if (!have) {
    console.error(`✘ [ERROR] Worker "${opt('-c')}" (env: production) not found.`);
    process.exit(1);
  }
  console.log(JSON.stringify(have.map((name) => ({ name, type: 'secret_text' }))));
} else if (argv[0] === 'deploy') {
  const file = opt('--secrets-file');
  if (file) {
    entry.secretsFile = file;
    entry.secretsMode = fs.statSync(file).mode & 0o777;
    entry.secrets = JSON.parse(fs.readFileSync(file, 'utf8'));
  }
  record();
  console.log(`Uploaded ${opt('-c')}\nDeployed triggers`);
} else {
  record();
  console.error(`stub-wrangler: unexpected call ${argv.join(' ')}`);
  process.exit(2);
}
