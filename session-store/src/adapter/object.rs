//! The per-user Durable Object: that user's sessions and refresh tokens in SQLite.
//!
//! Each request is one [`Envelope`]: the body is read first, then the rules operation runs
//! inside `storage.transactionSync(...)` with synchronous SQL only, so no other request can
//! interleave between its reads and writes, and a failure rolls the whole operation back.

use std::cell::RefCell;
use std::rc::Rc;

use serde::Deserialize;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use worker::{
    durable_object, DurableObject, Env, Request, Response, SqlStorage, SqlStorageValue, State,
    Storage,
};

use edge_session_protocol::attempts::Window;

use super::log;
use crate::audit::Level;
use crate::envelope::{execute_recorded, Answer, Envelope, MAX_ENVELOPE_BYTES};
use crate::rules::{PendingOtp, RefreshRecord, Session, Store, TokenState};
use crate::time::Millis;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS sessions (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  auth_time INTEGER NOT NULL,
  amr TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_expiry ON sessions (expires_at);
CREATE TABLE IF NOT EXISTS refresh_tokens (
  hash TEXT PRIMARY KEY,
  session_id TEXT NOT NULL,
  chain TEXT NOT NULL,
  generation INTEGER NOT NULL,
  state TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  rotated_at INTEGER,
  chain_expires_at INTEGER NOT NULL,
  audience TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS refresh_tokens_session ON refresh_tokens (session_id);
CREATE INDEX IF NOT EXISTS refresh_tokens_chain ON refresh_tokens (chain, generation);
CREATE INDEX IF NOT EXISTS refresh_tokens_expiry ON refresh_tokens (chain_expires_at);
CREATE TABLE IF NOT EXISTS totp_used (
  k INTEGER PRIMARY KEY CHECK (k = 0),
  step INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS pending_otp (
  k INTEGER PRIMARY KEY CHECK (k = 0),
  hash TEXT NOT NULL,
  salt TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL,
  dev_code TEXT
);
CREATE TABLE IF NOT EXISTS login_attempts (
  k INTEGER PRIMARY KEY CHECK (k = 0),
  count INTEGER NOT NULL,
  started_at INTEGER NOT NULL
);
";

/// One user's sessions and refresh-token chains (binding `USER_SESSIONS`, named by user id).
#[durable_object]
pub struct UserSessions {
    state: State,
    schema: Result<(), String>,
}

impl DurableObject for UserSessions {
    fn new(state: State, _env: Env) -> Self {
        // Synchronous SQL in the constructor: no request runs before the schema exists.
        let schema = state
            .storage()
            .sql()
            .exec(SCHEMA, None)
            .map(|_| ())
            .map_err(|e| e.to_string());
        Self { state, schema }
    }

    async fn fetch(&self, req: Request) -> worker::Result<Response> {
        // The worker sends its request's id; lines here carry it.
        let id = req.headers().get("x-request-id").ok().flatten();
        let request_id = log::request_id_of(id.as_deref(), None);
        let fail = |reason: &str, cause: String| {
            log::line_of(
                &request_id,
                Level::Error,
                "durable_object",
                reason,
                &[("cause", log::Field::Str(&cause))],
            );
        };
        if let Err(e) = &self.schema {
            fail("schema", log::cause(e));
            return Response::error("schema", 500);
        }
        // The only await: before any storage access.
        let envelope = match super::body::read_request(&req, MAX_ENVELOPE_BYTES).await {
            Ok(bytes) => {
                serde_json::from_slice::<Envelope>(&bytes).map_err(|e| log::json_cause(&e))
            }
            Err(e) => Err(e.code().to_string()),
        };
        let envelope = match envelope {
            Ok(e) => e,
            Err(e) => {
                fail("bad_envelope", e);
                return Response::error("bad envelope", 400);
            }
        };
        let storage = self.state.storage();
        let store = SqlStore::new(storage.sql());
        let (answer, store) = transaction_sync(&storage, move || {
            let mut store = store;
            let answer = execute_recorded(&mut store, &envelope)?;
            Ok((answer, store))
        })?;
        let mut resp = Response::from_json::<Answer>(&answer)?;
        resp.headers_mut().set(
            "x-sql",
            &format!(
                "sql_statements={};rows_read={};rows_written={}",
                store.statements, store.rows_read, store.rows_written
            ),
        )?;
        Ok(resp)
    }
}

/// Runs `f` inside `storage.transactionSync`: committed if it returns `Ok`, rolled back if it
/// returns `Err` (thrown back into the runtime).
fn transaction_sync<T: 'static>(
    storage: &Storage,
    f: impl FnOnce() -> worker::Result<T> + 'static,
) -> worker::Result<T> {
    let raw: &JsValue = storage.as_raw().as_ref();
    let method: js_sys::Function =
        js_sys::Reflect::get(raw, &JsValue::from_str("transactionSync"))?
            .dyn_into()
            .map_err(|_| worker::Error::RustError("transactionSync is not a function".into()))?;
    let out: Rc<RefCell<Option<worker::Result<T>>>> = Rc::new(RefCell::new(None));
    let slot = Rc::clone(&out);
    let callback = Closure::once(move || -> Result<JsValue, JsValue> {
        match f() {
            Ok(v) => {
                *slot.borrow_mut() = Some(Ok(v));
                Ok(JsValue::UNDEFINED)
            }
            Err(e) => {
                let message = e.to_string();
                *slot.borrow_mut() = Some(Err(e));
                Err(JsValue::from_str(&message))
            }
        }
    });
    let called = method.call1(raw, callback.as_ref().unchecked_ref());
    drop(callback);
    let result = out.borrow_mut().take();
    match (called, result) {
        (Ok(_), Some(Ok(v))) => Ok(v),
        (_, Some(Err(e))) => Err(e),
        (Err(e), _) => Err(e.into()),
        (Ok(_), None) => Err(worker::Error::RustError(
            "transactionSync did not run its callback".into(),
        )),
    }
}

/// [`Store`] over the object's SQLite database, counting statements and rows.
struct SqlStore {
    sql: SqlStorage,
    statements: u32,
    rows_read: usize,
    rows_written: usize,
}

#[derive(Deserialize)]
struct SessionRow {
    id: String,
    user_id: String,
    created_at: i64,
    expires_at: i64,
    auth_time: i64,
    amr: String,
}

#[derive(Deserialize)]
struct TokenRow {
    hash: String,
    session_id: String,
    chain: String,
    generation: i64,
    state: String,
    created_at: i64,
    rotated_at: Option<i64>,
    chain_expires_at: i64,
    audience: String,
}

#[derive(Deserialize)]
struct IdRow {
    id: String,
}

#[derive(Deserialize)]
struct HeadRow {
    head: Option<i64>,
}

#[derive(Deserialize)]
struct StepRow {
    step: i64,
}

#[derive(Deserialize)]
struct OtpRow {
    hash: String,
    salt: String,
    expires_at: i64,
    attempts: u32,
    dev_code: Option<String>,
}

#[derive(Deserialize)]
struct AttemptsRow {
    count: u32,
    started_at: i64,
}

fn int(v: Millis) -> SqlStorageValue {
    SqlStorageValue::Integer(v)
}

fn text(v: &str) -> SqlStorageValue {
    SqlStorageValue::String(v.to_string())
}

impl SqlStore {
    fn new(sql: SqlStorage) -> Self {
        Self {
            sql,
            statements: 0,
            rows_read: 0,
            rows_written: 0,
        }
    }

    /// Runs a statement to completion and returns its rows.
    fn query<T: for<'de> Deserialize<'de>>(
        &mut self,
        q: &str,
        binds: Vec<SqlStorageValue>,
    ) -> worker::Result<Vec<T>> {
        self.statements += 1;
        let cursor = self.sql.exec(q, binds)?;
        let rows = cursor.to_array::<T>()?;
        self.rows_read += cursor.rows_read();
        self.rows_written += cursor.rows_written();
        Ok(rows)
    }

    /// Runs a statement without result rows; returns rows written.
    fn run(&mut self, q: &str, binds: Vec<SqlStorageValue>) -> worker::Result<usize> {
        self.statements += 1;
        let cursor = self.sql.exec(q, binds)?;
        let _ = cursor.to_array::<serde_json::Value>()?;
        self.rows_read += cursor.rows_read();
        self.rows_written += cursor.rows_written();
        Ok(cursor.rows_written())
    }
}

fn to_session(r: SessionRow) -> worker::Result<Session> {
    Ok(Session {
        id: r.id,
        user_id: r.user_id,
        created_at: r.created_at,
        expires_at: r.expires_at,
        auth_time: r.auth_time,
        amr: serde_json::from_str(&r.amr)?,
    })
}

const SESSION_COLUMNS: &str = "id, user_id, created_at, expires_at, auth_time, amr";

impl Store for SqlStore {
    type Error = worker::Error;

    fn session(&mut self, id: &str) -> worker::Result<Option<Session>> {
        let q = format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?");
        let row = self
            .query::<SessionRow>(&q, vec![text(id)])?
            .into_iter()
            .next();
        row.map(to_session).transpose()
    }

    fn save_session(&mut self, s: &Session) -> worker::Result<()> {
        let amr = serde_json::to_string(&s.amr)?;
        self.run(
            "INSERT INTO sessions (id, user_id, created_at, expires_at, auth_time, amr)
             VALUES (?, ?, ?, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET
               expires_at = excluded.expires_at, auth_time = excluded.auth_time, amr = excluded.amr",
            vec![
                text(&s.id),
                text(&s.user_id),
                int(s.created_at),
                int(s.expires_at),
                int(s.auth_time),
                text(&amr),
            ],
        )?;
        Ok(())
    }

    fn delete_session(&mut self, id: &str) -> worker::Result<bool> {
        self.run(
            "DELETE FROM refresh_tokens WHERE session_id = ?",
            vec![text(id)],
        )?;
        Ok(self.run("DELETE FROM sessions WHERE id = ?", vec![text(id)])? > 0)
    }

    fn sessions(&mut self) -> worker::Result<Vec<Session>> {
        let q = format!("SELECT {SESSION_COLUMNS} FROM sessions ORDER BY created_at, id");
        self.query::<SessionRow>(&q, vec![])?
            .into_iter()
            .map(to_session)
            .collect()
    }

    fn delete_all(&mut self) -> worker::Result<u64> {
        self.run("DELETE FROM refresh_tokens", vec![])?;
        Ok(self.run("DELETE FROM sessions", vec![])? as u64)
    }

    fn purge_expired(&mut self, now: Millis) -> worker::Result<Vec<String>> {
        self.run(
            "DELETE FROM refresh_tokens WHERE chain_expires_at <= ?
               OR session_id IN (SELECT id FROM sessions WHERE expires_at <= ?)",
            vec![int(now), int(now)],
        )?;
        let ended = self.query::<IdRow>(
            "DELETE FROM sessions WHERE expires_at <= ? RETURNING id",
            vec![int(now)],
        )?;
        Ok(ended.into_iter().map(|r| r.id).collect())
    }

    fn refresh_token(&mut self, hash: &str) -> worker::Result<Option<RefreshRecord>> {
        let rows = self.query::<TokenRow>(
            "SELECT hash, session_id, chain, generation, state, created_at, rotated_at,
                    chain_expires_at, audience
             FROM refresh_tokens WHERE hash = ?",
            vec![text(hash)],
        )?;
        rows.into_iter()
            .next()
            .map(|r| {
                let state = TokenState::parse(&r.state)
                    .ok_or_else(|| worker::Error::RustError("bad token state".into()))?;
                Ok(RefreshRecord {
                    hash: r.hash,
                    session_id: r.session_id,
                    chain: r.chain,
                    generation: r.generation,
                    state,
                    created_at: r.created_at,
                    rotated_at: r.rotated_at,
                    chain_expires_at: r.chain_expires_at,
                    audience: r.audience,
                })
            })
            .transpose()
    }

    fn insert_refresh_token(&mut self, r: &RefreshRecord) -> worker::Result<()> {
        self.run(
            "INSERT INTO refresh_tokens (hash, session_id, chain, generation, state, created_at,
                                         rotated_at, chain_expires_at, audience)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            vec![
                text(&r.hash),
                text(&r.session_id),
                text(&r.chain),
                int(r.generation),
                text(r.state.as_str()),
                int(r.created_at),
                r.rotated_at.map(int).unwrap_or(SqlStorageValue::Null),
                int(r.chain_expires_at),
                text(&r.audience),
            ],
        )?;
        Ok(())
    }

    fn rotate(&mut self, r: &RefreshRecord, at: Millis) -> worker::Result<()> {
        self.run(
            "UPDATE refresh_tokens
             SET state = CASE WHEN hash = ? THEN 'rotated' ELSE 'superseded' END, rotated_at = ?
             WHERE chain = ? AND generation = ? AND (hash = ? OR state = 'active')",
            vec![
                text(&r.hash),
                int(at),
                text(&r.chain),
                int(r.generation),
                text(&r.hash),
            ],
        )?;
        Ok(())
    }

    fn chain_head(&mut self, chain: &str) -> worker::Result<i64> {
        let rows = self.query::<HeadRow>(
            "SELECT MAX(generation) AS head FROM refresh_tokens WHERE chain = ?",
            vec![text(chain)],
        )?;
        Ok(rows.into_iter().next().and_then(|r| r.head).unwrap_or(0))
    }

    fn attempts(&mut self) -> worker::Result<Option<Window>> {
        let rows = self.query::<AttemptsRow>(
            "SELECT count, started_at FROM login_attempts WHERE k = 0",
            vec![],
        )?;
        Ok(rows.into_iter().next().map(|r| Window {
            count: r.count,
            started_ms: r.started_at,
        }))
    }

    fn save_attempts(&mut self, window: Option<Window>) -> worker::Result<()> {
        match window {
            Some(w) => self.run(
                "INSERT OR REPLACE INTO login_attempts (k, count, started_at) VALUES (0, ?, ?)",
                vec![int(i64::from(w.count)), int(w.started_ms)],
            )?,
            None => self.run("DELETE FROM login_attempts", vec![])?,
        };
        Ok(())
    }

    fn totp_step(&mut self) -> worker::Result<Option<i64>> {
        let rows = self.query::<StepRow>("SELECT step FROM totp_used WHERE k = 0", vec![])?;
        Ok(rows.into_iter().next().map(|r| r.step))
    }

    fn save_totp_step(&mut self, step: i64) -> worker::Result<()> {
        self.run(
            "INSERT OR REPLACE INTO totp_used (k, step) VALUES (0, ?)",
            vec![int(step)],
        )?;
        Ok(())
    }

    fn pending_otp(&mut self) -> worker::Result<Option<PendingOtp>> {
        let rows = self.query::<OtpRow>(
            "SELECT hash, salt, expires_at, attempts, dev_code FROM pending_otp WHERE k = 0",
            vec![],
        )?;
        Ok(rows.into_iter().next().map(|r| PendingOtp {
            hash: r.hash,
            salt: r.salt,
            expires_at: r.expires_at,
            attempts: r.attempts,
            dev_code: r.dev_code,
        }))
    }

    fn save_pending_otp(&mut self, otp: Option<&PendingOtp>) -> worker::Result<()> {
        match otp {
            Some(p) => self.run(
                "INSERT OR REPLACE INTO pending_otp (k, hash, salt, expires_at, attempts, dev_code)
                 VALUES (0, ?, ?, ?, ?, ?)",
                vec![
                    text(&p.hash),
                    text(&p.salt),
                    int(p.expires_at),
                    int(i64::from(p.attempts)),
                    p.dev_code
                        .as_deref()
                        .map(text)
                        .unwrap_or(SqlStorageValue::Null),
                ],
            )?,
            None => self.run("DELETE FROM pending_otp", vec![])?,
        };
        Ok(())
    }
}
