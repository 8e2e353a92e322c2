//! Configuration: one typed struct, read from `baton.toml`, then `BATON_*` environment
//! variables, then command-line flags (each later source wins). Validated once at start, with
//! errors that name the key.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use baton_store::Durability;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where the embedded default keeps its data.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://baton-data/baton.db";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// Everything Baton can be configured with. `docs/CONFIGURATION.md` documents every key.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub identity: IdentityConfig,
    pub knowledge: KnowledgeConfig,
    pub responder: baton_ai::ResponderConfig,
    pub policy: PolicyConfig,
    pub handoff: HandoffConfig,
    pub log: LogConfig,
    /// Set by `baton demo` only, never read from a file or the environment: the customer the
    /// demo host product signs in (see [`DemoHost`]).
    #[serde(skip)]
    pub demo: Option<DemoHost>,
}

/// The demo host product's signed-in customer. With it, `/demo` embeds the widget with an
/// identity token for this customer, signed with `identity.secret`, unless the page is opened
/// with `?as=visitor`. A real deployment has none: Baton never signs identities for a host.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoHost {
    /// The identity token's claims without `exp` (`sub`, `name`, `email`, `account`).
    pub claims: serde_json::Value,
}

/// `[handoff]`: the timers of the transfer to a person. Durations in milliseconds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HandoffConfig {
    /// An offer not accepted within this goes to the next agent.
    pub offer_timeout_ms: u64,
    /// An online or away agent without a heartbeat for this long goes offline.
    pub presence_timeout_ms: u64,
    /// An agent offline this long gives their conversations back to the queue.
    pub offline_grace_ms: u64,
    /// A handoff waiting this long moves to its team's overflow team (0: never).
    pub overflow_after_ms: u64,
    /// Above this estimated wait, the customer is told the team is busy instead of promised
    /// a time (0: no limit).
    pub max_wait_ms: u64,
    /// How long an agent who declined a handoff or let its offer lapse is not offered it
    /// again (a cool-down, not for good).
    pub decline_cooldown_ms: u64,
    /// An agent who lets this many offers lapse in a row is set away (0: never).
    pub missed_offers_before_away: u32,
    /// A handoff nobody took within this long (per team: `wait_target_minutes` in the
    /// policy) rises one priority level and alerts the supervisors, again each time it waits
    /// as long once more (0: never).
    pub wait_target_ms: u64,
    /// How long a conversation typically takes a person, for wait estimates while a team
    /// has handled too few conversations to know its own (0: no estimate then).
    pub typical_handle_ms: u64,
    /// How often the timers are checked.
    pub tick_ms: u64,
    /// A conversation the AI handled closes as resolved after this long without a customer
    /// message (0: never).
    pub ai_quiet_resolve_ms: u64,
}

impl Default for HandoffConfig {
    fn default() -> Self {
        HandoffConfig {
            offer_timeout_ms: 30_000,
            presence_timeout_ms: 60_000,
            offline_grace_ms: 120_000,
            overflow_after_ms: 600_000,
            max_wait_ms: 1_800_000,
            decline_cooldown_ms: 60_000,
            missed_offers_before_away: 3,
            wait_target_ms: 300_000,
            typical_handle_ms: 600_000,
            tick_ms: 1000,
            ai_quiet_resolve_ms: 1_800_000,
        }
    }
}

impl HandoffConfig {
    /// The timer durations.
    pub fn timers(&self) -> baton_core::handoff::timers::TimerSettings {
        use std::time::Duration;
        baton_core::handoff::timers::TimerSettings {
            offer_timeout: Duration::from_millis(self.offer_timeout_ms),
            presence_timeout: Duration::from_millis(self.presence_timeout_ms),
            offline_grace: Duration::from_millis(self.offline_grace_ms),
            overflow_after: (self.overflow_after_ms > 0)
                .then(|| Duration::from_millis(self.overflow_after_ms)),
        }
    }
}

/// `[policy]`: the escalation policy file, followed while the server runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyConfig {
    /// The policy file (TOML, see docs/POLICY.md); none: the built-in policy.
    pub path: Option<std::path::PathBuf>,
    /// Milliseconds between checks of the file for changes (0: never reload).
    pub reload_ms: u64,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            path: None,
            reload_ms: 1000,
        }
    }
}

/// `[knowledge]`: how the knowledge base is indexed and followed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KnowledgeConfig {
    /// Stemming and stop words: `english`, `french`, `german`, `spanish`, `portuguese`, ...
    pub language: String,
    /// Seconds between checks for knowledge-base changes made elsewhere (another process,
    /// `baton kb import`).
    pub refresh_secs: u64,
    /// `[knowledge.embeddings]`: optional dense retrieval.
    pub embeddings: EmbeddingsConfig,
}

impl Default for KnowledgeConfig {
    fn default() -> Self {
        KnowledgeConfig {
            language: "english".to_string(),
            refresh_secs: 5,
            embeddings: EmbeddingsConfig::default(),
        }
    }
}

/// Where sentence embeddings come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmbeddingsKind {
    /// No embeddings: lexical retrieval only (the default).
    #[default]
    None,
    /// An OpenAI-compatible `/v1/embeddings` endpoint.
    Openai,
    /// A sentence-embedding model folder run in-process (needs the `local-embeddings`
    /// build feature).
    Local,
}

/// `[knowledge.embeddings]`: dense retrieval fused with the lexical ranking.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmbeddingsConfig {
    /// `none`, `openai` or `local`.
    pub kind: EmbeddingsKind,
    /// `openai`: the API root, e.g. `https://api.openai.com/v1` or `http://localhost:11434/v1`.
    pub base_url: String,
    /// `openai`: the embedding model's name.
    pub model: String,
    /// `openai`: the environment variable holding the API key, if the endpoint needs one.
    pub api_key_env: Option<String>,
    /// `openai`: milliseconds allowed per request.
    pub timeout_ms: u64,
    /// `openai`: further attempts after HTTP 429/5xx or a failed connection.
    pub retries: u32,
    /// `openai`: most texts per request.
    pub batch_size: usize,
    /// `local`: the folder with `config.json`, `model.safetensors` and `tokenizer.json`.
    pub model_dir: Option<String>,
}

impl Default for EmbeddingsConfig {
    fn default() -> Self {
        EmbeddingsConfig {
            kind: EmbeddingsKind::None,
            base_url: "https://api.openai.com/v1".to_string(),
            model: "text-embedding-3-small".to_string(),
            api_key_env: None,
            timeout_ms: 5_000,
            retries: 2,
            batch_size: 64,
            model_dir: None,
        }
    }
}

impl EmbeddingsConfig {
    /// Checks the keys the configured kind uses, without connecting or loading anything.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let key = |name: &str| format!("knowledge.embeddings.{name}");
        match self.kind {
            EmbeddingsKind::None => Ok(()),
            EmbeddingsKind::Openai => {
                if !(self.base_url.starts_with("http://") || self.base_url.starts_with("https://"))
                {
                    return Err(invalid(
                        &key("base_url"),
                        format!("{:?} is not an http:// or https:// URL", self.base_url),
                    ));
                }
                if self.model.trim().is_empty() {
                    return Err(invalid(&key("model"), "must name a model".to_string()));
                }
                if self.timeout_ms == 0 {
                    return Err(invalid(
                        &key("timeout_ms"),
                        "must be at least 1".to_string(),
                    ));
                }
                if self.batch_size == 0 {
                    return Err(invalid(
                        &key("batch_size"),
                        "must be at least 1".to_string(),
                    ));
                }
                if let Some(var) = &self.api_key_env
                    && std::env::var_os(var).is_none_or(|v| v.is_empty())
                {
                    return Err(invalid(
                        &key("api_key_env"),
                        format!("the environment variable {var} is not set"),
                    ));
                }
                Ok(())
            }
            EmbeddingsKind::Local => {
                if !cfg!(feature = "local-embeddings") {
                    return Err(invalid(
                        &key("kind"),
                        "\"local\" needs Baton built with the local-embeddings feature \
                         (cargo build --features local-embeddings); use \"openai\" or \"none\""
                            .to_string(),
                    ));
                }
                match &self.model_dir {
                    Some(dir) if Path::new(dir).is_dir() => Ok(()),
                    Some(dir) => Err(invalid(
                        &key("model_dir"),
                        format!("{dir:?} is not a folder"),
                    )),
                    None => Err(invalid(
                        &key("model_dir"),
                        "required with kind = \"local\"".to_string(),
                    )),
                }
            }
        }
    }

    /// The configured embedder: `None` for kind `none`. Loads the local model (seconds).
    pub fn embedder(&self) -> Result<Option<Arc<dyn baton_kb::Embedder>>, ConfigError> {
        self.validate()?;
        let key = |name: &str| format!("knowledge.embeddings.{name}");
        match self.kind {
            EmbeddingsKind::None => Ok(None),
            EmbeddingsKind::Openai => {
                let mut options = baton_kb::OpenAiOptions::new(&self.base_url, &self.model);
                options.api_key = self
                    .api_key_env
                    .as_ref()
                    .and_then(|var| std::env::var(var).ok());
                options.timeout = std::time::Duration::from_millis(self.timeout_ms);
                options.retries = self.retries;
                options.batch_size = self.batch_size;
                let client = baton_kb::OpenAiEmbeddings::new(options)
                    .map_err(|e| invalid(&key("base_url"), e.to_string()))?;
                Ok(Some(Arc::new(client)))
            }
            EmbeddingsKind::Local => self.local_embedder(),
        }
    }

    #[cfg(feature = "local-embeddings")]
    fn local_embedder(&self) -> Result<Option<Arc<dyn baton_kb::Embedder>>, ConfigError> {
        let dir = self.model_dir.as_deref().unwrap_or_default();
        let model = baton_kb::LocalEmbeddings::load(dir)
            .map_err(|e| invalid("knowledge.embeddings.model_dir", e.to_string()))?;
        Ok(Some(Arc::new(model)))
    }

    #[cfg(not(feature = "local-embeddings"))]
    fn local_embedder(&self) -> Result<Option<Arc<dyn baton_kb::Embedder>>, ConfigError> {
        // validate() has already refused this kind.
        Ok(None)
    }
}

impl KnowledgeConfig {
    /// The index options this configuration names.
    pub fn index_options(&self) -> Result<baton_kb::IndexOptions, ConfigError> {
        let language =
            baton_kb::Language::from_name(&self.language).ok_or_else(|| ConfigError::Invalid {
                key: "knowledge.language".to_string(),
                message: format!("{:?} is not a supported language", self.language),
            })?;
        Ok(baton_kb::IndexOptions {
            language,
            ..Default::default()
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to listen on; port 0 picks a free port.
    pub listen: String,
    /// Origins allowed to call the API from a browser (the host product's domains), e.g.
    /// `https://app.example.com`; `*` allows any origin.
    pub cors_origins: Vec<String>,
    /// Longest customer message, in Unicode scalar values.
    pub max_message_chars: usize,
    /// Seconds between WebSocket pings.
    pub stream_ping_secs: u64,
    /// Seconds to let in-flight requests finish after SIGTERM or Ctrl-C.
    pub shutdown_grace_secs: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: DEFAULT_LISTEN.to_string(),
            cors_origins: Vec::new(),
            max_message_chars: baton_core::DEFAULT_MAX_MESSAGE_CHARS,
            stream_ping_secs: 30,
            shutdown_grace_secs: 20,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://PATH` (relative to the working directory) or `postgres://...`.
    pub url: String,
    /// `process` (survives a crash of Baton) or `fsync` (survives power loss).
    pub durability: Durability,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: DEFAULT_DATABASE_URL.to_string(),
            durability: Durability::Process,
        }
    }
}

/// Verification of the host product's signed identity tokens (HS256 JWT).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IdentityConfig {
    /// The shared secret the host product signs identity tokens with. Without it, identity
    /// tokens are refused and every customer is an anonymous visitor.
    pub secret: Option<String>,
    /// The secret being rotated out; accepted until `previous_secret_valid_until`.
    pub previous_secret: Option<String>,
    /// End of the grace period for `previous_secret` (RFC 3339).
    pub previous_secret_valid_until: Option<DateTime<Utc>>,
    /// Clock skew tolerated on `exp`, in seconds.
    pub leeway_secs: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    #[default]
    Human,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    pub format: LogFormat,
    /// A `tracing` filter such as `info` or `baton_server=debug,info`.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Human,
            level: "info".to_string(),
        }
    }
}

/// A configuration problem, naming the key (or variable) and what is wrong with it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    #[error("{var}: {message}")]
    Env { var: String, message: String },
    #[error("{key}: {message}")]
    Invalid { key: String, message: String },
    #[error("{0}")]
    Responder(String),
}

/// Environment variables that override keys, as (variable, key).
pub const ENV_OVERRIDES: &[(&str, &str)] = &[
    ("BATON_LISTEN", "server.listen"),
    ("BATON_CORS_ORIGINS", "server.cors_origins"),
    ("BATON_MAX_MESSAGE_CHARS", "server.max_message_chars"),
    ("BATON_DATABASE_URL", "database.url"),
    ("BATON_DURABILITY", "database.durability"),
    ("BATON_IDENTITY_SECRET", "identity.secret"),
    ("BATON_IDENTITY_PREVIOUS_SECRET", "identity.previous_secret"),
    (
        "BATON_IDENTITY_PREVIOUS_SECRET_VALID_UNTIL",
        "identity.previous_secret_valid_until",
    ),
    ("BATON_POLICY", "policy.path"),
    ("BATON_LOG_FORMAT", "log.format"),
    ("BATON_LOG", "log.level"),
];

impl Config {
    /// Reads the file at `path` (when given), then applies environment overrides read through
    /// `env`, then validates. Without a file every key has its default.
    pub fn load(
        path: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let mut config = match path {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.display().to_string(),
                    source,
                })?;
                Config::from_toml(&text, &path.display().to_string())?
            }
            None => Config::default(),
        };
        config.apply_env(env)?;
        config.validate()?;
        Ok(config)
    }

    /// Parses TOML text; `origin` names the file in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Config, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: origin.to_string(),
            message: describe_toml_error(text, &e),
        })
    }

    fn apply_env(&mut self, env: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        for (var, _) in ENV_OVERRIDES {
            let Some(value) = env(var) else { continue };
            let bad = |message: String| ConfigError::Env {
                var: var.to_string(),
                message,
            };
            match *var {
                "BATON_LISTEN" => self.server.listen = value,
                "BATON_CORS_ORIGINS" => {
                    self.server.cors_origins = value
                        .split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(String::from)
                        .collect()
                }
                "BATON_MAX_MESSAGE_CHARS" => {
                    self.server.max_message_chars = value
                        .parse()
                        .map_err(|_| bad(format!("expected a positive number, got {value:?}")))?
                }
                "BATON_DATABASE_URL" => self.database.url = value,
                "BATON_DURABILITY" => {
                    self.database.durability = match value.as_str() {
                        "process" => Durability::Process,
                        "fsync" => Durability::Fsync,
                        _ => return Err(bad(format!("expected process or fsync, got {value:?}"))),
                    }
                }
                "BATON_IDENTITY_SECRET" => self.identity.secret = Some(value),
                "BATON_IDENTITY_PREVIOUS_SECRET" => self.identity.previous_secret = Some(value),
                "BATON_IDENTITY_PREVIOUS_SECRET_VALID_UNTIL" => {
                    self.identity.previous_secret_valid_until =
                        Some(value.parse().map_err(|_| {
                            bad(format!("expected an RFC 3339 time, got {value:?}"))
                        })?)
                }
                "BATON_LOG_FORMAT" => {
                    self.log.format = match value.as_str() {
                        "human" => LogFormat::Human,
                        "json" => LogFormat::Json,
                        _ => return Err(bad(format!("expected human or json, got {value:?}"))),
                    }
                }
                "BATON_LOG" => self.log.level = value,
                "BATON_POLICY" => self.policy.path = Some(value.into()),
                _ => {}
            }
        }
        Ok(())
    }

    /// Checks values that parse but cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: String| ConfigError::Invalid {
            key: key.to_string(),
            message,
        };
        self.listen_addr()?;
        let url = &self.database.url;
        if !(url.starts_with("sqlite://")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            return Err(invalid(
                "database.url",
                format!("expected sqlite://PATH or postgres://..., got {url:?}"),
            ));
        }
        if url == "sqlite://" {
            return Err(invalid(
                "database.url",
                "sqlite:// needs a file path".to_string(),
            ));
        }
        if self.server.max_message_chars == 0 {
            return Err(invalid(
                "server.max_message_chars",
                "must be at least 1".to_string(),
            ));
        }
        for (key, value) in [
            ("handoff.offer_timeout_ms", self.handoff.offer_timeout_ms),
            (
                "handoff.presence_timeout_ms",
                self.handoff.presence_timeout_ms,
            ),
            ("handoff.tick_ms", self.handoff.tick_ms),
        ] {
            if value == 0 {
                return Err(invalid(key, "must be at least 1".to_string()));
            }
        }
        if self.server.stream_ping_secs == 0 {
            return Err(invalid(
                "server.stream_ping_secs",
                "must be at least 1".to_string(),
            ));
        }
        for origin in &self.server.cors_origins {
            if origin != "*" && !valid_origin(origin) {
                return Err(invalid(
                    "server.cors_origins",
                    format!("{origin:?} is not an origin like https://app.example.com"),
                ));
            }
        }
        for (key, secret) in [
            ("identity.secret", &self.identity.secret),
            ("identity.previous_secret", &self.identity.previous_secret),
        ] {
            if let Some(secret) = secret
                && secret.len() < 16
            {
                return Err(invalid(
                    key,
                    "must be at least 16 bytes long; use a random value".to_string(),
                ));
            }
        }
        if self.identity.previous_secret.is_some()
            && self.identity.previous_secret_valid_until.is_none()
        {
            return Err(invalid(
                "identity.previous_secret_valid_until",
                "required with identity.previous_secret: when does the grace period end?"
                    .to_string(),
            ));
        }
        self.knowledge.index_options()?;
        self.knowledge.embeddings.validate()?;
        if self.knowledge.refresh_secs == 0 {
            return Err(invalid(
                "knowledge.refresh_secs",
                "must be at least 1".to_string(),
            ));
        }
        self.responder
            .validate()
            .map_err(|e| ConfigError::Responder(e.to_string()))?;
        if tracing_level_is_bad(&self.log.level) {
            return Err(invalid(
                "log.level",
                format!("{:?} is not a tracing filter", self.log.level),
            ));
        }
        Ok(())
    }

    /// The socket address to bind.
    pub fn listen_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.server
            .listen
            .parse()
            .map_err(|_| ConfigError::Invalid {
                key: "server.listen".to_string(),
                message: format!(
                    "expected an address like 127.0.0.1:8080, got {:?}",
                    self.server.listen
                ),
            })
    }
}

/// A configuration error naming `key`.
fn invalid(key: &str, message: String) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        message,
    }
}

fn valid_origin(origin: &str) -> bool {
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    match rest {
        Some(host) => !host.is_empty() && !host.contains('/') && !host.contains(' '),
        None => false,
    }
}

fn tracing_level_is_bad(level: &str) -> bool {
    level.trim().is_empty()
}

/// Turns a TOML error into "line N: ..." so the message points at the offending key.
fn describe_toml_error(text: &str, error: &toml::de::Error) -> String {
    let message = error.message().trim().to_string();
    match error.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            let source_line = text.lines().nth(line - 1).unwrap_or("").trim();
            format!("line {line} ({source_line}): {message}")
        }
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn no_file_means_the_embedded_default() {
        let config = Config::load(None, no_env).unwrap();
        assert_eq!(config.server.listen, "127.0.0.1:8080");
        assert_eq!(config.database.url, "sqlite://baton-data/baton.db");
        assert_eq!(config.database.durability, Durability::Process);
    }

    #[test]
    fn unknown_key_is_an_error_naming_the_key_and_line() {
        let err = Config::from_toml(
            "[server]\nlisten = \"127.0.0.1:1\"\nlisen = 3\n",
            "baton.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("baton.toml"), "{err}");
        assert!(err.contains("line 3"), "{err}");
        assert!(err.contains("lisen"), "{err}");
    }

    #[test]
    fn bad_value_is_an_error_naming_the_key() {
        let err = Config::from_toml("[database]\ndurability = \"sometimes\"\n", "baton.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2"), "{err}");
        let mut config = Config::default();
        config.server.listen = "localhost".into();
        let err = config.validate().unwrap_err().to_string();
        assert!(err.starts_with("server.listen"), "{err}");
    }

    #[test]
    fn environment_overrides_the_file() {
        let env = |var: &str| match var {
            "BATON_LISTEN" => Some("127.0.0.1:0".to_string()),
            "BATON_DATABASE_URL" => Some("sqlite://x.db".to_string()),
            "BATON_CORS_ORIGINS" => Some("https://a.example, https://b.example".to_string()),
            _ => None,
        };
        let mut config = Config::from_toml("[server]\nlisten = \"127.0.0.1:9\"\n", "t").unwrap();
        config.apply_env(env).unwrap();
        assert_eq!(config.server.listen, "127.0.0.1:0");
        assert_eq!(config.database.url, "sqlite://x.db");
        assert_eq!(config.server.cors_origins.len(), 2);
    }

    #[test]
    fn bad_environment_value_names_the_variable() {
        let env = |var: &str| (var == "BATON_DURABILITY").then(|| "maybe".to_string());
        let err = Config::load(None, env).unwrap_err().to_string();
        assert!(err.starts_with("BATON_DURABILITY"), "{err}");
    }

    #[test]
    fn embeddings_are_off_by_default_and_their_keys_are_checked() {
        let config = Config::default();
        assert_eq!(config.knowledge.embeddings.kind, EmbeddingsKind::None);
        assert!(config.knowledge.embeddings.embedder().unwrap().is_none());

        let config = Config::from_toml(
            "[knowledge.embeddings]\nkind = \"openai\"\nbase_url = \"localhost:11434\"\n",
            "baton.toml",
        )
        .unwrap();
        let err = config.validate().unwrap_err().to_string();
        assert!(err.starts_with("knowledge.embeddings.base_url"), "{err}");

        let mut config = Config::default();
        config.knowledge.embeddings.kind = EmbeddingsKind::Openai;
        config.knowledge.embeddings.api_key_env = Some("BATON_TEST_SURELY_UNSET_KEY".into());
        let err = config.validate().unwrap_err().to_string();
        assert!(err.starts_with("knowledge.embeddings.api_key_env"), "{err}");
        assert!(err.contains("BATON_TEST_SURELY_UNSET_KEY"), "{err}");

        let err = Config::from_toml("[knowledge.embeddings]\nkind = \"magic\"\n", "baton.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn local_embeddings_need_the_feature_and_a_model_folder() {
        let mut config = Config::default();
        config.knowledge.embeddings.kind = EmbeddingsKind::Local;
        let err = config.validate().unwrap_err().to_string();
        if cfg!(feature = "local-embeddings") {
            assert!(err.starts_with("knowledge.embeddings.model_dir"), "{err}");
        } else {
            assert!(err.starts_with("knowledge.embeddings.kind"), "{err}");
            assert!(err.contains("local-embeddings"), "{err}");
        }
    }

    #[test]
    fn previous_secret_needs_an_end_to_its_grace_period() {
        let mut config = Config::default();
        config.identity.secret = Some("0123456789abcdef0123".into());
        config.identity.previous_secret = Some("fedcba9876543210fedc".into());
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("previous_secret_valid_until"), "{err}");
    }
}
