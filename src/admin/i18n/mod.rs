//! The admin UI's two languages: which one a request gets (`?lang=`, the
//! `parvis_lang` cookie, `Accept-Language`, English by default), the text
//! catalogues ([`en`], [`fr`]) and their lookup. Figures and dates in the
//! chosen language are in [`format`]. Pure, but for the middleware
//! [`choose`], which only reads and writes headers.
//!
//! Why a plain table and not `fluent`: the texts are a few hundred short
//! strings with named `{placeholders}` and no plural rules we could not
//! write out, the build is offline, and a `const` table is checked by the
//! compiler and by the tests below (same keys, same placeholders in both).

mod en;
pub mod format;
mod fr;
mod messages;
mod msg_fr;

use std::collections::HashMap;
use std::sync::OnceLock;

use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

use super::html::esc;

/// The language cookie (a preference, not a credential).
pub const LANG_COOKIE: &str = "parvis_lang";

/// A language of the admin UI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// English (the default).
    #[default]
    En,
    /// French.
    Fr,
}

impl Lang {
    /// `en` or `fr` (the `lang` attribute, the cookie's value).
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Fr => "fr",
        }
    }

    /// `en`/`fr` and their regional forms (`fr-CH`), any case.
    pub fn parse(s: &str) -> Option<Lang> {
        let s = s.trim().to_ascii_lowercase();
        let base = s.split(['-', '_']).next().unwrap_or("");
        match base {
            "en" => Some(Lang::En),
            "fr" => Some(Lang::Fr),
            _ => None,
        }
    }

    /// The other language (the header's switch).
    pub fn other(self) -> Lang {
        match self {
            Lang::En => Lang::Fr,
            Lang::Fr => Lang::En,
        }
    }

    fn table(self) -> &'static HashMap<&'static str, &'static str> {
        static EN: OnceLock<HashMap<&str, &str>> = OnceLock::new();
        static FR: OnceLock<HashMap<&str, &str>> = OnceLock::new();
        match self {
            Lang::En => EN.get_or_init(|| en::TEXTS.iter().copied().collect()),
            Lang::Fr => FR.get_or_init(|| fr::TEXTS.iter().copied().collect()),
        }
    }

    /// The text of `key` (plain text, not escaped). A missing key shows
    /// as itself; the tests make sure none is missing.
    pub fn t(self, key: &'static str) -> &'static str {
        self.table().get(key).copied().unwrap_or(key)
    }

    /// The text of `key`, HTML-escaped, with each `{name}` replaced by its
    /// value (HTML already: escape text with [`esc`] first). One pass, so
    /// a value holding `{other}` (say, an error quoting input) stays as is.
    pub fn f(self, key: &'static str, args: &[(&str, &str)]) -> String {
        let text = esc(self.t(key));
        let mut out = String::with_capacity(text.len() * 2);
        let mut rest = text.as_str();
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            let name = after.find('}').map(|close| &after[..close]);
            match name.and_then(|n| args.iter().find(|(k, _)| *k == n)) {
                Some((n, value)) => {
                    out.push_str(value);
                    rest = &after[n.len() + 1..];
                }
                None => {
                    out.push('{');
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        out
    }

    /// [`Lang::t`], HTML-escaped.
    pub fn h(self, key: &'static str) -> String {
        esc(self.t(key))
    }

    /// The texts that `app.js` uses (keys `js.*`), as a JSON object.
    pub fn script_texts(self) -> String {
        let map: serde_json::Map<String, serde_json::Value> = en::TEXTS
            .iter()
            .filter(|(k, _)| k.starts_with("js."))
            .map(|(k, _)| (k.to_string(), self.t(k).into()))
            .collect();
        // Inside <script type="application/json">: `<` must not close it.
        serde_json::Value::Object(map)
            .to_string()
            .replace('<', "\\u003c")
    }
}

/// Fills every `{{t:key}}` of a template with that key's escaped text.
pub fn translate(template: &str, lang: Lang) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{t:") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 4..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let key = &after[..end];
        match lang.table().get(key) {
            Some(text) => out.push_str(&esc(text)),
            None => out.push_str(key),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// The language `Accept-Language` prefers among ours (highest `q`, then
/// first listed); `None` when it names neither.
pub fn negotiate(accept: &str) -> Option<Lang> {
    let mut best: Option<(Lang, f32)> = None;
    for part in accept.split(',') {
        let mut fields = part.split(';');
        let Some(lang) = fields.next().and_then(Lang::parse) else {
            continue;
        };
        let q = fields
            .filter_map(|f| f.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if q > 0.0 && best.is_none_or(|(_, bq)| q > bq) {
            best = Some((lang, q));
        }
    }
    best.map(|(l, _)| l)
}

/// The `lang` query parameter, when it names one of ours.
fn asked(query: Option<&str>) -> Option<Lang> {
    query?
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == "lang")
        .and_then(|(_, v)| Lang::parse(v))
}

/// The language for a request: `?lang=`, else the cookie, else
/// `Accept-Language`, else English.
pub fn pick(query: Option<&str>, headers: &HeaderMap) -> (Lang, bool) {
    if let Some(l) = asked(query) {
        return (l, true);
    }
    let cookie = super::guard::cookie(headers, LANG_COOKIE).and_then(|v| Lang::parse(&v));
    let accept = || {
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .and_then(negotiate)
    };
    (cookie.or_else(accept).unwrap_or_default(), false)
}

/// Middleware: puts the request's [`Lang`] in its extensions; a `?lang=`
/// switch is remembered in a cookie. The cookie holds only `en` or `fr`:
/// it grants nothing, so the session and CSRF rules are untouched (it is
/// `Secure`, `SameSite=Strict` and `HttpOnly` like the others).
pub async fn choose(mut req: Request, next: Next) -> Response {
    let (lang, switched) = pick(req.uri().query(), req.headers());
    req.extensions_mut().insert(lang);
    let mut resp = next.run(req).await;
    if switched {
        let cookie = format!(
            "{LANG_COOKIE}={}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=31536000",
            lang.code()
        );
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    resp
}

#[cfg(test)]
mod messages_tests;
#[cfg(test)]
mod tests;
