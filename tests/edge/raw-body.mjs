// Body-size attacks as an attacker sends them: raw bytes on a socket to workerd's direct socket
// (no fetch, no http client to buffer or normalise), with what the server read measured by the
// bytes the socket accepted before the answer, and by the resident memory of workerd itself.
import fs from 'node:fs';
import net from 'node:net';

export const MiB = 1024 * 1024;

/**
 * Sends `POST` (or `method`) to `url` over a raw socket: `headers` ([name, value] pairs, sent as
 * given; Host is added), then a body of `total` bytes of `fill`, chunked (`Transfer-Encoding:
 * chunked`, `chunk` bytes a chunk) unless `declared` is set, in which case `Content-Length:
 * declared` is sent with only `total` bytes of body. Writing stops as soon as the first byte of
 * an answer arrives, or when the socket is closed.
 *
 * Resolves to { status, head, text, sentBeforeAnswer (body bytes the socket had accepted when the
 * answer began), sentTotal, finishedBody (the whole body went out before any answer), ms }.
 * `body` (a string) is sent whole with its Content-Length; `framed` (a string) is sent as it is
 * after `Transfer-Encoding: chunked` (chunk framing included).
 * `status` is null when nothing came within `timeoutMs` after the last write.
 */
export function rawSend(url, { method = 'POST', path = '/', headers = [], total = 0, declared, chunk = 64 * 1024, fill = 'a', body, framed, pace = 1, timeoutMs = 5000 } = {}) {
  const u = new URL(url);
  const started = Date.now();
  return new Promise((resolve) => {
    const socket = net.connect({ host: u.hostname, port: Number(u.port) });
    let answer = Buffer.alloc(0);
    let answered = false;
    let sent = 0;
    let sentBeforeAnswer = null;
    let finishedBody = false;
    let done = false;
    let idle = null;

    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(idle);
      socket.destroy();
      const text = answer.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      const head = end >= 0 ? text.slice(0, end) : text;
      const m = /^HTTP\/1\.1 (\d{3})/.exec(head);
      resolve({
        status: m ? Number(m[1]) : null,
        head,
        text: end >= 0 ? text.slice(end + 4) : '',
        sentBeforeAnswer: sentBeforeAnswer ?? sent,
        sentTotal: sent,
        finishedBody,
        error,
        ms: Date.now() - started,
      });
    };
    const armIdle = (ms) => {
      clearTimeout(idle);
      idle = setTimeout(finish, ms);
    };

    socket.on('data', (d) => {
      if (!answered) {
        answered = true;
        sentBeforeAnswer = sent;
      }
      answer = Buffer.concat([answer, d]);
      // The whole answer is small; read what follows the head for a moment, then stop.
      armIdle(300);
    });
    let error = null;
    socket.on('error', (e) => {
      error = e.code ?? String(e);
      finish();
    });
    socket.on('close', () => finish());

    const lines = [`${method} ${path} HTTP/1.1`, `Host: ${u.host}`];
    for (const [k, v] of headers) lines.push(`${k}: ${v}`);
    if (body !== undefined) lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
    else if (declared !== undefined) lines.push(`Content-Length: ${declared}`);
    else lines.push('Transfer-Encoding: chunked');
    socket.write(`${lines.join('\r\n')}\r\n\r\n`);

    const block = Buffer.alloc(chunk, fill);
    const drainOrAnswer = () =>
      new Promise((r) => {
        const t = setInterval(() => {
          if (answered || done) {
            clearInterval(t);
            r();
          }
        }, 20);
        socket.once('drain', () => {
          clearInterval(t);
          r();
        });
      });

    (async () => {
      const whole = body ?? framed;
      if (whole !== undefined) {
        socket.write(whole);
        sent = Buffer.byteLength(whole);
        finishedBody = true;
        armIdle(timeoutMs);
        return;
      }
      while (sent < total && !answered && !done) {
        const n = Math.min(chunk, total - sent);
        const piece = n === chunk ? block : block.subarray(0, n);
        const parts = declared === undefined ? [Buffer.from(`${n.toString(16)}\r\n`), piece, Buffer.from('\r\n')] : [piece];
        let ok = true;
        for (const b of parts) ok = socket.write(b) && ok;
        // Counted once the socket has taken it (handed to the kernel or queued under the
        // high-water mark); when it pushes back, wait for it to drain or for an answer.
        sent += n;
        if (!ok) await drainOrAnswer();
        // Let an answer in before writing on: workerd answers early and then resets a
        // connection that keeps sending, and a client writing into the reset loses the answer.
        await new Promise((r) => setTimeout(r, pace));
      }
      if (!answered && !done) {
        if (declared === undefined) socket.write('0\r\n\r\n');
        finishedBody = sent >= total;
        armIdle(timeoutMs);
      }
    })();
  });
}

/** The pids of the workerd processes this node process started (Miniflare's runtimes). */
export function workerdPids() {
  const mine = String(process.pid);
  const out = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const ppid = stat.slice(close + 2).split(' ')[1];
      if (ppid === mine && comm.startsWith('workerd')) out.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}

/** Resident memory of a process in bytes (VmRSS), or null when it cannot be read. */
export function rss(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** The workerd processes started while `start()` ran (so a test can watch its own runtime). */
export async function newWorkerd(start) {
  const before = new Set(workerdPids());
  const result = await start();
  const pids = workerdPids().filter((p) => !before.has(p));
  return { result, pids };
}

/** Sum of VmRSS over `pids`. */
export const rssOf = (pids) => pids.reduce((s, p) => s + (rss(p) ?? 0), 0);
