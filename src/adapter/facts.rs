//! Reads a request into the core's [`Facts`]: the I/O half of phase 1.

use super::js::{self, Name};
use crate::config::EdgeConfig;
use crate::csrf;
use crate::gate::{self, Facts};

/// The request's method, URL and the headers the gate reads, owned for the request's life.
#[derive(Default)]
pub(super) struct Read {
    method: String,
    url: String,
    authorization: Option<String>,
    cookie: Option<String>,
    user_agent: Option<String>,
    connecting_ip: Option<String>,
    sec_fetch_site: Option<String>,
    sec_fetch_mode: Option<String>,
    origin: Option<String>,
    accept: Option<String>,
    content_type: Option<String>,
    upgrade: Option<String>,
}

impl Read {
    /// Everything the full path may decide on.
    pub(super) fn full(req: &web_sys::Request) -> Self {
        let headers = req.headers();
        let h = js::raw(&headers);
        Self {
            method: req.method(),
            url: req.url(),
            authorization: h.get(Name::Authorization),
            cookie: h.get(Name::Cookie),
            user_agent: h.get(Name::UserAgent),
            connecting_ip: h.get(Name::ConnectingIp),
            sec_fetch_site: h.get(Name::SecFetchSite),
            sec_fetch_mode: h.get(Name::SecFetchMode),
            origin: h.get(Name::Origin),
            accept: h.get(Name::Accept),
            content_type: h.get(Name::ContentType),
            upgrade: h.get(Name::Upgrade),
        }
    }

    /// Only what the fast path's decisions read (each header is a runtime call): the
    /// credentials, the client properties the session cookie binds to, and the CSRF headers
    /// of an unsafe request. It never refuses, so the navigation headers are not read; nor is
    /// `Upgrade`: a request that carries one is left to the full path
    /// ([`super::upstream::prepare`] gives up on it), so a WebSocket handshake never costs the
    /// warm path a header read.
    pub(super) fn fast(req: &web_sys::Request, config: &EdgeConfig, method: String) -> Self {
        let headers = req.headers();
        let h = js::raw(&headers);
        let (user_agent, ip) = gate::client_headers_needed(config);
        let unsafe_method = !csrf::is_safe_method(&method);
        Self {
            url: req.url(),
            authorization: h.get(Name::Authorization),
            cookie: h.get(Name::Cookie),
            user_agent: user_agent.then(|| h.get(Name::UserAgent)).flatten(),
            connecting_ip: ip.then(|| h.get(Name::ConnectingIp)).flatten(),
            sec_fetch_site: unsafe_method.then(|| h.get(Name::SecFetchSite)).flatten(),
            origin: unsafe_method.then(|| h.get(Name::Origin)).flatten(),
            method,
            ..Self::default()
        }
    }

    /// The facts, borrowed.
    pub(super) fn facts(&self) -> Facts<'_> {
        Facts {
            method: &self.method,
            url: &self.url,
            authorization: self.authorization.as_deref(),
            cookie: self.cookie.as_deref(),
            user_agent: self.user_agent.as_deref(),
            connecting_ip: self.connecting_ip.as_deref(),
            sec_fetch_site: self.sec_fetch_site.as_deref(),
            sec_fetch_mode: self.sec_fetch_mode.as_deref(),
            origin: self.origin.as_deref(),
            accept: self.accept.as_deref(),
            content_type: self.content_type.as_deref(),
            upgrade: self.upgrade.as_deref(),
        }
    }
}
