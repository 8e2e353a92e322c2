//! Customers and the accounts (companies) they belong to.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A company using the host product. Tier and signup date come only from a signed identity
/// token, so a customer cannot claim to be an enterprise account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Account {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    /// e.g. `free`, `pro`, `enterprise`, `vip`.
    #[serde(default)]
    pub tier: Option<String>,
    #[serde(default)]
    pub signup_at: Option<DateTime<Utc>>,
    /// The account's owner (customer success manager).
    #[serde(default)]
    pub owner: Option<String>,
    /// Free attributes from the host product (plan, seats, region, ...).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub attrs: serde_json::Map<String, serde_json::Value>,
}

/// The person chatting in the widget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Customer {
    /// Baton's own id for the customer.
    pub id: String,
    /// The host product's id for the customer (the identity token's `sub`); `None` for an
    /// anonymous visitor.
    #[serde(default)]
    pub external_id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub account_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl Customer {
    pub fn is_anonymous(&self) -> bool {
        self.external_id.is_none()
    }
}

/// The verified claims of a host product's identity token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdentityClaims {
    pub sub: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    pub exp: i64,
    #[serde(default)]
    pub account: Option<Account>,
}
