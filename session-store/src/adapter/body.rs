//! Capped body reading: a body is read from its `ReadableStream` chunk by chunk and the stream
//! is cancelled as soon as the core ([`crate::request::check_read_size`]) refuses it, so no body
//! larger than its limit is ever buffered. An oversized `Content-Length` is refused
//! ([`crate::request::check_body_size`]) before a byte is read.

use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::web_sys::{ReadableStream, ReadableStreamDefaultReader};
use worker::{Request, Response, ResponseBody};

use crate::api::ApiError;
use crate::request;

/// A request body of at most `limit` bytes: 413 past it (at once for a declared length), 400
/// for a bad `Content-Length` or an unreadable body.
pub(super) async fn read_request(req: &Request, limit: usize) -> Result<Vec<u8>, ApiError> {
    let length = req.headers().get("content-length").ok().flatten();
    read(req.inner().body(), length.as_deref(), limit).await
}

/// The body of a response (the Durable Object's reply), at most `limit` bytes.
pub(super) async fn read_response(resp: &Response, limit: usize) -> Result<Vec<u8>, ApiError> {
    let stream = match resp.body() {
        ResponseBody::Empty => None,
        ResponseBody::Stream(s) => Some(s.clone()),
        ResponseBody::Body(bytes) => {
            request::check_read_size(bytes.len(), limit)?;
            return Ok(bytes.clone());
        }
    };
    let length = resp.headers().get("content-length").ok().flatten();
    read(stream, length.as_deref(), limit).await
}

fn unreadable() -> ApiError {
    ApiError::InvalidRequest("unreadable body".into())
}

async fn read(
    stream: Option<ReadableStream>,
    content_length: Option<&str>,
    limit: usize,
) -> Result<Vec<u8>, ApiError> {
    let declared = request::check_body_size(content_length, limit)?;
    let Some(stream) = stream else {
        return Ok(Vec::new());
    };
    let reader: ReadableStreamDefaultReader = stream.get_reader().unchecked_into();
    let capacity = declared.map_or(0, |d| usize::try_from(d).unwrap_or(limit).min(limit));
    let mut out = Vec::with_capacity(capacity);
    loop {
        let Ok(step) = JsFuture::from(reader.read()).await else {
            return Err(unreadable());
        };
        match Reflect::get(&step, &JsValue::from_str("done"))
            .ok()
            .and_then(|d| d.as_bool())
        {
            Some(true) => return Ok(out),
            Some(false) => {}
            None => {
                cancel(&reader).await;
                return Err(unreadable());
            }
        }
        let chunk = Reflect::get(&step, &JsValue::from_str("value"))
            .ok()
            .and_then(|v| v.dyn_into::<Uint8Array>().ok());
        let Some(chunk) = chunk else {
            cancel(&reader).await;
            return Err(unreadable());
        };
        let start = out.len();
        let len = usize::try_from(chunk.length()).unwrap_or(usize::MAX);
        if let Err(e) = request::check_read_size(start.saturating_add(len), limit) {
            cancel(&reader).await;
            return Err(e);
        }
        out.resize(start + len, 0);
        if let Some(tail) = out.get_mut(start..) {
            chunk.copy_to(tail);
        }
    }
}

/// Cancels the rest of the stream: the runtime stops reading it.
async fn cancel(reader: &ReadableStreamDefaultReader) {
    let _ = JsFuture::from(reader.cancel()).await;
}
