//! The closed causes some [`super::Reason`]s carry: a token's fault (without the values that
//! decided), a body's, the upstream's.

use crate::token::TokenError;

/// Why a token was refused, without the values that decided (a closed copy of
/// [`TokenError`]'s variants, so a [`Reason`] stays `Copy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)] // each names the `TokenError` variant of the same name
pub enum TokenFault {
    TooLarge,
    Malformed,
    UnsupportedAlgorithm,
    ForbiddenHeader,
    WrongType,
    UnknownKey,
    MissingKeyId,
    AlgorithmMismatch,
    BadSignature,
    MalformedClaims,
    MissingClaim,
    Expired,
    NotYetValid,
    IssuedInFuture,
    WrongIssuer,
    WrongAudience,
}

impl From<&TokenError> for TokenFault {
    fn from(e: &TokenError) -> Self {
        match e {
            TokenError::TooLarge { .. } => Self::TooLarge,
            TokenError::Malformed(_) => Self::Malformed,
            TokenError::UnsupportedAlgorithm(_) => Self::UnsupportedAlgorithm,
            TokenError::ForbiddenHeader(_) => Self::ForbiddenHeader,
            TokenError::WrongType => Self::WrongType,
            TokenError::UnknownKey => Self::UnknownKey,
            TokenError::MissingKeyId => Self::MissingKeyId,
            TokenError::AlgorithmMismatch { .. } => Self::AlgorithmMismatch,
            TokenError::BadSignature => Self::BadSignature,
            TokenError::MalformedClaims(_) => Self::MalformedClaims,
            TokenError::MissingClaim(_) => Self::MissingClaim,
            TokenError::Expired { .. } => Self::Expired,
            TokenError::NotYetValid { .. } => Self::NotYetValid,
            TokenError::IssuedInFuture { .. } => Self::IssuedInFuture,
            TokenError::WrongIssuer => Self::WrongIssuer,
            TokenError::WrongAudience => Self::WrongAudience,
        }
    }
}

impl TokenFault {
    /// The log code ([`TokenError::reason`] is this).
    pub fn code(self) -> &'static str {
        match self {
            Self::TooLarge => "too_large",
            Self::Malformed => "malformed",
            Self::UnsupportedAlgorithm => "unsupported_alg",
            Self::ForbiddenHeader => "forbidden_header",
            Self::WrongType => "wrong_typ",
            Self::UnknownKey => "unknown_kid",
            Self::MissingKeyId => "missing_kid",
            Self::AlgorithmMismatch => "alg_mismatch",
            Self::BadSignature => "bad_signature",
            Self::MalformedClaims => "malformed_claims",
            Self::MissingClaim => "missing_claim",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::IssuedInFuture => "issued_in_future",
            Self::WrongIssuer => "wrong_issuer",
            Self::WrongAudience => "wrong_audience",
        }
    }
}

/// What is wrong with a body the edge reads itself (login, refresh grant).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFault {
    /// The body could not be read.
    Unreadable,
    /// A login body of another content type than JSON or a form.
    LoginContentType,
    /// A login body that is not the JSON object expected.
    LoginJson,
    /// A login form that does not decode.
    LoginForm,
    /// A login without a username or password, or with one too long; a second factor
    /// without a 6-digit `code`, or without a username and no session to add it to.
    LoginFields,
    /// A login `method` other than `password`, `totp` and `email_otp`.
    LoginMethod,
    /// A refresh-grant body that is not the JSON object expected.
    RefreshJson,
    /// A refresh grant whose `refresh_token` is empty or too long.
    RefreshTokenField,
}

/// Where the upstream forward failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamFault {
    /// The fetch failed (refused, reset, DNS).
    Fetch,
    /// The fetch did not answer within `UPSTREAM_TIMEOUT_MS`.
    Timeout,
    /// The answer could not be finalized (headers the runtime refused).
    Finalize,
    /// The edge's own answer could not be built.
    Reply,
    /// The identity assertion could not be signed (WebCrypto refused the key or the signing).
    Assertion,
}
