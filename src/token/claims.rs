//! The claims step: the payload's registered and Transmit claims, read strictly and checked
//! against the policy at `now`.

use serde::Deserialize;

use super::{Policy, TokenError, MAX_NUMERIC_DATE};

/// `aud` (and `roles`): one string or an array of strings (RFC 7519 §4.1.3).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            Self::One(s) => vec![s],
            Self::Many(v) => v,
        }
    }
}

/// The registered and Transmit claims the edge reads. Times are integers (NumericDate as
/// issuers emit it); floats, strings and duplicated claim names are refused by serde.
#[derive(Debug, Deserialize)]
pub(super) struct RawClaims {
    iss: Option<String>,
    sub: Option<String>,
    aud: Option<OneOrMany>,
    #[serde(rename = "exp")]
    exp_secs: Option<i64>,
    #[serde(rename = "nbf")]
    nbf_secs: Option<i64>,
    #[serde(rename = "iat")]
    iat_secs: Option<i64>,
    jti: Option<String>,
    client_id: Option<String>,
    sid: Option<String>,
    roles: Option<OneOrMany>,
    scope: Option<String>,
    amr: Option<Vec<String>>,
    auth_time: Option<i64>,
}

/// Claims of a token whose signature and claims were checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedClaims {
    /// `sub`: the user id.
    pub sub: String,
    /// `aud`, all values.
    pub aud: Vec<String>,
    /// `exp`, seconds since the epoch.
    pub exp: i64,
    /// `iat`, seconds since the epoch.
    pub iat: i64,
    /// `jti`, if present.
    pub jti: Option<String>,
    /// `client_id`, if present.
    pub client_id: Option<String>,
    /// `sid` (session id), if present; Transmit's access tokens carry none.
    pub sid: Option<String>,
    /// `roles`, possibly empty.
    pub roles: Vec<String>,
    /// `scope`, if present.
    pub scope: Option<String>,
    /// `amr` (authentication methods, ID tokens and some access tokens), possibly empty.
    pub amr: Vec<String>,
    /// `auth_time` (the last active authentication, seconds; RFC 9068 §2.2.1), if present.
    pub auth_time: Option<i64>,
}

impl VerifiedClaims {
    /// Rough heap size, for bounding caches.
    pub fn approx_size(&self) -> usize {
        let opt = |s: &Option<String>| s.as_ref().map_or(0, String::len);
        std::mem::size_of::<Self>()
            + self.sub.len()
            + self.aud.iter().map(String::len).sum::<usize>()
            + self.roles.iter().map(String::len).sum::<usize>()
            + opt(&self.jti)
            + opt(&self.client_id)
            + opt(&self.sid)
            + opt(&self.scope)
            + self.amr.iter().map(String::len).sum::<usize>()
    }
}

fn numeric_date(v: Option<i64>, name: &'static str) -> Result<Option<i64>, TokenError> {
    match v {
        Some(t) if !(0..=MAX_NUMERIC_DATE).contains(&t) => {
            Err(TokenError::MalformedClaims(format!("{name} out of range")))
        }
        other => Ok(other),
    }
}

pub(super) fn check_claims(
    raw: RawClaims,
    policy: &Policy,
    now: i64,
) -> Result<VerifiedClaims, TokenError> {
    let leeway = policy.leeway_secs;
    let exp = numeric_date(raw.exp_secs, "exp")?.ok_or(TokenError::MissingClaim("exp"))?;
    let iat = numeric_date(raw.iat_secs, "iat")?.ok_or(TokenError::MissingClaim("iat"))?;
    let nbf = numeric_date(raw.nbf_secs, "nbf")?;
    let auth_time = numeric_date(raw.auth_time, "auth_time")?;
    if now >= exp.saturating_add(leeway) {
        return Err(TokenError::Expired { exp, now });
    }
    if let Some(nbf) = nbf {
        if nbf.saturating_sub(leeway) > now {
            return Err(TokenError::NotYetValid { nbf, now });
        }
    }
    if iat.saturating_sub(leeway) > now {
        return Err(TokenError::IssuedInFuture { iat, now });
    }
    match raw.iss {
        Some(iss) if iss == policy.issuer => {}
        Some(_) => return Err(TokenError::WrongIssuer),
        None => return Err(TokenError::MissingClaim("iss")),
    }
    let aud = raw.aud.ok_or(TokenError::MissingClaim("aud"))?.into_vec();
    if !aud.iter().any(|a| policy.audiences.contains(a)) {
        return Err(TokenError::WrongAudience);
    }
    let sub = match raw.sub {
        Some(sub) if !sub.is_empty() => sub,
        _ => return Err(TokenError::MissingClaim("sub")),
    };
    Ok(VerifiedClaims {
        sub,
        aud,
        exp,
        iat,
        jti: raw.jti,
        client_id: raw.client_id,
        sid: raw.sid,
        roles: raw.roles.map(OneOrMany::into_vec).unwrap_or_default(),
        scope: raw.scope,
        amr: raw.amr.unwrap_or_default(),
        auth_time,
    })
}
