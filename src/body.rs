//! How much of a body the edge reads: the limit decision for request bodies (login, refresh
//! grant) and for the answers it reads itself (store, JWKS).
//!
//! A body is judged twice: by its declared `Content-Length` before a byte is read (an
//! oversized one is refused at once, the body never read), and while it is read, chunk by
//! chunk, so a chunked body without a length is cut off at the limit instead of being
//! buffered whole. The adapter's reader (`adapter/body.rs`) asks [`check_declared`] first and
//! [`check_read`] after every chunk, and cancels the stream at the first refusal.

/// Why a body is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyRefusal {
    /// `Content-Length` is not a decimal number.
    BadLength,
    /// The declared length, or what has been read so far, is over the limit.
    TooLarge,
}

impl BodyRefusal {
    /// Secret-free reason for logs.
    pub fn reason(self) -> &'static str {
        match self {
            Self::BadLength => "bad_content_length",
            Self::TooLarge => "body_too_large",
        }
    }

    /// The HTTP status a refused request body gets: 413 when too large, else 400.
    pub fn status(self) -> u16 {
        match self {
            Self::BadLength => 400,
            Self::TooLarge => 413,
        }
    }
}

/// Judges a declared `Content-Length` against `limit` (bytes) before anything is read: the
/// length when it is fine (`None` without the header: a chunked body, judged while read).
///
/// RFC 9110 §8.6: `1*DIGIT`. A value with more digits than fit a `u64` is over any limit.
/// (The runtime has already refused conflicting or non-numeric lengths; this is the second
/// line.)
pub fn check_declared(
    content_length: Option<&str>,
    limit: usize,
) -> Result<Option<u64>, BodyRefusal> {
    let Some(value) = content_length else {
        return Ok(None);
    };
    let value = value.trim();
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(BodyRefusal::BadLength);
    }
    let declared = value.parse::<u64>().map_err(|_| BodyRefusal::TooLarge)?;
    if declared > limit as u64 {
        return Err(BodyRefusal::TooLarge);
    }
    Ok(Some(declared))
}

/// Judges how much has been read (`read` bytes, the next chunk included) against `limit`:
/// reading stops, and the stream is cancelled, at the first `Err`.
pub fn check_read(read: usize, limit: usize) -> Result<(), BodyRefusal> {
    if read > limit {
        Err(BodyRefusal::TooLarge)
    } else {
        Ok(())
    }
}

/// How many bytes to reserve before reading: the declared length, never more than the limit.
pub fn initial_capacity(declared: Option<u64>, limit: usize) -> usize {
    declared.map_or(0, |d| usize::try_from(d).unwrap_or(limit).min(limit))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: usize = 8 * 1024;

    #[test]
    fn declared_lengths() {
        use BodyRefusal::*;
        type Row<'a> = (Option<&'a str>, Result<Option<u64>, BodyRefusal>);
        let rows: &[Row<'_>] = &[
            (None, Ok(None)),
            (Some("0"), Ok(Some(0))),
            (Some("8192"), Ok(Some(8192))),
            (Some(" 12 "), Ok(Some(12))),
            (Some("8193"), Err(TooLarge)),
            (Some("157286400"), Err(TooLarge)),
            (Some("99999999999999999999999999"), Err(TooLarge)),
            (Some(""), Err(BadLength)),
            (Some("-1"), Err(BadLength)),
            (Some("+5"), Err(BadLength)),
            (Some("5, 5"), Err(BadLength)),
            (Some("0x10"), Err(BadLength)),
            (Some("1e3"), Err(BadLength)),
        ];
        for (value, want) in rows {
            assert_eq!(check_declared(*value, LIMIT), *want, "{value:?}");
        }
    }

    #[test]
    fn reading_stops_past_the_limit() {
        assert_eq!(check_read(0, LIMIT), Ok(()));
        assert_eq!(check_read(LIMIT, LIMIT), Ok(()));
        assert_eq!(check_read(LIMIT + 1, LIMIT), Err(BodyRefusal::TooLarge));
        assert_eq!(check_read(usize::MAX, LIMIT), Err(BodyRefusal::TooLarge));
    }

    #[test]
    fn statuses_and_reasons() {
        assert_eq!(BodyRefusal::TooLarge.status(), 413);
        assert_eq!(BodyRefusal::BadLength.status(), 400);
        assert_eq!(BodyRefusal::TooLarge.reason(), "body_too_large");
    }

    #[test]
    fn capacity_never_exceeds_the_limit() {
        assert_eq!(initial_capacity(None, LIMIT), 0);
        assert_eq!(initial_capacity(Some(10), LIMIT), 10);
        assert_eq!(initial_capacity(Some(u64::MAX), LIMIT), LIMIT);
    }
}
