//! The escalation policy in force: read from its file at start, followed while the server
//! runs. A changed file that does not check out is rejected: the policy in force stays
//! active and the error is kept for `GET /v1/policy` and written to the log.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use baton_core::policy::{Policy, PolicyError};
use baton_core::signals::issue_type::LabelledText;
use baton_core::signals::{SignalEngine, Taxonomy};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// A policy file that cannot be read or used.
#[derive(Debug, thiserror::Error)]
pub enum PolicyFileError {
    #[error("cannot read the policy file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {error}")]
    Invalid { path: String, error: PolicyError },
    #[error("{path}: the policy's issue types cannot train the classifier: {message}")]
    Taxonomy { path: String, message: String },
}

impl PolicyFileError {
    /// The line of the file the problem is on, when known.
    pub fn line(&self) -> Option<usize> {
        match self {
            PolicyFileError::Invalid { error, .. } => error.line,
            _ => None,
        }
    }
}

/// A policy ready to decide, with the signal engine trained on its taxonomy.
pub struct Active {
    pub policy: Policy,
    pub engine: SignalEngine,
    /// Where it was read from (`None`: the built-in policy).
    pub source: Option<PathBuf>,
    pub loaded_at: DateTime<Utc>,
}

/// Why the last change to the file was rejected.
#[derive(Debug, Clone, Serialize)]
pub struct Rejected {
    pub message: String,
    pub line: Option<usize>,
    /// When the rejected version was seen.
    pub at: DateTime<Utc>,
}

struct Inner {
    active: Arc<Active>,
    /// Labelled examples the classifier learns from besides the taxonomy.
    examples: Arc<Vec<LabelledText>>,
    /// Hash of the file text last looked at (accepted or not), so a bad file is reported
    /// once, not at every check.
    seen_version: Option<String>,
    rejected: Option<Rejected>,
}

/// The policy in force, swapped atomically on reload.
pub struct ActivePolicy {
    inner: RwLock<Inner>,
}

/// Reads and checks a policy file, and trains the signal engine on its taxonomy and
/// `examples`.
pub fn load_file(
    path: &Path,
    examples: &[LabelledText],
    now: DateTime<Utc>,
) -> Result<Active, PolicyFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| PolicyFileError::Read {
        path: path.display().to_string(),
        source,
    })?;
    activate(&text, Some(path), examples, now)
}

fn activate(
    text: &str,
    path: Option<&Path>,
    examples: &[LabelledText],
    now: DateTime<Utc>,
) -> Result<Active, PolicyFileError> {
    let shown = path.map_or_else(|| "policy".to_string(), |p| p.display().to_string());
    let policy = Policy::parse(text).map_err(|error| PolicyFileError::Invalid {
        path: shown.clone(),
        error,
    })?;
    let engine = engine_for(&policy, examples).map_err(|e| PolicyFileError::Taxonomy {
        path: shown,
        message: e.to_string(),
    })?;
    Ok(Active {
        policy,
        engine,
        source: path.map(Path::to_path_buf),
        loaded_at: now,
    })
}

/// The signal engine a policy asks for: the built-in detectors, with the issue-type
/// classifier trained on the policy's taxonomy (its own or the built-in one) and on
/// `examples` whose label the taxonomy knows (the knowledge base's example questions).
pub fn engine_for(
    policy: &Policy,
    examples: &[LabelledText],
) -> Result<SignalEngine, baton_core::signals::SignalError> {
    engine_with_taxonomy(&policy.taxonomy(), examples)
}

/// The signal engine for `taxonomy`, also learning from `examples` whose label it knows.
pub fn engine_with_taxonomy(
    taxonomy: &Taxonomy,
    examples: &[LabelledText],
) -> Result<SignalEngine, baton_core::signals::SignalError> {
    let usable: Vec<LabelledText> = examples
        .iter()
        .filter(|e| taxonomy.position(&e.label).is_some())
        .cloned()
        .collect();
    SignalEngine::with_examples(taxonomy, &usable)
}

/// The example questions of articles that name an issue type, as labelled examples for the
/// issue-type classifier.
pub fn kb_examples<'a>(
    articles: impl IntoIterator<Item = &'a baton_kb::Article>,
) -> Vec<LabelledText> {
    articles
        .into_iter()
        .filter_map(|a| a.issue_type.as_deref().map(|t| (t, a)))
        .flat_map(|(label, a)| {
            a.questions.iter().map(move |q| LabelledText {
                label: label.to_string(),
                text: q.clone(),
            })
        })
        .collect()
}

impl ActivePolicy {
    /// Holds `active`; reloads train on `examples`.
    pub fn new(active: Active, examples: Vec<LabelledText>) -> Self {
        let seen_version = Some(active.policy.version.clone());
        ActivePolicy {
            inner: RwLock::new(Inner {
                examples: Arc::new(examples),
                active: Arc::new(active),
                seen_version,
                rejected: None,
            }),
        }
    }

    /// Loads the configured file, or the built-in policy when none is configured; the
    /// issue-type classifier also learns from `examples`. A bad file is an error (the server
    /// does not start on a policy it cannot read).
    pub fn load(
        path: Option<&Path>,
        examples: Vec<LabelledText>,
        now: DateTime<Utc>,
    ) -> Result<Self, PolicyFileError> {
        let active = match path {
            Some(path) => load_file(path, &examples, now)?,
            None => {
                let policy = Policy::builtin();
                let engine =
                    engine_for(&policy, &examples).map_err(|e| PolicyFileError::Taxonomy {
                        path: "built-in policy".into(),
                        message: e.to_string(),
                    })?;
                Active {
                    policy,
                    engine,
                    source: None,
                    loaded_at: now,
                }
            }
        };
        Ok(Self::new(active, examples))
    }

    /// The policy in force.
    pub fn current(&self) -> Arc<Active> {
        match self.inner.read() {
            Ok(g) => g.active.clone(),
            Err(p) => p.into_inner().active.clone(),
        }
    }

    /// Why the file's latest version was rejected, if it was.
    pub fn rejected(&self) -> Option<Rejected> {
        match self.inner.read() {
            Ok(g) => g.rejected.clone(),
            Err(p) => p.into_inner().rejected.clone(),
        }
    }

    /// Re-reads the file the policy came from; swaps it in when it changed and checks out,
    /// keeps the policy in force (and records why) when it does not. Returns whether a new
    /// policy is now active.
    pub fn reload(&self, now: DateTime<Utc>) -> bool {
        let Some(path) = self.current().source.clone() else {
            return false;
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) => {
                self.reject(
                    format!("unreadable: {e}"),
                    format!("cannot read the policy file {}: {e}", path.display()),
                    None,
                    now,
                );
                return false;
            }
        };
        let version = baton_core::policy::content_version(&text);
        let examples = {
            let guard = match self.inner.read() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            if guard.seen_version.as_deref() == Some(version.as_str()) {
                return false;
            }
            guard.examples.clone()
        };
        match activate(&text, Some(&path), &examples, now) {
            Ok(active) => {
                tracing::info!(
                    path = %path.display(),
                    version = %active.policy.version,
                    "policy file changed; the new policy is active"
                );
                let mut guard = match self.inner.write() {
                    Ok(g) => g,
                    Err(p) => p.into_inner(),
                };
                guard.seen_version = Some(version);
                guard.active = Arc::new(active);
                guard.rejected = None;
                true
            }
            Err(e) => {
                let line = e.line();
                self.reject(version, e.to_string(), line, now);
                false
            }
        }
    }

    fn reject(&self, version: String, message: String, line: Option<usize>, now: DateTime<Utc>) {
        let mut guard = match self.inner.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if guard.seen_version.as_deref() == Some(version.as_str()) {
            return;
        }
        tracing::warn!(
            error = %message,
            active = %guard.active.policy.version,
            "policy file rejected; the policy in force stays active"
        );
        guard.seen_version = Some(version);
        guard.rejected = Some(Rejected {
            message,
            line,
            at: now,
        });
    }

    /// Checks the file every `every` until `shutdown` flips.
    pub fn follow(
        self: Arc<Self>,
        every: Duration,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        let this = self.clone();
                        // File reads and classifier training are blocking work.
                        let _ = tokio::task::spawn_blocking(move || this.reload(Utc::now())).await;
                    }
                    _ = shutdown.changed() => {
                        if *shutdown.borrow() {
                            break;
                        }
                    }
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-12-01T10:00:00Z".parse().unwrap()
    }

    #[test]
    fn a_bad_change_keeps_the_policy_in_force_and_a_good_one_replaces_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("policy.toml");
        std::fs::write(&path, "[thresholds]\nconfidence = 0.4\n").unwrap();
        let active = ActivePolicy::load(Some(&path), Vec::new(), now()).unwrap();
        let first = active.current().policy.version.clone();
        assert!(!active.reload(now()), "nothing changed");

        std::fs::write(&path, "[thresholds]\nconfidence = 4\n").unwrap();
        assert!(!active.reload(now()));
        assert_eq!(active.current().policy.version, first);
        let rejected = active.rejected().unwrap();
        assert_eq!(rejected.line, Some(2));
        assert!(
            rejected.message.contains("between 0 and 1"),
            "{}",
            rejected.message
        );

        std::fs::write(&path, "[thresholds]\nconfidence = 0.5\n").unwrap();
        assert!(active.reload(now()));
        assert_ne!(active.current().policy.version, first);
        assert_eq!(active.current().policy.thresholds.confidence, 0.5);
        assert!(active.rejected().is_none());
    }

    #[test]
    fn a_bad_file_at_start_is_an_error_naming_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("policy.toml");
        std::fs::write(&path, "name = \"x\"\n[[routing]]\nteam = \"nobody\"\n").unwrap();
        let err = ActivePolicy::load(Some(&path), Vec::new(), now())
            .err()
            .unwrap();
        let text = err.to_string();
        assert!(text.contains("policy.toml"), "{text}");
        assert!(text.contains("line 3"), "{text}");
    }
}
