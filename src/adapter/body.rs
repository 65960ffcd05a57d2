//! Capped body reading: a body is read from its `ReadableStream` chunk by chunk and the stream
//! is cancelled as soon as the core ([`crate::body`]) refuses it, so no body larger than its
//! limit is ever buffered. An oversized `Content-Length` is refused before a byte is read.

use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{ReadableStream, ReadableStreamDefaultReader};
use worker::{Request, Response, ResponseBody};

use crate::body::{self, BodyRefusal};
use crate::rejection::{BodyFault, Reason, Rejection};

/// Why a body could not be had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ReadError {
    /// The core refused it (declared or read length).
    Refused(BodyRefusal),
    /// The stream failed or yielded something that is not bytes.
    Unreadable,
}

/// A request body of at most `limit` bytes: 413 past the limit (at once for a declared
/// length), 400 for a bad `Content-Length` or an unreadable body.
pub(super) async fn read_request(req: &Request, limit: usize) -> Result<Vec<u8>, Rejection> {
    let length = req.headers().get("content-length").ok().flatten();
    read(req.inner().body(), length.as_deref(), limit)
        .await
        .map_err(|e| match e {
            ReadError::Refused(r) => Rejection::new(Reason::BodySize(r)),
            ReadError::Unreadable => Rejection::new(Reason::Body(BodyFault::Unreadable)),
        })
}

/// The body of an answer the edge reads itself (store, JWKS), at most `limit` bytes.
pub(super) async fn read_response(resp: &Response, limit: usize) -> Result<Vec<u8>, ReadError> {
    let stream = match resp.body() {
        ResponseBody::Empty => None,
        ResponseBody::Stream(s) => Some(s.clone()),
        ResponseBody::Body(bytes) => {
            body::check_read(bytes.len(), limit).map_err(ReadError::Refused)?;
            return Ok(bytes.clone());
        }
    };
    let length = resp.headers().get("content-length").ok().flatten();
    read(stream, length.as_deref(), limit).await
}

async fn read(
    stream: Option<ReadableStream>,
    content_length: Option<&str>,
    limit: usize,
) -> Result<Vec<u8>, ReadError> {
    let declared = body::check_declared(content_length, limit).map_err(ReadError::Refused)?;
    let Some(stream) = stream else {
        return Ok(Vec::new());
    };
    let reader: ReadableStreamDefaultReader = stream.get_reader().unchecked_into();
    let mut out = Vec::with_capacity(body::initial_capacity(declared, limit));
    loop {
        let Ok(step) = JsFuture::from(reader.read()).await else {
            return Err(ReadError::Unreadable);
        };
        match Reflect::get(&step, &JsValue::from_str("done"))
            .ok()
            .and_then(|d| d.as_bool())
        {
            Some(true) => return Ok(out),
            Some(false) => {}
            None => {
                cancel(&reader).await;
                return Err(ReadError::Unreadable);
            }
        }
        let chunk = Reflect::get(&step, &JsValue::from_str("value"))
            .ok()
            .and_then(|v| v.dyn_into::<Uint8Array>().ok());
        let Some(chunk) = chunk else {
            cancel(&reader).await;
            return Err(ReadError::Unreadable);
        };
        let start = out.len();
        let len = usize::try_from(chunk.length()).unwrap_or(usize::MAX);
        if let Err(refusal) = body::check_read(start.saturating_add(len), limit) {
            cancel(&reader).await;
            return Err(ReadError::Refused(refusal));
        }
        out.resize(start + len, 0);
        if let Some(tail) = out.get_mut(start..) {
            chunk.copy_to(tail);
        }
    }
}

/// Cancels the rest of the stream: the runtime stops reading it from the client (or peer).
async fn cancel(reader: &ReadableStreamDefaultReader) {
    let _ = JsFuture::from(reader.cancel()).await;
}
