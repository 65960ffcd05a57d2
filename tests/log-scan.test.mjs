// The secret scan (tests/log-scan.mjs) can fail: it finds a secret planted in a log line, from
// a line given to it and from a real worker's console output, in one process and across the
// records of a whole run (the command scripts/test.sh runs). The planted values go to scans of
// their own, so this file's own exit scan and the run's scan stay clean.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import * as H from './edge/harness.mjs';
import { LogScan, MIN_SECRET, scanDir, secretsOfRequest, secretsOfResponse, secretsOfBindings } from './log-scan.mjs';

const SCANNER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'log-scan.mjs');
const planted = () => `planted-${crypto.randomBytes(12).toString('base64url')}`;

describe('what the harnesses register', () => {
  test('requests: Authorization, cookies, secret body fields; answers: Set-Cookie values, token fields', () => {
    const s = new LogScan();
    const token = `${H.b64uJson({ alg: 'ES256' })}.${H.b64uJson({ sub: 'x' })}.${'s'.repeat(43)}`;
    secretsOfRequest(
      [
        ['Authorization', `Bearer ${token}`],
        ['Cookie', '__Host-access=a1.nonce-nonce-nonce.ciphertext-ciphertext; short=x'],
        ['Content-Type', 'application/json'],
      ],
      JSON.stringify({ username: 'alice', password: 'hunter2-hunter2', nested: { refresh_token: 'rt-0123456789' } }),
      s,
    );
    secretsOfRequest([['content-type', 'application/x-www-form-urlencoded']], 'client_id=c&client_secret=form-secret-123', s);
    secretsOfResponse(
      ['__Host-session=v2.abc.def; Path=/; Secure', '__Host-access=; Max-Age=0'],
      JSON.stringify({ access_token: 'at-0123456789', session_id: 'sess-0123456789', expires_in: 300 }),
      'application/json',
      s,
    );
    secretsOfBindings({ COOKIE_KEYS: 'key-one-0123456789,key-two-0123456789', ISSUER: 'https://idp.example', SIGNING_KEY: '{"kty":"EC","d":"private-d-0123456789","x":"public-x"}' }, s);
    const has = (v) => s.secrets.has(v);
    for (const v of [
      `Bearer ${token}`,
      token,
      's'.repeat(43),
      'a1.nonce-nonce-nonce.ciphertext-ciphertext',
      'ciphertext-ciphertext',
      'hunter2-hunter2',
      'rt-0123456789',
      'form-secret-123',
      'v2.abc.def',
      'at-0123456789',
      'sess-0123456789',
      'key-one-0123456789',
      'key-two-0123456789',
      'private-d-0123456789',
    ]) {
      assert.ok(has(v), `registered: ${v}`);
    }
    // Not secrets, or too short to scan for.
    for (const v of ['alice', 'x', 'https://idp.example', 'public-x', '300']) assert.ok(!has(v), `not registered: ${v}`);
    s.secret('1234567'.slice(0, MIN_SECRET - 1));
    assert.equal(s.secrets.has('1234567'), false);
  });
});

describe('the scan finds a planted secret', () => {
  test('in a line given to it', () => {
    const s = new LogScan();
    const secret = planted();
    s.secret(secret, 'planted');
    s.log('w', 'log', '{"level":"info","reason":"fine"}');
    assert.deepEqual(s.scan(), []);
    s.log('w', 'error', `{"level":"error","oops":"${secret}"}`);
    const hits = s.scan();
    assert.equal(hits.length, 1);
    assert.equal(hits[0].label, 'planted');
    assert.equal(hits[0].level, 'error');
    assert.ok(hits[0].line.includes(secret));
  });

  test('at the exit of a process that captured it: the process fails (its test file fails)', () => {
    const secret = planted();
    const script = `
      import { run } from ${JSON.stringify(SCANNER)};
      run.secret(${JSON.stringify(secret)}, 'planted');
      run.log('w', 'warn', 'a line with ' + ${JSON.stringify(secret)});`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      env: { ...process.env, EDGE_LOG_SCAN_DIR: '' },
    });
    assert.equal(child.status, 1, child.stderr);
    assert.match(child.stderr, /1 log line\(s\) hold a secret/);
    assert.match(child.stderr, /planted .* in a warn line of w/);
    const clean = spawnSync(process.execPath, ['--input-type=module', '-e', script.replace("'a line with ' + ", "'nothing: ' + typeof ")], {
      encoding: 'utf8',
      env: { ...process.env, EDGE_LOG_SCAN_DIR: '' },
    });
    assert.equal(clean.status, 0, clean.stderr);
  });

  describe('in a real worker\'s output, and across the records of a run', () => {
    let up;
    let gate;
    const local = new LogScan();
    before(async () => {
      up = await H.startUpstream();
      gate = await H.startGate(
        { stub: { UPSTREAM: up.url } },
        { script: H.STUB_SCRIPT, onLog: (message, level) => local.log('stub', level, message) },
      );
    });
    after(async () => {
      await gate?.dispose();
      await up?.close();
    });

    test('the worker logs a planted secret with console.error: caught, with its method', async () => {
      const secret = planted();
      local.secret(secret, 'planted in a header');
      const res = await gate.request('stub', '/__stub/log', { headers: [['x-plant', secret]] });
      assert.equal(res.status, 200);
      let hits = [];
      for (let i = 0; i < 100 && hits.length === 0; i++) {
        await H.sleep(20);
        hits = local.scan();
      }
      assert.equal(hits.length, 1, `the planted secret is found in:\n${local.lines.map((l) => l.message).join('\n')}`);
      assert.equal(hits[0].level, 'error');
      assert.equal(hits[0].worker, 'stub');

      // The whole-run scan over records: this process's lines with the planted secret in a
      // record of another "process" (the secret of one file, the line of another).
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edge-log-scan-'));
      try {
        fs.writeFileSync(path.join(dir, 'lines.json'), JSON.stringify({ file: 'a.test.mjs', secrets: [], lines: local.lines }));
        fs.writeFileSync(path.join(dir, 'clean.json'), JSON.stringify({ file: 'b.test.mjs', secrets: [['unrelated-0123456789', 'x']], lines: [] }));
        assert.equal(scanDir(dir).hits.length, 0);
        let cli = spawnSync(process.execPath, [SCANNER, dir], { encoding: 'utf8' });
        assert.equal(cli.status, 0, cli.stderr);
        assert.match(cli.stdout, /no secret in any log line/);

        fs.writeFileSync(path.join(dir, 'secrets.json'), JSON.stringify({ file: 'c.test.mjs', secrets: [[secret, 'planted']], lines: [] }));
        const r = scanDir(dir);
        assert.equal(r.hits.length, 1);
        assert.match(r.hits[0].label, /planted \(c\.test\.mjs\)/);
        cli = spawnSync(process.execPath, [SCANNER, dir], { encoding: 'utf8' });
        assert.equal(cli.status, 1, 'the run fails');
        assert.match(cli.stderr, /1 log line\(s\) hold a secret/);
        assert.match(cli.stderr, /planted \(c\.test\.mjs\)/);
        // A run that captured nothing fails too: the harnesses did not record.
        const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'edge-log-scan-empty-'));
        cli = spawnSync(process.execPath, [SCANNER, empty], { encoding: 'utf8' });
        assert.equal(cli.status, 1);
        fs.rmSync(empty, { recursive: true, force: true });
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
