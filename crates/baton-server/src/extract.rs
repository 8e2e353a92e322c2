//! Request extractors: JSON and query parameters with API-shaped errors, and the caller's
//! credentials.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use baton_core::{Staff, StaffRole};
use serde::de::DeserializeOwned;

use crate::auth::{hash_staff_key, is_conversation_token};
use crate::error::ApiError;
use crate::state::SharedState;

/// `axum::Json` whose rejections are [`ApiError`]s.
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let axum::Json(value) = axum::Json::<T>::from_request(req, state).await?;
        Ok(Json(value))
    }
}

/// `axum::extract::Query` whose rejections are [`ApiError`]s.
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Query(value) =
            axum::extract::Query::<T>::from_request_parts(parts, state).await?;
        Ok(Query(value))
    }
}

/// The bearer credential of a request, from `Authorization: Bearer ...`, or from `?token=`
/// on WebSocket upgrades (browsers cannot set headers there).
pub fn bearer(parts: &Parts, allow_query: bool) -> Option<String> {
    if let Some(value) = parts.headers.get(AUTHORIZATION) {
        let value = value.to_str().ok()?;
        let (scheme, token) = value.split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim().to_string());
    }
    if allow_query {
        let query = parts.uri.query()?;
        return query.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            (k == "token").then(|| percent_decode(v))
        });
    }
    None
}

fn percent_decode(s: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let decoded = match bytes[i] {
            b'%' if i + 2 < bytes.len() => hex(bytes[i + 1]).zip(hex(bytes[i + 2])),
            _ => None,
        };
        match (decoded, bytes[i]) {
            (Some((hi, lo)), _) => {
                out.push(hi << 4 | lo);
                i += 3;
            }
            (None, b'+') => {
                out.push(b' ');
                i += 1;
            }
            (None, b) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A customer holding a conversation token; `conversation_id` is the only conversation it
/// opens.
pub struct CustomerAuth {
    pub conversation_id: String,
}

impl CustomerAuth {
    /// Checks the token against the conversation in the path. A token for another
    /// conversation gets 404, so it reveals nothing about which ids exist.
    pub fn require(&self, conversation_id: &str) -> Result<(), ApiError> {
        if self.conversation_id == conversation_id {
            Ok(())
        } else {
            Err(ApiError::conversation_not_found())
        }
    }
}

fn customer_from_parts(
    parts: &Parts,
    state: &SharedState,
    allow_query: bool,
) -> Result<CustomerAuth, ApiError> {
    let token = bearer(parts, allow_query).ok_or_else(|| {
        ApiError::unauthorized("send the conversation token as Authorization: Bearer TOKEN")
    })?;
    let conversation_id = state
        .tokens
        .verify(&token)
        .ok_or_else(|| ApiError::unauthorized("the conversation token is not valid"))?;
    Ok(CustomerAuth { conversation_id })
}

impl FromRequestParts<SharedState> for CustomerAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &SharedState,
    ) -> Result<Self, Self::Rejection> {
        customer_from_parts(parts, state, false)
    }
}

/// A customer on a WebSocket upgrade, where the token may come as `?token=`.
pub struct StreamCustomerAuth(pub CustomerAuth);

impl FromRequestParts<SharedState> for StreamCustomerAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &SharedState,
    ) -> Result<Self, Self::Rejection> {
        customer_from_parts(parts, state, true).map(StreamCustomerAuth)
    }
}

async fn staff_from_parts(
    parts: &Parts,
    state: &SharedState,
    allow_query: bool,
) -> Result<Staff, ApiError> {
    let key = bearer(parts, allow_query)
        .ok_or_else(|| ApiError::unauthorized("send your API key as Authorization: Bearer KEY"))?;
    if is_conversation_token(&key) {
        return Err(ApiError::unauthorized(
            "a conversation token cannot be used on staff routes",
        ));
    }
    let staff = state
        .store
        .staff_by_key_hash(&hash_staff_key(&key))
        .await?
        .ok_or_else(|| ApiError::unauthorized("the API key is not valid"))?;
    if staff.disabled {
        return Err(ApiError::unauthorized("this API key's account is disabled"));
    }
    Ok(staff)
}

/// An agent or admin with a valid, enabled API key.
pub struct StaffAuth(pub Staff);

impl FromRequestParts<SharedState> for StaffAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &SharedState,
    ) -> Result<Self, Self::Rejection> {
        staff_from_parts(parts, state, false).await.map(StaffAuth)
    }
}

/// Staff on a WebSocket upgrade, where the key may come as `?token=`.
pub struct StreamStaffAuth(pub Staff);

impl FromRequestParts<SharedState> for StreamStaffAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &SharedState,
    ) -> Result<Self, Self::Rejection> {
        staff_from_parts(parts, state, true)
            .await
            .map(StreamStaffAuth)
    }
}

/// The hash of the bearer credential (header or `?token=`), for streams that check the key
/// again while they stay open. Never rejects: the auth extractors do that.
pub struct StaffKeyHash(pub String);

impl<S: Send + Sync> FromRequestParts<S> for StaffKeyHash {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(StaffKeyHash(
            bearer(parts, true)
                .map(|key| hash_staff_key(&key))
                .unwrap_or_default(),
        ))
    }
}

/// An admin with a valid, enabled API key; agents get 403.
pub struct AdminAuth(pub Staff);

impl FromRequestParts<SharedState> for AdminAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &SharedState,
    ) -> Result<Self, Self::Rejection> {
        let staff = staff_from_parts(parts, state, false).await?;
        if staff.role != StaffRole::Admin {
            return Err(ApiError::forbidden("this route needs an admin API key"));
        }
        Ok(AdminAuth(staff))
    }
}

#[cfg(test)]
mod tests {
    use super::percent_decode;

    #[test]
    fn query_tokens_are_percent_decoded() {
        assert_eq!(percent_decode("ct_a.b%2Dc"), "ct_a.b-c");
        assert_eq!(percent_decode("abc%"), "abc%");
        assert_eq!(percent_decode("a%zz"), "a%zz");
    }
}
