//! Personal-data redaction: emails, phone numbers, payment card numbers and IBANs are replaced
//! by placeholders before any customer text leaves the process (for example to an LLM).
//!
//! Card numbers are redacted only when they pass the Luhn check and IBANs only when they pass
//! the ISO 13616 mod-97 check, so order numbers, invoice numbers and other long digit strings
//! survive. Phone numbers have no checksum; the patterns below accept the common
//! international and US/European national formats and refuse digit runs glued to other
//! identifiers (`#`, `-`, `/`, `.`, letters), so dates, version strings and order references
//! stay as they are.

use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

/// Placeholder for an email address.
pub const EMAIL: &str = "[email]";
/// Placeholder for a phone number.
pub const PHONE: &str = "[phone]";
/// Placeholder for a payment card number.
pub const CARD: &str = "[card]";
/// Placeholder for an IBAN.
pub const IBAN: &str = "[iban]";

/// Replaces emails, phone numbers, Luhn-valid card numbers and mod-97-valid IBANs in `text`
/// with [`EMAIL`], [`PHONE`], [`CARD`] and [`IBAN`].
///
/// ```
/// use baton_ai::redact::redact;
///
/// let text = "I'm jo@example.com, card 4111 1111 1111 1111, call +44 20 7946 0958. Order 4111111111111112.";
/// assert_eq!(
///     redact(text),
///     "I'm [email], card [card], call [phone]. Order 4111111111111112."
/// );
/// ```
pub fn redact(text: &str) -> String {
    // Order matters: IBANs and cards contain digit groups the phone patterns would
    // otherwise claim, and placeholders contain no digits, so later passes cannot re-match.
    let text = EMAIL_PATTERN.replace_all(text, EMAIL).into_owned();
    let text = replace_validated(&text, &IBAN_START, IBAN, |t, m, _| iban_at(t, m));
    let text = replace_validated(&text, &CARD_PATTERN, CARD, |t, m, _| card_within(t, m));
    let text = replace_validated(&text, &INTERNATIONAL_PHONE, PHONE, |t, m, left| {
        phone_within(t, m, left, 8..=15, false)
    });
    let text = replace_validated(&text, &INTERNATIONAL_PREFIX_PHONE, PHONE, |t, m, left| {
        phone_within(t, m, left, 10..=17, true)
    });
    let text = replace_validated(&text, &US_PHONE, PHONE, us_phone_within);
    replace_validated(&text, &NATIONAL_PHONE, PHONE, |t, m, left| {
        phone_within(t, m, left, 9..=12, true)
    })
}

/// Whether `number` (digits, optionally grouped with spaces or dashes) passes the Luhn check
/// used by payment cards. Any other character makes it fail.
///
/// ```
/// use baton_ai::redact::luhn_valid;
///
/// assert!(luhn_valid("4111 1111 1111 1111"));
/// assert!(!luhn_valid("4111 1111 1111 1112"));
/// ```
pub fn luhn_valid(number: &str) -> bool {
    let mut sum = 0u32;
    let mut count = 0usize;
    for c in number.chars().rev() {
        if c == ' ' || c == '-' {
            continue;
        }
        let Some(digit) = c.to_digit(10) else {
            return false;
        };
        let value = if count % 2 == 1 {
            let doubled = digit * 2;
            if doubled > 9 { doubled - 9 } else { doubled }
        } else {
            digit
        };
        sum += value;
        count += 1;
    }
    count > 0 && sum.is_multiple_of(10)
}

/// Whether `iban` (spaces allowed, any case) is a valid IBAN: a country code, two check
/// digits and an alphanumeric account number, of the length registered for that country
/// (15 to 34 characters for countries not in the table), passing the mod-97 check.
///
/// ```
/// use baton_ai::redact::iban_valid;
///
/// assert!(iban_valid("DE89 3704 0044 0532 0130 00"));
/// assert!(!iban_valid("DE88 3704 0044 0532 0130 00"));
/// ```
pub fn iban_valid(iban: &str) -> bool {
    let compact: Vec<char> = iban
        .chars()
        .filter(|c| *c != ' ')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if !(15..=34).contains(&compact.len())
        || !compact[..2].iter().all(char::is_ascii_uppercase)
        || !compact[2..4].iter().all(char::is_ascii_digit)
        || !compact.iter().all(char::is_ascii_alphanumeric)
    {
        return false;
    }
    let country: String = compact[..2].iter().collect();
    if let Some(length) = iban_length(&country)
        && length != compact.len()
    {
        return false;
    }
    // Move the country code and check digits to the end, read letters as 10..35, and take
    // the remainder digit by digit so the number never overflows.
    let mut remainder = 0u32;
    for c in compact[4..].iter().chain(&compact[..4]) {
        let Some(value) = c.to_digit(36) else {
            return false;
        };
        remainder = if value >= 10 {
            (remainder * 100 + value) % 97
        } else {
            (remainder * 10 + value) % 97
        };
    }
    remainder == 1
}

/// IBAN lengths of the countries in the SWIFT IBAN registry.
fn iban_length(country: &str) -> Option<usize> {
    let length = match country {
        "NO" => 15,
        "BE" => 16,
        "DK" | "FI" | "FO" | "GL" | "NL" => 18,
        "MK" | "SI" => 19,
        "AT" | "BA" | "EE" | "KZ" | "LT" | "LU" | "XK" => 20,
        "CH" | "HR" | "LI" | "LV" => 21,
        "BG" | "BH" | "CR" | "DE" | "GB" | "GE" | "IE" | "ME" | "RS" | "VA" => 22,
        "AE" | "GI" | "IL" | "IQ" | "TL" => 23,
        "AD" | "CZ" | "ES" | "MD" | "PK" | "RO" | "SA" | "SE" | "SK" | "TN" | "VG" => 24,
        "PT" | "ST" => 25,
        "IS" | "TR" => 26,
        "FR" | "GR" | "IT" | "MC" | "MR" | "SM" => 27,
        "AL" | "AZ" | "BY" | "CY" | "DO" | "GT" | "HU" | "LB" | "PL" | "SV" => 28,
        "BR" | "EG" | "PS" | "QA" | "UA" => 29,
        "JO" | "KW" | "MU" => 30,
        "MT" | "SC" => 31,
        "LC" => 32,
        _ => return None,
    };
    Some(length)
}

static EMAIL_PATTERN: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        r"(?i)\b[a-z0-9._%+-]+@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*\.[a-z]{2,}\b",
    )
});

/// Where an IBAN may start: a country code and two check digits at a word start.
static IBAN_START: LazyLock<Regex> = LazyLock::new(|| compile(r"(?i)\b[a-z]{2}[0-9]{2}"));

/// 13 to 19 digits, optionally grouped by single spaces or dashes.
static CARD_PATTERN: LazyLock<Regex> = LazyLock::new(|| compile(r"\b\d(?:[ -]?\d){12,18}\b"));

/// `+`, a country code, an optional area code (possibly in parentheses, as in `+44 (0)20`),
/// then groups of two to five digits.
static INTERNATIONAL_PHONE: LazyLock<Regex> =
    LazyLock::new(|| compile(r"\+\d{1,3}(?:[ .-]?\(?\d{1,4}\)?)?(?:[ .-]?\d{2,5}){2,6}"));

/// The same with the `00` international prefix; separators are required (see
/// [`phone_within`]) so bare digit strings stay.
static INTERNATIONAL_PREFIX_PHONE: LazyLock<Regex> =
    LazyLock::new(|| compile(r"\b00\d{1,3}(?:[ .-]?\(?\d{1,4}\)?)?(?:[ .-]?\d{2,5}){2,6}"));

/// North American numbers: `(555) 123-4567`, `555-123-4567`, `555.123.4567`,
/// `1-555-123-4567`. The last group must be separated, so a bare 10-digit run stays.
static US_PHONE: LazyLock<Regex> =
    LazyLock::new(|| compile(r"(?:\b1[ .-]?)?(?:\(\d{3}\)[ .-]?|\b\d{3}[ .-])\d{3}[ .-]\d{4}\b"));

/// National numbers with a trunk `0`: `020 7946 0958`, `07911 123456`, `030-1234-5678`.
static NATIONAL_PHONE: LazyLock<Regex> =
    LazyLock::new(|| compile(r"\b0\d{1,4}[ -]\d{3,4}[ -]?\d{3,4}\b"));

fn compile(pattern: &str) -> Regex {
    // The patterns are constants checked by the unit tests; a failure here is a bug in this
    // file, never a consequence of input.
    #[allow(clippy::expect_used)]
    Regex::new(pattern).expect("redaction patterns are valid")
}

/// Replaces, for each match of `pattern`, the sub-range `accept` returns (if any) by
/// `placeholder`; text outside accepted ranges is kept verbatim. `accept` also gets the end
/// of the previous replacement, so it can tell a neighbouring number already replaced from
/// one the match continues.
fn replace_validated(
    text: &str,
    pattern: &Regex,
    placeholder: &str,
    accept: impl Fn(&str, Range<usize>, usize) -> Option<Range<usize>>,
) -> String {
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut from = 0;
    while from < text.len() {
        let Some(found) = pattern.find_at(text, from) else {
            break;
        };
        match accept(text, found.range(), copied) {
            Some(range) if range.start >= copied && range.end > range.start => {
                out.push_str(&text[copied..range.start]);
                out.push_str(placeholder);
                copied = range.end;
                from = range.end;
            }
            _ => {
                // Step past the first character only, so a valid number starting inside a
                // rejected match (an IBAN after a word like "NO12") is still found.
                from = found.start()
                    + text[found.start()..]
                        .chars()
                        .next()
                        .map_or(1, char::len_utf8);
            }
        }
    }
    out.push_str(&text[copied..]);
    out
}

fn char_before(text: &str, at: usize) -> Option<char> {
    text[..at].chars().next_back()
}

fn char_after(text: &str, at: usize) -> Option<char> {
    text[at..].chars().next()
}

/// Whether the number at `range` stands on its own: not glued to letters, digits or the
/// punctuation that joins identifiers (`ORD-2024-…`, `#12345`, `v1.2.3`, `12/05/2024`).
fn stands_alone(text: &str, range: &Range<usize>, allow_plus_before: bool) -> bool {
    let before_ok = match char_before(text, range.start) {
        None => true,
        Some('+') => allow_plus_before,
        Some(c) => !(c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | '#' | '@' | '\\')),
    };
    let after_ok = match char_after(text, range.end) {
        None => true,
        Some(c) if c.is_alphanumeric() || matches!(c, '_' | '@') => false,
        Some(c) if matches!(c, '-' | '.' | '/' | ',') => {
            // Trailing punctuation is fine ("call 555-123-4567."), a continuation is not
            // ("555-123-4567-2", "1.2.3.4").
            !text[range.end + c.len_utf8()..]
                .chars()
                .next()
                .is_some_and(|n| n.is_ascii_digit())
        }
        Some(_) => true,
    };
    before_ok && after_ok
}

/// The IBAN starting at `found.start`, if any: the longest run of alphanumeric characters
/// (single spaces allowed between them) from there that ends at a word end and is a valid
/// IBAN.
fn iban_at(text: &str, found: Range<usize>) -> Option<Range<usize>> {
    // Glued to an identifier ("ACC-DE89…", "#DE89…"): not an IBAN on its own.
    if char_before(text, found.start)
        .is_some_and(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '/' | '#'))
    {
        return None;
    }
    // Byte offsets just after each alphanumeric character, and the compact characters.
    let mut compact = String::new();
    let mut ends = Vec::new();
    let mut chars = text[found.start..].char_indices().peekable();
    while let Some((offset, c)) = chars.next() {
        if c.is_ascii_alphanumeric() {
            compact.push(c);
            ends.push(found.start + offset + c.len_utf8());
            if compact.len() == 34 {
                break;
            }
        } else if c == ' ' && chars.peek().is_some_and(|(_, n)| n.is_ascii_alphanumeric()) {
            continue;
        } else {
            break;
        }
    }
    (15..=compact.len()).rev().find_map(|length| {
        let end = ends[length - 1];
        let at_word_end = !char_after(text, end).is_some_and(|c| c.is_alphanumeric());
        (at_word_end && iban_valid(&compact[..length])).then_some(found.start..end)
    })
}

/// The longest Luhn-valid run of 13 to 19 digits inside the match, cut at separators, so a
/// card followed by its security code or preceded by another number is still found.
fn card_within(text: &str, found: Range<usize>) -> Option<Range<usize>> {
    let candidate = &text[found.clone()];
    // Digit groups between separators, as byte ranges of `text`.
    let mut groups: Vec<Range<usize>> = Vec::new();
    let mut start = None;
    for (offset, c) in candidate.char_indices() {
        let at = found.start + offset;
        if c.is_ascii_digit() {
            start.get_or_insert(at);
        } else if let Some(s) = start.take() {
            groups.push(s..at);
        }
    }
    if let Some(s) = start {
        groups.push(s..found.end);
    }
    let digits = |r: &Range<usize>| text[r.clone()].bytes().filter(u8::is_ascii_digit).count();
    let mut best: Option<(usize, Range<usize>)> = None;
    for first in 0..groups.len() {
        for last in first..groups.len() {
            let range = groups[first].start..groups[last].end;
            let count = digits(&range);
            if (13..=19).contains(&count)
                && best.as_ref().is_none_or(|(n, _)| count > *n)
                && luhn_valid(&text[range.clone()])
                && stands_alone(text, &range, false)
            {
                best = Some((count, range));
            }
        }
    }
    best.map(|(_, range)| range)
}

/// Accepts a phone-number match whose digit count is in `digits`; `needs_separator` refuses
/// bare digit runs, which are more often identifiers than phone numbers.
fn phone_within(
    text: &str,
    found: Range<usize>,
    left: usize,
    digits: std::ops::RangeInclusive<usize>,
    needs_separator: bool,
) -> Option<Range<usize>> {
    let candidate = &text[found.clone()];
    let count = candidate.bytes().filter(u8::is_ascii_digit).count();
    let separated = candidate
        .bytes()
        .any(|b| matches!(b, b' ' | b'-' | b'.' | b'('));
    let plus = candidate.starts_with('+');
    (digits.contains(&count)
        && (separated || !needs_separator)
        && stands_alone(text, &found, plus)
        && !continues_a_number(text, left, found.start))
    .then_some(found)
}

/// Whether the text before `start` (back to `left`, the end of the previous replacement) is a
/// space after a token with digits: the candidate is the tail of a longer grouped number (a
/// mistyped IBAN, an account number), not a phone number.
fn continues_a_number(text: &str, left: usize, start: usize) -> bool {
    let Some(before) = text[left.min(start)..start].strip_suffix(' ') else {
        return false;
    };
    before
        .chars()
        .rev()
        .take_while(|c| c.is_alphanumeric())
        .any(|c| c.is_ascii_digit())
}

/// Accepts a North American number whose area code is plausible (first digit 2–9).
fn us_phone_within(text: &str, found: Range<usize>, left: usize) -> Option<Range<usize>> {
    let candidate = &text[found.clone()];
    let digits: Vec<u8> = candidate.bytes().filter(u8::is_ascii_digit).collect();
    let area = if digits.len() == 11 {
        digits.get(1)
    } else {
        digits.first()
    };
    let plausible = area.is_some_and(|d| (b'2'..=b'9').contains(d));
    (plausible && stands_alone(text, &found, false) && !continues_a_number(text, left, found.start))
        .then_some(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_replaced() {
        assert_eq!(
            redact("write to Jane.Doe+billing@example.co.uk please"),
            "write to [email] please"
        );
        assert_eq!(redact("me@x.io, you@y.org"), "[email], [email]");
    }

    #[test]
    fn text_without_an_at_domain_is_not_an_email() {
        for text in ["ping @support", "user@localhost", "a @ b.com"] {
            assert_eq!(redact(text), text);
        }
    }

    #[test]
    fn luhn_valid_card_numbers_are_replaced_in_any_grouping() {
        for card in [
            "4111111111111111",
            "4111 1111 1111 1111",
            "4111-1111-1111-1111",
            "5500 0000 0000 0004",
            "3782 822463 10005",
            "6011000990139424",
        ] {
            assert_eq!(
                redact(&format!("my card is {card}.")),
                "my card is [card].",
                "{card}"
            );
        }
    }

    #[test]
    fn a_card_followed_by_its_security_code_is_still_found() {
        assert_eq!(
            redact("4111 1111 1111 1111 123 exp 12/27"),
            "[card] 123 exp 12/27"
        );
    }

    #[test]
    fn sixteen_digits_failing_luhn_stay() {
        let text = "order 4111111111111112 and 1234 5678 9012 3456";
        assert_eq!(redact(text), text);
    }

    #[test]
    fn card_like_numbers_inside_identifiers_stay() {
        for text in [
            "INV-4111111111111111",
            "#4111111111111111",
            "x4111111111111111",
        ] {
            assert_eq!(redact(text), text);
        }
    }

    #[test]
    fn valid_ibans_are_replaced_with_or_without_spaces() {
        for iban in [
            "DE89 3704 0044 0532 0130 00",
            "DE89370400440532013000",
            "GB82 WEST 1234 5698 7654 32",
            "FR14 2004 1010 0505 0001 3M02 606",
            "NL91ABNA0417164300",
            "de89370400440532013000",
        ] {
            assert_eq!(
                redact(&format!("IBAN: {iban}, thanks")),
                "IBAN: [iban], thanks",
                "{iban}"
            );
        }
    }

    #[test]
    fn an_iban_followed_by_words_is_cut_at_its_end() {
        assert_eq!(
            redact("pay to GB82 WEST 1234 5698 7654 32 and send it"),
            "pay to [iban] and send it"
        );
    }

    #[test]
    fn ibans_failing_mod_97_or_length_stay() {
        for text in [
            "DE88 3704 0044 0532 0130 00",
            "DE88370400440532013000",
            "DE89 3704 0044 0532 0130",
            "GB82 WEST 1234 5698 7654 33",
            "NL91 ABNA 0417 1643 01",
        ] {
            assert_eq!(redact(text), text);
        }
    }

    #[test]
    fn international_phone_numbers_are_replaced() {
        for phone in [
            "+44 20 7946 0958",
            "+44 (0)20 7946 0958",
            "+1 (555) 123-4567",
            "+1-555-123-4567",
            "+33 6 12 34 56 78",
            "+4915112345678",
            "0044 20 7946 0958",
        ] {
            assert_eq!(
                redact(&format!("call me at {phone} today")),
                "call me at [phone] today",
                "{phone}"
            );
        }
    }

    #[test]
    fn us_and_national_phone_numbers_are_replaced() {
        for phone in [
            "(555) 123-4567",
            "555-123-4567",
            "555.123.4567",
            "1-555-123-4567",
            "555 123 4567",
            "020 7946 0958",
            "07911 123456",
        ] {
            assert_eq!(
                redact(&format!("my number: {phone}.")),
                "my number: [phone].",
                "{phone}"
            );
        }
    }

    #[test]
    fn neighbouring_phone_numbers_are_all_replaced() {
        assert_eq!(
            redact("call 555-123-4567 555-987-6543 or 555-222-3333, +1 415 555 2671"),
            "call [phone] [phone] or [phone], [phone]"
        );
    }

    #[test]
    fn order_numbers_dates_and_versions_are_not_phone_numbers() {
        for text in [
            "order 10023456789",
            "order #555-123-4567",
            "ORD-2024-555-1234",
            "since 2024-05-12 10:30",
            "on 05/12/2024",
            "upgraded to v10.4.12 and 1.2.3",
            "server 192.168.100.200",
            "invoice INV-0042-7781",
            "call back in 15 minutes, ticket 123456",
            "up 99.95% in 2025",
            "sort code 12-34-56, account 12345678",
            "Invoice INV-2024-00042 total $1,234.56 due 12.05.2024",
            "uuid 550e8400-e29b-41d4-a716-446655440000, timestamp 1712345678901",
            "ISBN 978-3-16-148410-0",
        ] {
            assert_eq!(redact(text), text);
        }
    }

    #[test]
    fn text_without_personal_data_is_unchanged() {
        let text = "How do I export my data to CSV? It's been 3 days (ticket 88231).";
        assert_eq!(redact(text), text);
    }

    #[test]
    fn mixed_personal_data_is_all_replaced() {
        assert_eq!(
            redact(
                "I'm ana@corp.com (+49 30 12345678), refund to DE89 3704 0044 0532 0130 00 not card 5500-0000-0000-0004"
            ),
            "I'm [email] ([phone]), refund to [iban] not card [card]"
        );
    }

    #[test]
    fn luhn_and_mod_97_checks() {
        assert!(luhn_valid("79927398713"));
        assert!(!luhn_valid("79927398710"));
        assert!(!luhn_valid("4111a1111"));
        assert!(!luhn_valid(""));
        assert!(iban_valid("NO93 8601 1117 947"));
        assert!(!iban_valid("XX00"));
        assert!(!iban_valid("1234 5678 9012 3456"));
    }
}
