//! Citations: how a reply links to the knowledge-base article it is drawn from.
//!
//! A link comes from a template such as `/kb/{id}` (the default), made absolute with the
//! public base URL when one is configured, so the same setting works for the widget served by
//! Baton and for a company's own help centre (`https://help.example.com/articles/{id}`).

use crate::reply::ArticleRef;
use crate::responder::Candidate;

/// Builds article links from a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArticleLinks {
    template: String,
    base: Option<String>,
}

impl ArticleLinks {
    /// Links from `template` (`{id}` is replaced by the URL-encoded article id), relative to
    /// `base` unless the template is already absolute. An empty template means no links.
    ///
    /// ```
    /// use baton_ai::ArticleLinks;
    ///
    /// let links = ArticleLinks::new("/kb/{id}", Some("https://support.example.com/".into()));
    /// assert_eq!(
    ///     links.link("reset password").as_deref(),
    ///     Some("https://support.example.com/kb/reset%20password")
    /// );
    /// assert_eq!(ArticleLinks::new("/kb/{id}", None).link("sso").as_deref(), Some("/kb/sso"));
    /// assert_eq!(ArticleLinks::none().link("sso"), None);
    /// ```
    pub fn new(template: impl Into<String>, base: Option<String>) -> Self {
        Self {
            template: template.into(),
            base: base.filter(|b| !b.trim().is_empty()),
        }
    }

    /// No links: citations carry titles only.
    pub fn none() -> Self {
        Self::new("", None)
    }

    /// The link to the article `id`, if links are configured.
    pub fn link(&self, id: &str) -> Option<String> {
        let template = self.template.trim();
        if template.is_empty() {
            return None;
        }
        let path = template.replace("{id}", &encode_path_segment(id));
        if path.contains("://") {
            return Some(path);
        }
        match &self.base {
            None => Some(path),
            Some(base) => {
                let base = base.trim().trim_end_matches('/');
                let path = path.trim_start_matches('/');
                Some(format!("{base}/{path}"))
            }
        }
    }

    /// The citation of a retrieved article: its own link when it has one, else the templated
    /// link.
    pub fn cite(&self, candidate: &Candidate) -> ArticleRef {
        ArticleRef {
            id: candidate.id.clone(),
            title: candidate.title.clone(),
            url: candidate.url.clone().or_else(|| self.link(&candidate.id)),
        }
    }
}

impl Default for ArticleLinks {
    /// `/kb/{id}`, relative.
    fn default() -> Self {
        Self::new(DEFAULT_TEMPLATE, None)
    }
}

/// The default link template.
pub const DEFAULT_TEMPLATE: &str = "/kb/{id}";

/// Percent-encodes everything but RFC 3986 unreserved characters, so any article id makes a
/// valid path segment.
fn encode_path_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_templates_ignore_the_base() {
        let links = ArticleLinks::new(
            "https://help.example.com/a/{id}",
            Some("https://other".into()),
        );
        assert_eq!(
            links.link("x").as_deref(),
            Some("https://help.example.com/a/x")
        );
    }

    #[test]
    fn own_links_win_over_the_template() {
        let candidate = Candidate {
            id: "x".into(),
            title: "X".into(),
            body: String::new(),
            url: Some("https://docs.example.com/x".into()),
            score: 1.0,
        };
        assert_eq!(
            ArticleLinks::default().cite(&candidate).url.as_deref(),
            Some("https://docs.example.com/x")
        );
    }

    #[test]
    fn ids_are_percent_encoded() {
        assert_eq!(encode_path_segment("a/b é"), "a%2Fb%20%C3%A9");
    }
}
