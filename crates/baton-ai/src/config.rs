//! The `[responder]` configuration and the constructor that turns it into a responder.
//!
//! ```toml
//! [responder]
//! kind = "llm"                      # "builtin" (default) or "llm"
//! article_link = "/kb/{id}"         # citation links; "" for none
//! public_url = "https://support.example.com"
//!
//! [responder.builtin]
//! no_answer_below = 0.35
//! clarify_margin = 0.2
//!
//! [responder.llm]
//! base_url = "http://127.0.0.1:11434/v1"
//! model = "llama3.1:8b"
//! api_key_env = "OPENAI_API_KEY"
//! on_failure = "fallback"           # or "escalate"
//! ```

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::builtin::BuiltinResponder;
use crate::citation::{ArticleLinks, DEFAULT_TEMPLATE};
use crate::error::AiError;
use crate::llm::LlmResponder;
use crate::responder::Responder;

/// Which responder writes the AI's replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResponderKind {
    /// The built-in retrieval responder: no network, no API key.
    #[default]
    Builtin,
    /// An OpenAI-compatible chat-completions model, given the retrieved articles.
    Llm,
}

/// `[responder]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResponderConfig {
    /// Which responder to use.
    pub kind: ResponderKind,
    /// Template of the link cited with an answer; `{id}` is the article id. Empty for no
    /// links.
    pub article_link: String,
    /// Base URL that relative article links are resolved against (for example the public
    /// address of this Baton server or of the company's help centre).
    pub public_url: Option<String>,
    /// `[responder.builtin]`: the built-in responder, also the LLM responder's fallback.
    pub builtin: BuiltinConfig,
    /// `[responder.llm]`: required when `kind = "llm"`.
    pub llm: Option<LlmConfig>,
}

impl Default for ResponderConfig {
    fn default() -> Self {
        Self {
            kind: ResponderKind::Builtin,
            article_link: DEFAULT_TEMPLATE.to_string(),
            public_url: None,
            builtin: BuiltinConfig::default(),
            llm: None,
        }
    }
}

impl ResponderConfig {
    /// The citation links this configuration describes.
    pub fn links(&self) -> ArticleLinks {
        ArticleLinks::new(self.article_link.clone(), self.public_url.clone())
    }

    /// Checks every value, naming the offending key. Does not look at the environment.
    pub fn validate(&self) -> Result<(), AiError> {
        self.builtin.validate()?;
        if let Some(url) = &self.public_url
            && !url.trim().is_empty()
            && !is_http_url(url)
        {
            return Err(AiError::config(
                "responder.public_url",
                format!("{url:?} is not an http(s) URL"),
            ));
        }
        match (&self.llm, self.kind) {
            (Some(llm), _) => llm.validate(),
            (None, ResponderKind::Llm) => Err(AiError::config(
                "responder.llm",
                "kind = \"llm\" needs a [responder.llm] section with base_url and model",
            )),
            (None, ResponderKind::Builtin) => Ok(()),
        }
    }
}

/// `[responder.builtin]`: when the built-in responder answers, asks which article is meant,
/// or says it has no answer, and how long its passages are.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BuiltinConfig {
    /// Below this retrieval confidence (0..1) it says honestly that it has no answer rather
    /// than serve a likely wrong article. Escalating is the policy's decision, not this.
    pub no_answer_below: f64,
    /// When the second article's ranking score is within this fraction of the first's
    /// (0.2 = within 20 %), the two are too close to pick one: ask which is meant. On a
    /// typical knowledge base a clear question's runner-up scores at most about half the
    /// winner's, while a vague one ("billing") has several articles within 20 %.
    pub clarify_margin: f64,
    /// Only ask which article is meant when the confidence is below this; above it the top
    /// article is taken as right however close the runner-up scores. The default, 1, asks
    /// whenever the scores are close: a vague question can still get a high confidence.
    pub clarify_below: f64,
    /// Most sentences in an answer passage (a list of steps is served whole).
    pub max_sentences: usize,
    /// Most characters in an answer passage (a list of steps may take twice as many).
    pub max_chars: usize,
}

impl Default for BuiltinConfig {
    fn default() -> Self {
        Self {
            no_answer_below: 0.3,
            clarify_margin: 0.2,
            clarify_below: 1.0,
            max_sentences: 3,
            max_chars: 480,
        }
    }
}

impl BuiltinConfig {
    fn validate(&self) -> Result<(), AiError> {
        unit_interval("responder.builtin.no_answer_below", self.no_answer_below)?;
        unit_interval("responder.builtin.clarify_margin", self.clarify_margin)?;
        unit_interval("responder.builtin.clarify_below", self.clarify_below)?;
        if self.max_sentences == 0 {
            return Err(AiError::config(
                "responder.builtin.max_sentences",
                "must be at least 1",
            ));
        }
        if self.max_chars < 40 {
            return Err(AiError::config(
                "responder.builtin.max_chars",
                "must be at least 40",
            ));
        }
        Ok(())
    }
}

/// What the LLM responder does when the model cannot be used (timeout, HTTP error, invalid
/// JSON, empty answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnFailure {
    /// Reply with the built-in responder instead; the failure is noted in the reasoning and
    /// does not escalate by itself.
    #[default]
    Fallback,
    /// Reply with `ai_error` set, so the policy hands the conversation to a human.
    Escalate,
}

/// `[responder.llm]`: an OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, Ollama,
/// llama.cpp server).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LlmConfig {
    /// The API base, up to and including the version: requests go to
    /// `{base_url}/chat/completions` (e.g. `https://api.openai.com/v1`).
    pub base_url: String,
    /// The model name sent with each request.
    pub model: String,
    /// Name of the environment variable holding the API key, sent as
    /// `Authorization: Bearer`. Unset for local servers that need no key.
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// Time allowed for one attempt, in milliseconds.
    #[serde(default = "defaults::timeout_ms")]
    pub timeout_ms: u64,
    /// Further attempts after a timeout, a connection failure, HTTP 429 or a 5xx.
    #[serde(default = "defaults::max_retries")]
    pub max_retries: u32,
    /// Wait before the first retry, in milliseconds; doubled for each further one (a
    /// `Retry-After` header, capped, wins when longer).
    #[serde(default = "defaults::retry_backoff_ms")]
    pub retry_backoff_ms: u64,
    /// Sampling temperature, 0..2; low keeps answers close to the articles.
    #[serde(default = "defaults::temperature")]
    pub temperature: f32,
    /// Upper bound on the reply's tokens, if the server should enforce one.
    #[serde(default)]
    pub max_tokens: Option<u32>,
    /// Fall back to the built-in responder or escalate when the model fails.
    #[serde(default)]
    pub on_failure: OnFailure,
    /// How many retrieved articles are given to the model.
    #[serde(default = "defaults::max_articles")]
    pub max_articles: usize,
    /// How many earlier conversation turns are given to the model.
    #[serde(default = "defaults::history_turns")]
    pub history_turns: usize,
    /// Ask for `response_format: {"type": "json_object"}`. Turn off for servers that reject
    /// the field; the reply is still parsed as JSON.
    #[serde(default = "defaults::json_mode")]
    pub json_mode: bool,
}

impl LlmConfig {
    /// A configuration for `model` at `base_url` with every other option at its default.
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            model: model.into(),
            api_key_env: None,
            timeout_ms: defaults::timeout_ms(),
            max_retries: defaults::max_retries(),
            retry_backoff_ms: defaults::retry_backoff_ms(),
            temperature: defaults::temperature(),
            max_tokens: None,
            on_failure: OnFailure::default(),
            max_articles: defaults::max_articles(),
            history_turns: defaults::history_turns(),
            json_mode: defaults::json_mode(),
        }
    }

    /// Checks every value, naming the offending key. Does not look at the environment.
    pub fn validate(&self) -> Result<(), AiError> {
        if !is_http_url(&self.base_url) {
            return Err(AiError::config(
                "responder.llm.base_url",
                format!("{:?} is not an http(s) URL", self.base_url),
            ));
        }
        if self.model.trim().is_empty() {
            return Err(AiError::config("responder.llm.model", "must not be empty"));
        }
        if self.timeout_ms == 0 {
            return Err(AiError::config(
                "responder.llm.timeout_ms",
                "must be greater than 0",
            ));
        }
        if !(0.0..=2.0).contains(&self.temperature) {
            return Err(AiError::config(
                "responder.llm.temperature",
                format!("{} is outside 0..2", self.temperature),
            ));
        }
        if self.max_articles == 0 {
            return Err(AiError::config(
                "responder.llm.max_articles",
                "must be at least 1",
            ));
        }
        if let Some(name) = &self.api_key_env
            && name.trim().is_empty()
        {
            return Err(AiError::config(
                "responder.llm.api_key_env",
                "must name an environment variable (or be left out)",
            ));
        }
        Ok(())
    }

    /// The API key from the environment variable named by `api_key_env`, if one is named.
    pub fn api_key_from_env(&self) -> Result<Option<String>, AiError> {
        let Some(name) = self.api_key_env.as_deref() else {
            return Ok(None);
        };
        match std::env::var(name) {
            Ok(key) if !key.trim().is_empty() => Ok(Some(key.trim().to_string())),
            _ => Err(AiError::MissingApiKey {
                variable: name.to_string(),
            }),
        }
    }
}

mod defaults {
    pub fn timeout_ms() -> u64 {
        20_000
    }
    pub fn max_retries() -> u32 {
        2
    }
    pub fn retry_backoff_ms() -> u64 {
        500
    }
    pub fn temperature() -> f32 {
        0.2
    }
    pub fn max_articles() -> usize {
        3
    }
    pub fn history_turns() -> usize {
        10
    }
    pub fn json_mode() -> bool {
        true
    }
}

fn unit_interval(key: &'static str, value: f64) -> Result<(), AiError> {
    if (0.0..=1.0).contains(&value) {
        Ok(())
    } else {
        Err(AiError::config(key, format!("{value} is outside 0..1")))
    }
}

fn is_http_url(text: &str) -> bool {
    reqwest::Url::parse(text.trim())
        .is_ok_and(|url| matches!(url.scheme(), "http" | "https") && url.has_host())
}

/// The responder `config` describes, validated; for `kind = "llm"` the API key is read from
/// the environment now, so a missing key stops start-up with an error naming the variable.
///
/// ```
/// use baton_ai::{ResponderConfig, build_responder};
///
/// let responder = build_responder(&ResponderConfig::default()).unwrap();
/// assert_eq!(responder.name(), "builtin");
/// ```
pub fn build_responder(config: &ResponderConfig) -> Result<Arc<dyn Responder>, AiError> {
    config.validate()?;
    let builtin = BuiltinResponder::new(config.builtin, config.links());
    match (config.kind, &config.llm) {
        (ResponderKind::Builtin, _) => Ok(Arc::new(builtin)),
        (ResponderKind::Llm, Some(llm)) => {
            let api_key = llm.api_key_from_env()?;
            Ok(Arc::new(LlmResponder::new(
                llm.clone(),
                api_key,
                builtin,
                config.links(),
            )?))
        }
        (ResponderKind::Llm, None) => Err(AiError::config(
            "responder.llm",
            "kind = \"llm\" needs a [responder.llm] section",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ResponderConfig, toml::de::Error> {
        #[derive(Deserialize)]
        struct File {
            responder: ResponderConfig,
        }
        toml::from_str::<File>(text).map(|f| f.responder)
    }

    #[test]
    fn an_empty_section_is_the_builtin_default() {
        let config = parse("[responder]\n").unwrap();
        assert_eq!(config, ResponderConfig::default());
        assert!(config.validate().is_ok());
    }

    #[test]
    fn an_llm_section_fills_in_defaults() {
        let config = parse(
            r#"
            [responder]
            kind = "llm"
            [responder.llm]
            base_url = "http://127.0.0.1:11434/v1"
            model = "llama3.1:8b"
            on_failure = "escalate"
            "#,
        )
        .unwrap();
        let llm = config.llm.clone().unwrap();
        assert_eq!(llm.on_failure, OnFailure::Escalate);
        assert_eq!(llm.timeout_ms, 20_000);
        assert!(config.validate().is_ok());
    }

    #[test]
    fn unknown_keys_are_refused() {
        let error = parse("[responder]\nknd = \"llm\"\n").unwrap_err();
        assert!(error.to_string().contains("knd"), "{error}");
        let error = parse("[responder.llm]\nbase_url = \"http://x\"\nmodel = \"m\"\ntimeout = 3\n")
            .unwrap_err();
        assert!(error.to_string().contains("timeout"), "{error}");
    }

    #[test]
    fn llm_kind_without_its_section_names_the_key() {
        let config = ResponderConfig {
            kind: ResponderKind::Llm,
            ..ResponderConfig::default()
        };
        let error = build_responder(&config).err().unwrap();
        assert!(error.to_string().starts_with("responder.llm:"), "{error}");
    }

    #[test]
    fn a_missing_api_key_variable_is_named() {
        let mut llm = LlmConfig::new("http://127.0.0.1:9/v1", "m");
        llm.api_key_env = Some("BATON_TEST_SURELY_UNSET_KEY_VARIABLE".into());
        let config = ResponderConfig {
            kind: ResponderKind::Llm,
            llm: Some(llm),
            ..ResponderConfig::default()
        };
        let error = build_responder(&config).err().unwrap();
        assert!(
            error
                .to_string()
                .contains("BATON_TEST_SURELY_UNSET_KEY_VARIABLE"),
            "{error}"
        );
    }

    #[test]
    fn bad_values_name_their_key() {
        let mut config = ResponderConfig::default();
        config.builtin.no_answer_below = 1.5;
        assert!(
            config
                .validate()
                .unwrap_err()
                .to_string()
                .starts_with("responder.builtin.no_answer_below")
        );
        let config = ResponderConfig {
            llm: Some(LlmConfig::new("not a url", "m")),
            ..ResponderConfig::default()
        };
        assert!(
            config
                .validate()
                .unwrap_err()
                .to_string()
                .starts_with("responder.llm.base_url")
        );
    }

    #[test]
    fn an_llm_without_a_key_variable_builds() {
        let config = ResponderConfig {
            kind: ResponderKind::Llm,
            llm: Some(LlmConfig::new("http://127.0.0.1:9/v1", "m")),
            ..ResponderConfig::default()
        };
        assert_eq!(build_responder(&config).unwrap().name(), "llm");
    }
}
