//! Stable-toolchain smoke run of the fuzz oracles (fuzz/oracles.rs), for CI: the cargo-fuzz
//! targets need nightly, these need nothing. Each target gets inputs from a seeded mutator
//! (byte flips, inserts, deletes, splices of a dictionary of separators, control bytes and
//! JOSE fragments, path pieces, and JSON-level edits of the token header and payload), after
//! replaying every file of the minimised cargo-fuzz corpus kept in fuzz/corpus/<target>/ (the
//! inputs `scripts/fuzz.sh` runs found; each is checked once, then used as a base). Bounded by
//! count and by time: about 3 s per target, 21 s of CPU in all (`FUZZ_SMOKE_SECS` per target and
//! `FUZZ_SMOKE_SEED` override); `scripts/test.sh` runs it with the native tests.
//!
//! `FUZZ_WRITE_SEEDS=1` writes the seed inputs to fuzz/corpus/<target>/ for cargo-fuzz.
#![cfg(not(target_arch = "wasm32"))]

#[path = "../fuzz/oracles.rs"]
mod oracles;

use std::path::Path;
use std::time::{Duration, Instant};

use base64ct::{Base64UrlUnpadded, Encoding};

/// xorshift64*: deterministic, dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const DICT: &[&[u8]] = &[
    b".",
    b"..",
    b"=",
    b"==",
    b";",
    b"; ",
    b",",
    b" ",
    b"\t",
    b"\r\n",
    b"\n",
    b"\0",
    b"\"",
    b"\\",
    b"+",
    b"/",
    b"-",
    b"_",
    b"%0d%0a",
    b"\xff",
    b"\xfe",
    b"\xc3\x28",
    b"\xe2\x80\xa8",
    b"__Host-access",
    b"__Host-session",
    b"__host-access",
    b"Bearer ",
    b"eyJ",
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"alg\":\"none\"",
    b"\"alg\":\"HS256\"",
    b"\"alg\":\"ES256\",\"alg\":\"none\"",
    b"\"jku\":\"http://x\"",
    b"\"jwk\":{}",
    b"\"x5c\":[]",
    b"\"x5u\":\"x\"",
    b"\"crit\":[\"x\"]",
    b"\"kid\":\"../../dev/null\"",
    b"\"typ\":\"JWT\"",
    b"\"exp\":1e99",
    b"\"exp\":\"1\"",
    b"\"exp\":1.5",
    b"\"aud\":[]",
    b"\"sub\":\"\"",
    b"\"iat\":-1",
    b"Domain=evil.test",
    b"Max-Age=99999999",
    b"; Path=/x",
    b"HttpOnly",
    b"\x7f",
    b"\x01",
    b"0",
    b"%2e",
    b"%61",
    b"%25",
    b"//",
    b"/../",
    b"..;",
    b"/admin/",
    b"/public/",
    b"/api/reports/",
    b"?",
    b"#",
    b"http://",
    b"v2.",
];

fn mutate_bytes(rng: &mut Rng, input: &mut Vec<u8>) {
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(input.len() + 1);
        match rng.below(7) {
            0 if !input.is_empty() => {
                let i = rng.below(input.len());
                input[i] ^= 1 << rng.below(8);
            }
            1 if !input.is_empty() => {
                let i = rng.below(input.len());
                input[i] = rng.next() as u8;
            }
            2 if !input.is_empty() => {
                let end = (at + 1 + rng.below(8)).min(input.len());
                input.drain(at.min(end)..end);
            }
            3 => {
                let word = DICT[rng.below(DICT.len())];
                input.splice(at..at, word.iter().copied());
            }
            4 if !input.is_empty() => {
                // Duplicate a slice (repeated parameters, repeated cookies).
                let a = rng.below(input.len());
                let b = (a + 1 + rng.below(32)).min(input.len());
                let piece = input[a..b].to_vec();
                input.splice(at..at, piece);
            }
            5 => input.truncate(at),
            _ => input.insert(at, rng.next() as u8),
        }
    }
}

/// Decodes one base64url segment of a token, edits it as text, encodes it again: reaches the
/// JSON rules behind the base64 layer.
fn mutate_token_json(rng: &mut Rng, token: &str) -> Vec<u8> {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let i = rng.below(parts.len().min(2));
    let mut json = Base64UrlUnpadded::decode_vec(&parts[i]).unwrap_or_default();
    mutate_bytes(rng, &mut json);
    parts[i] = Base64UrlUnpadded::encode_string(&json);
    parts.join(".").into_bytes()
}

fn corpus_dir(target: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join("corpus")
        .join(target)
}

fn stored_corpus(target: &str) -> Vec<Vec<u8>> {
    std::fs::read_dir(corpus_dir(target))
        .map(|dir| {
            dir.flatten()
                .filter_map(|e| std::fs::read(e.path()).ok())
                .filter(|b| b.len() <= 64 * 1024)
                .collect()
        })
        .unwrap_or_default()
}

fn budget() -> Duration {
    let secs = std::env::var("FUZZ_SMOKE_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(3.0);
    Duration::from_secs_f64(secs)
}

fn drive(target: &str, seeds: Vec<Vec<u8>>, tokens: bool, oracle: fn(&[u8])) {
    if std::env::var_os("FUZZ_WRITE_SEEDS").is_some() {
        let dir = corpus_dir(target);
        std::fs::create_dir_all(&dir).expect("corpus dir");
        for (i, s) in seeds.iter().enumerate() {
            std::fs::write(dir.join(format!("seed-{i}")), s).expect("write seed");
        }
    }
    let seed = std::env::var("FUZZ_SMOKE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_0000_0000_0001u64 ^ target.len() as u64);
    let mut rng = Rng(seed);
    let stored = stored_corpus(target);
    assert!(
        !stored.is_empty(),
        "fuzz/corpus/{target}/ is missing or empty: the kept corpus is part of the smoke run"
    );
    let from_disk = stored.len();
    let mut pool = seeds;
    pool.extend(stored);
    for s in &pool {
        oracle(s);
    }
    let (start, limit, max_inputs) = (Instant::now(), budget(), 300_000usize);
    let mut n = pool.len();
    while n < max_inputs && start.elapsed() < limit {
        for _ in 0..256 {
            let base = &pool[rng.below(pool.len())];
            let input = if tokens && rng.below(3) == 0 {
                mutate_token_json(&mut rng, &String::from_utf8_lossy(base))
            } else {
                let mut b = base.clone();
                mutate_bytes(&mut rng, &mut b);
                b
            };
            oracle(&input);
            // Keep some mutants as new bases, so edits accumulate.
            if rng.below(64) == 0 && pool.len() < 4096 {
                pool.push(input);
            }
            n += 1;
        }
    }
    println!(
        "fuzz smoke {target}: {n} inputs in {:.1} s ({from_disk} corpus files replayed), seed {seed:#x}, no oracle failure",
        start.elapsed().as_secs_f64()
    );
}

fn token_seeds() -> Vec<Vec<u8>> {
    oracles::seed_tokens()
        .into_iter()
        .map(String::into_bytes)
        .collect()
}

#[test]
fn token_inspect() {
    drive("token_inspect", token_seeds(), true, oracles::token_inspect);
}

#[test]
fn token_verify() {
    drive("token_verify", token_seeds(), true, oracles::token_verify);
}

#[test]
fn cookie_header() {
    let t = oracles::seed_tokens().remove(0);
    let pair = |auth: &str, cookies: &str| [auth.as_bytes(), b"\xff", cookies.as_bytes()].concat();
    let seeds = vec![
        pair(&format!("Bearer {t}"), "theme=dark"),
        pair("", &format!("a=1; __Host-access={t}; b=\"q v\"")),
        pair("Basic dXNlcjpwdw==", "__Host-access=x; __Host-access=y"),
        pair("bearer  abc==", ""),
    ];
    drive("cookie_header", seeds, false, oracles::cookie_header);
}

#[test]
fn forward_headers() {
    let seeds = vec![
        b"user-1\xffsess-1\xff\xffreader\xfewriter\xffclient-1\xffopenid profile\xffa=1; __Host-access=t; __Host-session=s; b=2".to_vec(),
        b"u\xff\xffcookie-sid\xff\xff\xff\xff__Host-access=x".to_vec(),
        b"admin\r\nX-Evil: 1\xff\xff\xffa,b\xff\xff\xff theme=dark ;__Host-session=z".to_vec(),
    ];
    drive("forward_headers", seeds, false, oracles::forward_headers);
}

#[test]
fn set_cookie_roundtrip() {
    let mut seeds = Vec::new();
    for flags in [0u8, 1, 2, 3, 6, 7, 8] {
        let mut s = vec![flags];
        s.extend_from_slice(&2_000i64.to_le_bytes());
        s.extend_from_slice(&1_000i64.to_le_bytes());
        s.extend_from_slice(b"session\xffv1.AAAA.c2Vzcw.dXNlcg.bWFj");
        seeds.push(s);
    }
    drive(
        "set_cookie_roundtrip",
        seeds,
        false,
        oracles::set_cookie_roundtrip,
    );
}

#[test]
fn session_cookie() {
    let mut seeds = Vec::new();
    for flags in [0u8, 1, 3, 5] {
        seeds.push(oracles::session_cookie_seed(
            flags,
            "sess-1",
            "user-1",
            1_700_000_000_123,
        ));
        seeds.push(oracles::session_cookie_raw_seed(flags));
    }
    seeds.push(oracles::session_cookie_seed(1, "s", "\u{e9}.x", 0));
    drive("session_cookie", seeds, false, oracles::session_cookie);
}

#[test]
fn request_target() {
    let seeds = [
        "\x00/public/x?a=1",
        "\x00/public/../admin/x",
        "\x01/api/reports/2024?q=..%2f",
        "\x00/admin//users/./1",
        "\x02/health#frag",
        "\x00/static/a;b/c",
        "\x04/auth/login",
        "\x08http://other.test:81/api/x?y",
        "\x08https://edge.test//api/%41x",
    ];
    let seeds = seeds.iter().map(|s| s.as_bytes().to_vec()).collect();
    drive("request_target", seeds, false, oracles::request_target);
}
