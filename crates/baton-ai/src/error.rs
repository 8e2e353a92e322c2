//! Errors of this crate: configuration problems found when a responder is built. Failures
//! while replying are not errors: they are recorded in the reply (see [`crate::Reply`]).

/// Why a responder could not be built.
#[derive(Debug, thiserror::Error)]
pub enum AiError {
    /// A configuration value is wrong; `key` is its full name (`responder.llm.base_url`).
    #[error("{key}: {message}")]
    Config {
        /// The configuration key.
        key: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// `responder.llm.api_key_env` names a variable that is not set (or is empty).
    #[error(
        "responder.llm.api_key_env: the environment variable {variable} is not set; export the API key in it, or remove api_key_env for servers that need none"
    )]
    MissingApiKey {
        /// The variable's name.
        variable: String,
    },
    /// The HTTP client could not be created.
    #[error("responder.llm: cannot create the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

impl AiError {
    pub(crate) fn config(key: &'static str, message: impl Into<String>) -> Self {
        Self::Config {
            key,
            message: message.into(),
        }
    }
}
