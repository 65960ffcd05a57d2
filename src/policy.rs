//! Route policies (`ROUTE_POLICIES`): what a protected request needs beyond a valid token.
//!
//! A rule names paths (the `PUBLIC_PATHS` syntax, matched by [`PathRules`]: one matcher decides
//! both), optionally methods, and any of: roles (any of, all of), scopes (all of), authentication
//! methods (`amr`, any of) and the longest time since the authentication (`max_age` against
//! `auth_time`). The **first** rule whose path and method match decides; a protected request no
//! rule matches needs only the valid token. The claims are the access token's: `roles`, `scope`
//! (space-separated), `amr` and `auth_time`.
//!
//! Refusals, roles and scopes first (a new sign-in cannot grant a role):
//! - a missing role or scope: 403 `insufficient_scope` (RFC 6750 §3.1), with `scope="…"` listing
//!   the rule's scopes when it has any (roles are not scopes a client can ask for, so they are
//!   never named);
//! - a missing method, an authentication older than `max_age`, or no usable `auth_time` under
//!   a `max_age` rule (fail closed): 401 `insufficient_user_authentication` (RFC 9470 §3), with
//!   the rule's whole step-up requirement: `acr_values="…"` (its `amr` values, space-separated,
//!   any of which satisfies it, in the order given) and `max_age="…"`. For a browser navigation
//!   with sessions, [`crate::gate::refusal`] answers a 303 to the step-up page instead
//!   ([`step_up_location`]).
//!
//! Pure: the clock is an argument. The configuration is parsed and bounded here, at start.

use crate::rejection::{Reason, Rejection};
use crate::route::{self, PathRules};
use crate::token::VerifiedClaims;

/// Largest `ROUTE_POLICIES` value, bytes.
pub const MAX_CONFIG_BYTES: usize = 16 * 1024;
/// Most rules.
pub const MAX_RULES: usize = 64;
/// Most values in one of a rule's lists.
pub const MAX_VALUES: usize = 16;
/// Longest role, scope or `amr` value, bytes.
pub const MAX_VALUE_BYTES: usize = 128;
/// Largest `max_age`, seconds (366 days).
pub const MAX_AGE_SECS: i64 = 366 * 86_400;
/// Longest step-up `Location` the edge writes; a longer return path is left out.
pub const MAX_LOCATION_BYTES: usize = 2048;
/// The query parameter of the step-up page that carries the path to return to.
pub const RETURN_PARAM: &str = "return_to";

/// Why a rule refused a valid token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyRefusal {
    /// None of `roles_any`, or not all of `roles_all`.
    Role,
    /// Not every one of `scopes`.
    Scope,
    /// None of the rule's `amr` values in the token's `amr`.
    Amr,
    /// `auth_time` older than `max_age`.
    TooOld,
    /// A `max_age` rule and no usable `auth_time` (absent, or later than the token's `iat`).
    NoAuthTime,
}

impl PolicyRefusal {
    /// The stable code for log lines.
    pub fn code(self) -> &'static str {
        match self {
            Self::Role => "policy_role",
            Self::Scope => "policy_scope",
            Self::Amr => "policy_amr",
            Self::TooOld => "policy_max_age",
            Self::NoAuthTime => "policy_no_auth_time",
        }
    }

    /// Whether a new authentication can meet the rule (401 and the step-up page), rather than
    /// only another token (403).
    pub fn step_up(self) -> bool {
        matches!(self, Self::Amr | Self::TooOld | Self::NoAuthTime)
    }
}

/// One rule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rule {
    paths: PathRules,
    /// Bit `i` set: [`route::METHODS`]`[i]` matches; `None`: every method.
    methods: Option<u8>,
    roles_any: Vec<String>,
    roles_all: Vec<String>,
    scopes: Vec<String>,
    amr: Vec<String>,
    max_age: Option<i64>,
}

/// The rules, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoutePolicies {
    rules: Vec<Rule>,
}

/// The complaint about a rule that is not an object of the expected shape.
const SHAPE: &str =
    "not a rule object (path a string, lists arrays of strings, max_age an integer)";

impl RoutePolicies {
    /// Parses `ROUTE_POLICIES`: a JSON array of rules. A rule that can never apply (every path
    /// it names is public, or under the edge's own `auth_prefix`) is refused like any other
    /// mistake; the error names the rule (counted from 1) and never quotes a role, scope,
    /// method or number (an unknown or missing field is named; a bad path pattern is quoted, as
    /// for `PUBLIC_PATHS`).
    pub fn parse(json: &str, public: &PathRules, auth_prefix: &str) -> Result<Self, String> {
        if json.len() > MAX_CONFIG_BYTES {
            return Err(format!("longer than {MAX_CONFIG_BYTES} bytes"));
        }
        let items: Vec<serde_json::Value> = serde_json::from_slice(json.as_bytes())
            .map_err(|_| "must be a JSON array of rule objects".to_owned())?;
        if items.len() > MAX_RULES {
            return Err(format!("more than {MAX_RULES} rules"));
        }
        let edge_routes = PathRules::parse(&format!("{auth_prefix}/*"))?;
        let mut rules = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let at = |problem: String| format!("rule {}: {problem}", i + 1);
            let rule = Rule::read(item).map_err(at)?;
            for (covering, what) in [(public, "PUBLIC_PATHS"), (&edge_routes, "AUTH_PREFIX")] {
                if rule.paths.first_covered_by(covering).is_some() {
                    return Err(at(format!(
                        "a path pattern lies wholly under {what}, so the rule never applies"
                    )));
                }
            }
            rules.push(rule);
        }
        Ok(Self { rules })
    }

    /// Whether there is no rule.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rule that decides `method` on `path` (the first that matches), with its position
    /// counted from 1.
    pub fn find(&self, method: &str, path: &str) -> Option<(usize, &Rule)> {
        self.rules
            .iter()
            .enumerate()
            .find(|(_, r)| r.applies(method, path))
            .map(|(i, r)| (i + 1, r))
    }

    /// Phase 3's route policy: the refusal when the rule deciding `method` on `path` refuses
    /// `claims` at `now` (seconds). Unmatched paths pass.
    pub fn check(
        &self,
        method: &str,
        path: &str,
        claims: &VerifiedClaims,
        now: i64,
    ) -> Result<(), Rejection> {
        match self.find(method, path) {
            Some((_, rule)) => rule.check(claims, now),
            None => Ok(()),
        }
    }
}

impl Rule {
    /// One rule object, validated. Unknown fields are refused: a misspelt requirement must
    /// not silently be no requirement. (Read from the parsed JSON value field by field rather
    /// than with a derived deserializer: the same checks for a fraction of the wasm.)
    fn read(item: &serde_json::Value) -> Result<Self, String> {
        let fields = item.as_object().ok_or(SHAPE)?;
        let mut rule = Self::default();
        let mut path = None;
        for (name, value) in fields {
            match name.as_str() {
                "path" => path = Some(value.as_str().ok_or(SHAPE)?),
                "methods" => rule.methods = Some(method_bits(&values("methods", value)?)?),
                "roles_any" => rule.roles_any = values("roles_any", value)?,
                "roles_all" => rule.roles_all = values("roles_all", value)?,
                "scopes" => rule.scopes = values("scopes", value)?,
                "amr" => rule.amr = values("amr", value)?,
                "max_age" => match value.as_i64().ok_or(SHAPE)? {
                    s @ 0..=MAX_AGE_SECS => rule.max_age = Some(s),
                    _ => return Err(format!("max_age must be between 0 and {MAX_AGE_SECS}")),
                },
                other => {
                    let shown: String = other.chars().take(40).collect();
                    return Err(format!("unknown field `{shown}`"));
                }
            }
        }
        let path = path.ok_or("missing field `path`")?;
        rule.paths = PathRules::parse(path).map_err(|e| format!("path: {e}"))?;
        if rule.paths.is_empty() {
            return Err("path: needs at least one pattern".into());
        }
        Ok(rule)
    }

    /// Whether the rule decides `method` on `path`. A rule for `GET` also decides `HEAD`
    /// (the same answer without its body).
    pub fn applies(&self, method: &str, path: &str) -> bool {
        let method_ok = self.methods.is_none_or(|bits| {
            let has = |m: &str| {
                route::METHODS
                    .iter()
                    .position(|x| *x == m)
                    .is_some_and(|i| bits & (1 << i) != 0)
            };
            has(method) || (method == "HEAD" && has("GET"))
        });
        method_ok && self.paths.matches(path)
    }

    /// Whether meeting the rule can take a new authentication (it names `amr` or `max_age`).
    pub fn needs_step_up(&self) -> bool {
        !self.amr.is_empty() || self.max_age.is_some()
    }

    /// The rule against `claims` at `now`: roles, then scopes, then the methods, then the age.
    pub fn check(&self, claims: &VerifiedClaims, now: i64) -> Result<(), Rejection> {
        let has_role = |r: &String| claims.roles.contains(r);
        if (!self.roles_any.is_empty() && !self.roles_any.iter().any(has_role))
            || !self.roles_all.iter().all(has_role)
        {
            return Err(self.refusal(PolicyRefusal::Role));
        }
        let granted = claims.scope.as_deref().unwrap_or_default();
        if !self
            .scopes
            .iter()
            .all(|s| granted.split(' ').any(|g| g == s))
        {
            return Err(self.refusal(PolicyRefusal::Scope));
        }
        if !self.amr.is_empty() && !self.amr.iter().any(|m| claims.amr.contains(m)) {
            return Err(self.refusal(PolicyRefusal::Amr));
        }
        if let Some(max_age) = self.max_age {
            // An authentication cannot follow the token's issue: such an `auth_time` is no
            // usable authentication time, like none.
            match claims.auth_time.filter(|t| *t <= claims.iat) {
                None => return Err(self.refusal(PolicyRefusal::NoAuthTime)),
                Some(t) if now.saturating_sub(t) > max_age => {
                    return Err(self.refusal(PolicyRefusal::TooOld))
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// The refusal with its challenge's parameters: the scopes for a 403, the whole step-up
    /// requirement for a 401.
    fn refusal(&self, why: PolicyRefusal) -> Rejection {
        let mut r = Rejection::new(Reason::Policy(why));
        if !why.step_up() {
            if !self.scopes.is_empty() {
                r = r.with_challenge_param("scope", &self.scopes.join(" "));
            }
            return r;
        }
        if !self.amr.is_empty() {
            r = r.with_challenge_param("acr_values", &self.amr.join(" "));
        }
        if let Some(age) = self.max_age {
            r = r.with_challenge_param("max_age", &age.to_string());
        }
        r
    }
}

/// A list of a rule: not empty, at most [`MAX_VALUES`] values, each a non-empty token of at
/// most [`MAX_VALUE_BYTES`] visible ASCII characters without `"`, `\` or `,` (RFC 6749's
/// scope-token characters less the comma, so a value can be quoted in a challenge and joined
/// in an `X-Auth-*` header as it is).
fn values(name: &'static str, value: &serde_json::Value) -> Result<Vec<String>, String> {
    let list = value.as_array().ok_or(SHAPE)?;
    if list.is_empty() || list.len() > MAX_VALUES {
        return Err(format!("{name} needs 1 to {MAX_VALUES} values"));
    }
    let mut out = Vec::with_capacity(list.len());
    for v in list {
        let v = v.as_str().ok_or(SHAPE)?;
        let token = !v.is_empty()
            && v.len() <= MAX_VALUE_BYTES
            && v.bytes()
                .all(|b| (0x21..0x7f).contains(&b) && !matches!(b, b'"' | b'\\' | b','));
        if !token {
            return Err(format!(
                "{name}: each value is 1 to {MAX_VALUE_BYTES} visible ASCII characters without \" \\ or ,"
            ));
        }
        out.push(v.to_owned());
    }
    Ok(out)
}

/// The complaint about a method ([`route::METHODS`] spelt out; a test keeps them equal).
const METHODS_PROBLEM: &str = "methods: each is one of GET HEAD POST PUT PATCH DELETE OPTIONS";

fn method_bits(list: &[String]) -> Result<u8, String> {
    let mut bits = 0u8;
    for m in list {
        let i = route::METHODS
            .iter()
            .position(|x| x == m)
            .ok_or(METHODS_PROBLEM)?;
        bits |= 1 << i;
    }
    Ok(bits)
}

/// Where a browser navigation that needs a step-up goes: `step_up_path` with the path and
/// query it asked for in [`RETURN_PARAM`], form-encoded. The return path is left out unless
/// it is a plain local path ([`route::is_local_path`]: no `//`, no `\`, visible ASCII only),
/// so the page can never be made to send the user to another site, and when the `Location`
/// would be longer than [`MAX_LOCATION_BYTES`].
pub fn step_up_location(step_up_path: &str, return_to: Option<&str>) -> String {
    let Some(back) = return_to.filter(|p| route::is_local_path(p)) else {
        return step_up_path.to_owned();
    };
    // The parameter joins the page's query, before any fragment it has.
    let (page, fragment) = match step_up_path.split_once('#') {
        Some((page, fragment)) => (page, Some(fragment)),
        None => (step_up_path, None),
    };
    let sep = if page.contains('?') { '&' } else { '?' };
    let encoded: String = url::form_urlencoded::byte_serialize(back.as_bytes()).collect();
    let mut location = format!("{page}{sep}{RETURN_PARAM}={encoded}");
    if let Some(fragment) = fragment {
        location.push('#');
        location.push_str(fragment);
    }
    if location.len() > MAX_LOCATION_BYTES {
        step_up_path.to_owned()
    } else {
        location
    }
}

#[cfg(test)]
mod tests;
