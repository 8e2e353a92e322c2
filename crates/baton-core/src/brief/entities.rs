//! Entities an agent would otherwise have to dig out of the transcript: invoice and order
//! numbers, amounts with their currency, dates, email addresses and error codes.
//!
//! Each pattern is a regular expression with a normaliser, so "invoice #4411" and "Invoice
//! 4411" are one entity, and "$1,200.00" reads as `USD 1200.00`. Patterns are tried in a
//! fixed order and a span of text belongs to the first pattern that claims it (the `2024` in
//! `INV-2024-0012` is not a year).

use std::sync::LazyLock;

use chrono::NaiveDate;
use regex::{Captures, Regex};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What kind of thing an entity is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    /// An invoice number (`INV-2024-0012`, "invoice #4411").
    Invoice,
    /// An order or purchase-order number (`ORD-5531`, "order #A-1234").
    Order,
    /// An amount of money with its currency (`$1,200.00`, "49 EUR", `€49`).
    Amount,
    /// A calendar date (`2026-03-02`, "March 2", `03/02/2026`).
    Date,
    /// An email address.
    Email,
    /// An error code (`E1234`, `ERR_SSO_401`, "HTTP 500", `0x80070005`).
    ErrorCode,
}

impl EntityKind {
    /// The name used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Invoice => "invoice",
            EntityKind::Order => "order",
            EntityKind::Amount => "amount",
            EntityKind::Date => "date",
            EntityKind::Email => "email",
            EntityKind::ErrorCode => "error_code",
        }
    }

    /// A short label for people ("invoice", "error code").
    pub fn label(self) -> &'static str {
        match self {
            EntityKind::ErrorCode => "error code",
            other => other.as_str(),
        }
    }
}

/// One entity found in the conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Entity {
    pub kind: EntityKind,
    /// The normalised value: `INV-2024-0012`, `4411`, `USD 1200.00`, `2026-03-02` (or
    /// `--03-02` when the customer gave no year), `dana@example.com`, `HTTP 500`.
    pub value: String,
    /// The text it was read from, as written.
    pub text: String,
    /// The `seq` of the event it was first seen in (a message or a page event).
    pub seq: i64,
}

/// Turns a match into a normalised value; `None` rejects the match (an impossible date).
type Normalise = fn(&Captures<'_>) -> Option<String>;

struct Pattern {
    kind: EntityKind,
    regex: Regex,
    normalise: Normalise,
}

/// The patterns, in the order they claim text. Emails first (they contain dots and digits),
/// then identifiers (which contain dates and numbers), then amounts and dates.
const PATTERNS: &[(EntityKind, &str, Normalise)] = &[
    (
        EntityKind::Email,
        r"(?i)\b[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}\b",
        |c| Some(c[0].to_lowercase()),
    ),
    (
        EntityKind::Invoice,
        r"(?i)\b(INV[-_]?[A-Z0-9]*\d[A-Z0-9]*(?:[-_][A-Z0-9]+)*)\b",
        |c| Some(c[1].to_uppercase()),
    ),
    (
        EntityKind::Invoice,
        r"(?i)\binvoices?\s*(?:number|num\.?|no\.?|id)?\s*[:#]?\s*#?\s*([A-Z]{0,4}-?\d[A-Z0-9-]+[A-Z0-9])\b",
        |c| Some(c[1].to_uppercase()),
    ),
    (
        EntityKind::Order,
        r"(?i)\b((?:ORD|PO)[-_]?\d[A-Z0-9]*(?:[-_][A-Z0-9]+)*)\b",
        |c| Some(c[1].to_uppercase()),
    ),
    (
        EntityKind::Order,
        r"(?i)\b(?:purchase\s+)?orders?\s*(?:number|num\.?|no\.?|id)?\s*[:#]?\s*#?\s*([A-Z]{0,4}-?\d[A-Z0-9-]+[A-Z0-9])\b",
        |c| Some(c[1].to_uppercase()),
    ),
    (EntityKind::ErrorCode, r"\b0x[0-9A-Fa-f]{4,8}\b", |c| {
        Some(format!("0x{}", c[0][2..].to_uppercase()))
    }),
    (
        EntityKind::ErrorCode,
        r"(?i)\b(?:HTTP|status(?:\s+code)?|error(?:\s+code)?)[\s:]*([1-5]\d{2})\b",
        |c| Some(format!("HTTP {}", &c[1])),
    ),
    (
        EntityKind::ErrorCode,
        r"(?i)\b([45]\d{2})\s+(?:error|internal server error|bad request|forbidden|unauthorized|not found)\b",
        |c| Some(format!("HTTP {}", &c[1])),
    ),
    (
        EntityKind::ErrorCode,
        r"\b((?:ERR|ERROR|E)_[A-Z0-9]+(?:_[A-Z0-9]+)*|[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*_(?:ERROR|FAILED|FAILURE|INVALID|DENIED|EXPIRED|TIMEOUT|NOT_FOUND))\b",
        |c| Some(c[1].to_string()),
    ),
    (EntityKind::ErrorCode, r"\b([A-Z]{1,3}\d{3,5})\b", |c| {
        Some(c[1].to_string())
    }),
    (
        EntityKind::ErrorCode,
        r"(?i)\berror\s+(?:code\s*)?[:#]?\s*([A-Z0-9][A-Z0-9_-]*\d[A-Z0-9_-]*)\b",
        |c| Some(c[1].to_uppercase()),
    ),
    (
        EntityKind::Amount,
        r"([$€£¥])\s?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?\b",
        |c| amount(symbol_currency(&c[1])?, &c[2], c.get(3).map(|m| m.as_str())),
    ),
    (
        EntityKind::Amount,
        r"(?i)\b(USD|EUR|GBP|CAD|AUD|CHF|JPY)\s?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?\b",
        |c| amount(&c[1].to_uppercase(), &c[2], c.get(3).map(|m| m.as_str())),
    ),
    (
        EntityKind::Amount,
        r"(?i)\b(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?\s?(?:(USD|EUR|GBP|CAD|AUD|CHF|JPY|dollars?|euros?|pounds?)\b|(€))",
        |c| {
            let unit = c.get(3).or_else(|| c.get(4))?.as_str().to_lowercase();
            let currency = match unit.as_str() {
                "dollar" | "dollars" => "USD".to_string(),
                "euro" | "euros" | "€" => "EUR".to_string(),
                "pound" | "pounds" => "GBP".to_string(),
                code => code.to_uppercase(),
            };
            amount(&currency, &c[1], c.get(2).map(|m| m.as_str()))
        },
    ),
    (EntityKind::Date, r"\b(\d{4})-(\d{2})-(\d{2})\b", |c| {
        iso_date(num(&c[1])?, num(&c[2])?, num(&c[3])?)
    }),
    (EntityKind::Date, r"\b(\d{1,2})/(\d{1,2})/(\d{4})\b", |c| {
        let (a, b, year) = (num(&c[1])?, num(&c[2])?, num(&c[3])?);
        // Month first, as most B2B products write it, unless that is impossible.
        if a > 12 {
            iso_date(year, b, a)
        } else {
            iso_date(year, a, b)
        }
    }),
    (
        EntityKind::Date,
        r"(?i)\b(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|jun(?:e)?|jul(?:y)?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?\s+(\d{1,2})(?:st|nd|rd|th)?\b(?:,?\s+(\d{4})\b)?",
        |c| month_day(&c[1], &c[2], c.get(3).map(|m| m.as_str())),
    ),
    (
        EntityKind::Date,
        r"(?i)\b(\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|jun(?:e)?|jul(?:y)?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\b(?:,?\s+(\d{4})\b)?",
        |c| month_day(&c[2], &c[1], c.get(3).map(|m| m.as_str())),
    ),
];

static COMPILED: LazyLock<Vec<Pattern>> = LazyLock::new(|| {
    PATTERNS
        .iter()
        // The patterns are constants checked by a test; a bad one is left out, not fatal.
        .filter_map(|(kind, source, normalise)| {
            Regex::new(source).ok().map(|regex| Pattern {
                kind: *kind,
                regex,
                normalise: *normalise,
            })
        })
        .collect()
});

fn num(s: &str) -> Option<u32> {
    s.parse().ok()
}

fn symbol_currency(symbol: &str) -> Option<&'static str> {
    match symbol {
        "$" => Some("USD"),
        "€" => Some("EUR"),
        "£" => Some("GBP"),
        "¥" => Some("JPY"),
        _ => None,
    }
}

/// `USD 1200.00`: the currency code, the whole part without separators, two decimals.
fn amount(currency: &str, whole: &str, cents: Option<&str>) -> Option<String> {
    let whole: String = whole.chars().filter(char::is_ascii_digit).collect();
    let whole: u64 = whole.parse().ok()?;
    let cents = match cents {
        Some(c) if c.len() == 1 => num(c)? * 10,
        Some(c) => num(c)?,
        None => 0,
    };
    Some(format!("{currency} {whole}.{cents:02}"))
}

fn iso_date(year: u32, month: u32, day: u32) -> Option<String> {
    let date = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
    Some(date.format("%Y-%m-%d").to_string())
}

fn month_day(month: &str, day: &str, year: Option<&str>) -> Option<String> {
    let month = match month.get(..3)?.to_lowercase().as_str() {
        "jan" => 1,
        "feb" => 2,
        "mar" => 3,
        "apr" => 4,
        "may" => 5,
        "jun" => 6,
        "jul" => 7,
        "aug" => 8,
        "sep" => 9,
        "oct" => 10,
        "nov" => 11,
        "dec" => 12,
        _ => return None,
    };
    let day = num(day)?;
    match year {
        Some(y) => iso_date(num(y)?, month, day),
        None => {
            // A leap year accepts every real month and day.
            iso_date(2000, month, day)?;
            Some(format!("--{month:02}-{day:02}"))
        }
    }
}

/// Collects entities from texts, deduplicated by kind and value, first sighting kept.
#[derive(Debug, Default)]
pub struct EntityCollector {
    /// Each entity with the byte offset it was found at, to list them in reading order.
    found: Vec<(Entity, usize)>,
}

impl EntityCollector {
    /// Reads one text (a message, or a page event's label and detail) seen at `seq`.
    pub fn read(&mut self, text: &str, seq: i64) {
        let mut claimed: Vec<(usize, usize)> = Vec::new();
        for pattern in COMPILED.iter() {
            for caps in pattern.regex.captures_iter(text) {
                let Some(whole) = caps.get(0) else { continue };
                let (start, end) = (whole.start(), whole.end());
                if claimed.iter().any(|&(s, e)| start < e && s < end) {
                    continue;
                }
                let Some(value) = (pattern.normalise)(&caps) else {
                    continue;
                };
                claimed.push((start, end));
                if self
                    .found
                    .iter()
                    .any(|(e, _)| e.kind == pattern.kind && e.value == value)
                {
                    continue;
                }
                let entity = Entity {
                    kind: pattern.kind,
                    value,
                    text: whole.as_str().trim().to_string(),
                    seq,
                };
                self.found.push((entity, start));
            }
        }
    }

    /// The entities, in the order they were first seen in the conversation.
    pub fn finish(mut self) -> Vec<Entity> {
        self.found.sort_by_key(|(e, offset)| (e.seq, *offset));
        self.found.into_iter().map(|(e, _)| e).collect()
    }
}

/// The entities of one text on its own.
pub fn extract(text: &str) -> Vec<Entity> {
    let mut collector = EntityCollector::default();
    collector.read(text, 0);
    collector.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(text: &str) -> Vec<(EntityKind, String)> {
        extract(text)
            .into_iter()
            .map(|e| (e.kind, e.value))
            .collect()
    }

    #[test]
    fn every_pattern_compiles() {
        assert_eq!(COMPILED.len(), PATTERNS.len());
    }

    #[test]
    fn invoice_numbers_in_both_spellings() {
        assert_eq!(
            values("I was billed on INV-2024-0012 and again on invoice #4411."),
            vec![
                (EntityKind::Invoice, "INV-2024-0012".into()),
                (EntityKind::Invoice, "4411".into()),
            ]
        );
        assert_eq!(
            values("Invoice number 4411 is wrong"),
            vec![(EntityKind::Invoice, "4411".into())]
        );
    }

    #[test]
    fn the_year_inside_an_invoice_number_is_not_a_date() {
        let found = values("see INV-2026-03-02 please");
        assert_eq!(found, vec![(EntityKind::Invoice, "INV-2026-03-02".into())]);
    }

    #[test]
    fn amounts_carry_their_currency() {
        assert_eq!(
            values("You charged $1,200.00 instead of 49 EUR, and €49 again, plus USD 15.5"),
            vec![
                (EntityKind::Amount, "USD 1200.00".into()),
                (EntityKind::Amount, "EUR 49.00".into()),
                (EntityKind::Amount, "USD 15.50".into()),
            ]
        );
        // A bare number is not money.
        assert!(values("we have 45 seats").is_empty());
    }

    #[test]
    fn dates_in_three_spellings_are_one_date() {
        assert_eq!(
            values("On 2026-03-02 (March 2, 2026, or 03/02/2026 if you like)"),
            vec![(EntityKind::Date, "2026-03-02".into())]
        );
        assert_eq!(
            values("it renewed on March 2nd"),
            vec![(EntityKind::Date, "--03-02".into())]
        );
        assert_eq!(
            values("since 14/02/2026"),
            vec![(EntityKind::Date, "2026-02-14".into())]
        );
        assert!(values("on 2026-02-30").is_empty(), "no such day");
    }

    #[test]
    fn error_codes_in_the_shapes_products_print() {
        assert_eq!(
            values("Got E1234, then ERR_SSO_401, then HTTP 500 and 0x80070005"),
            vec![
                (EntityKind::ErrorCode, "E1234".into()),
                (EntityKind::ErrorCode, "ERR_SSO_401".into()),
                (EntityKind::ErrorCode, "HTTP 500".into()),
                (EntityKind::ErrorCode, "0x80070005".into()),
            ]
        );
        assert_eq!(
            values("the page says 403 Forbidden, error code: SAML-77"),
            vec![
                (EntityKind::ErrorCode, "HTTP 403".into()),
                (EntityKind::ErrorCode, "SAML-77".into()),
            ]
        );
    }

    #[test]
    fn emails_and_orders() {
        assert_eq!(
            values("Send it to Dana.Reyes@Acme.io about order #A-1234 and PO-7781"),
            vec![
                (EntityKind::Email, "dana.reyes@acme.io".into()),
                (EntityKind::Order, "A-1234".into()),
                (EntityKind::Order, "PO-7781".into()),
            ]
        );
    }

    #[test]
    fn duplicates_keep_the_first_sighting() {
        let mut collector = EntityCollector::default();
        collector.read("invoice #4411 is wrong", 3);
        collector.read("Invoice 4411, again", 5);
        let found = collector.finish();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].seq, 3);
        assert_eq!(found[0].text, "invoice #4411");
    }
}
