//! Who is calling: customers (by conversation token), staff (by API key) and the host
//! product's signed identity tokens.
//!
//! Conversation tokens are `ct_<conversation id>.<HMAC-SHA256 tag>` signed with a secret kept
//! in the database, so every Baton process sharing it accepts them without a lookup. Staff API
//! keys are 32 random bytes; only their SHA-256 is stored (they are high-entropy, so a slow
//! password hash would add cost without adding safety).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use baton_core::IdentityClaims;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::config::IdentityConfig;

type HmacSha256 = Hmac<Sha256>;

const CONVERSATION_TOKEN_PREFIX: &str = "ct_";
const STAFF_KEY_PREFIX: &str = "bk_";

/// Issues and checks conversation tokens.
#[derive(Clone)]
pub struct ConversationTokens {
    key: Vec<u8>,
}

impl ConversationTokens {
    pub fn new(secret: &str) -> Self {
        ConversationTokens {
            key: secret.as_bytes().to_vec(),
        }
    }

    fn tag(&self, conversation_id: &str) -> Vec<u8> {
        // A fixed-length key is always accepted by HMAC; new_from_slice cannot fail here.
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        mac.update(b"conversation:");
        mac.update(conversation_id.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// The token that opens `conversation_id` and nothing else.
    pub fn issue(&self, conversation_id: &str) -> String {
        format!(
            "{CONVERSATION_TOKEN_PREFIX}{conversation_id}.{}",
            URL_SAFE_NO_PAD.encode(self.tag(conversation_id))
        )
    }

    /// The conversation a token opens, if the token is genuine.
    pub fn verify(&self, token: &str) -> Option<String> {
        let rest = token.strip_prefix(CONVERSATION_TOKEN_PREFIX)?;
        let (id, tag) = rest.rsplit_once('.')?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(&self.key).ok()?;
        mac.update(b"conversation:");
        mac.update(id.as_bytes());
        mac.verify_slice(&tag).ok()?;
        Some(id.to_string())
    }
}

/// Whether a bearer credential looks like a conversation token (as opposed to a staff key).
pub fn is_conversation_token(token: &str) -> bool {
    token.starts_with(CONVERSATION_TOKEN_PREFIX)
}

/// A new random staff API key, to be shown once.
pub fn generate_staff_key() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{STAFF_KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// A random secret for signing conversation tokens.
pub fn generate_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What the database stores for a staff key.
pub fn hash_staff_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Why an identity token was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum IdentityError {
    #[error("identity tokens are not accepted: no identity secret is configured")]
    NotConfigured,
    #[error("the identity token has expired")]
    Expired,
    #[error("the identity token is not valid: {0}")]
    Invalid(String),
}

/// Verifies the host product's HS256 identity tokens, with an optional previous secret for
/// rotation.
#[derive(Clone)]
pub struct IdentityVerifier {
    current: Option<DecodingKey>,
    previous: Option<(DecodingKey, DateTime<Utc>)>,
    leeway: u64,
}

impl IdentityVerifier {
    pub fn new(config: &IdentityConfig) -> Self {
        IdentityVerifier {
            current: config
                .secret
                .as_deref()
                .map(|s| DecodingKey::from_secret(s.as_bytes())),
            previous: match (&config.previous_secret, config.previous_secret_valid_until) {
                (Some(s), Some(until)) => Some((DecodingKey::from_secret(s.as_bytes()), until)),
                _ => None,
            },
            leeway: config.leeway_secs,
        }
    }

    /// The verified claims. Only HS256 is accepted, so a token re-signed with `none` or an
    /// asymmetric algorithm is refused; `exp` is required.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<IdentityClaims, IdentityError> {
        let Some(current) = &self.current else {
            return Err(IdentityError::NotConfigured);
        };
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = self.leeway;
        validation.set_required_spec_claims(&["exp", "sub"]);
        match jsonwebtoken::decode::<IdentityClaims>(token, current, &validation) {
            Ok(data) => Ok(data.claims),
            Err(e) if matches!(e.kind(), jsonwebtoken::errors::ErrorKind::InvalidSignature) => {
                match &self.previous {
                    Some((previous, until)) if now <= *until => {
                        jsonwebtoken::decode::<IdentityClaims>(token, previous, &validation)
                            .map(|d| d.claims)
                            .map_err(classify)
                    }
                    _ => Err(classify(e)),
                }
            }
            Err(e) => Err(classify(e)),
        }
    }
}

fn classify(e: jsonwebtoken::errors::Error) -> IdentityError {
    use jsonwebtoken::errors::ErrorKind;
    match e.kind() {
        ErrorKind::ExpiredSignature => IdentityError::Expired,
        ErrorKind::InvalidSignature => IdentityError::Invalid("bad signature".to_string()),
        ErrorKind::InvalidAlgorithm => {
            IdentityError::Invalid("only HS256 tokens are accepted".to_string())
        }
        ErrorKind::MissingRequiredClaim(claim) => {
            IdentityError::Invalid(format!("the {claim} claim is required"))
        }
        other => IdentityError::Invalid(format!("{other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header, encode};

    const SECRET: &str = "host-product-secret-0123456789";

    fn sign(secret: &str, alg: Algorithm, exp: i64) -> String {
        let claims = serde_json::json!({
            "sub": "cus_1", "name": "Ada", "email": "ada@example.com", "exp": exp,
            "account": {"id": "acc_1", "name": "Acme", "tier": "enterprise",
                        "signup_at": "2026-01-02T00:00:00Z", "owner": "sam", "attrs": {"plan": "scale"}}
        });
        encode(
            &Header::new(alg),
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    }

    fn verifier(previous: Option<(&str, &str)>) -> IdentityVerifier {
        IdentityVerifier::new(&IdentityConfig {
            secret: Some(SECRET.into()),
            previous_secret: previous.map(|p| p.0.to_string()),
            previous_secret_valid_until: previous.map(|p| p.1.parse().unwrap()),
            leeway_secs: 0,
        })
    }

    fn now() -> DateTime<Utc> {
        Utc::now()
    }

    #[test]
    fn signed_token_carries_the_account_tier() {
        let token = sign(SECRET, Algorithm::HS256, now().timestamp() + 600);
        let claims = verifier(None).verify(&token, now()).unwrap();
        assert_eq!(claims.sub, "cus_1");
        let account = claims.account.unwrap();
        assert_eq!(account.tier.as_deref(), Some("enterprise"));
        assert_eq!(account.attrs["plan"], "scale");
    }

    #[test]
    fn expired_badly_signed_and_alg_swapped_tokens_are_refused() {
        let v = verifier(None);
        let expired = sign(SECRET, Algorithm::HS256, now().timestamp() - 600);
        assert_eq!(v.verify(&expired, now()), Err(IdentityError::Expired));
        let forged = sign(
            "someone-elses-secret-xyz",
            Algorithm::HS256,
            now().timestamp() + 600,
        );
        assert!(matches!(
            v.verify(&forged, now()),
            Err(IdentityError::Invalid(_))
        ));
        let swapped = sign(SECRET, Algorithm::HS512, now().timestamp() + 600);
        assert!(matches!(
            v.verify(&swapped, now()),
            Err(IdentityError::Invalid(_))
        ));
        // An unsigned token (alg "none") is refused too.
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD
            .encode(format!(r#"{{"sub":"x","exp":{}}}"#, now().timestamp() + 600).as_bytes());
        let none = format!("{header}.{payload}.");
        assert!(matches!(
            v.verify(&none, now()),
            Err(IdentityError::Invalid(_))
        ));
    }

    #[test]
    fn previous_secret_is_accepted_only_during_its_grace_period() {
        let old = "previous-secret-0123456789";
        let token = sign(old, Algorithm::HS256, now().timestamp() + 600);
        let during = verifier(Some((old, "2999-01-01T00:00:00Z")));
        assert!(during.verify(&token, now()).is_ok());
        let after = verifier(Some((old, "2001-01-01T00:00:00Z")));
        assert!(after.verify(&token, now()).is_err());
    }

    #[test]
    fn conversation_token_opens_only_its_conversation() {
        let tokens = ConversationTokens::new("server-secret");
        let token = tokens.issue("c1");
        assert_eq!(tokens.verify(&token).as_deref(), Some("c1"));
        let forged = token.replace("ct_c1.", "ct_c2.");
        assert_eq!(tokens.verify(&forged), None);
        assert_eq!(ConversationTokens::new("other").verify(&token), None);
        assert_eq!(tokens.verify("garbage"), None);
    }

    #[test]
    fn staff_keys_are_random_and_hashed() {
        let a = generate_staff_key();
        let b = generate_staff_key();
        assert_ne!(a, b);
        assert!(a.starts_with("bk_"));
        assert_eq!(hash_staff_key(&a).len(), 64);
        assert_ne!(hash_staff_key(&a), hash_staff_key(&b));
    }
}
