//! Reading and checking the model's JSON answer: `{answer, confidence, citations,
//! needs_human, reason}`. Anything that does not hold up is an `invalid_answer` failure;
//! citations of articles the model was not given are dropped, never trusted.

use serde_json::{Map, Value};

use crate::llm::client::LlmError;

/// A checked model answer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ModelAnswer {
    /// The reply text; empty only when the model asks for a human.
    pub answer: String,
    /// The model's opinion of its own answer, 0..1, if it gave a usable one.
    pub confidence: Option<f64>,
    /// Cited article ids that were among the given articles, in order, without repeats.
    pub citations: Vec<String>,
    /// Cited ids the model was not given.
    pub dropped: Vec<String>,
    /// Whether the model asks for a human.
    pub needs_human: bool,
    /// The model's one-sentence reason.
    pub reason: String,
}

/// Parses `content` and checks it against the ids of the articles the model was given.
pub(crate) fn parse_answer(content: &str, given: &[&str]) -> Result<ModelAnswer, LlmError> {
    let object = json_object(content).ok_or_else(|| {
        LlmError::InvalidAnswer(format!(
            "the model did not reply with a JSON object (reply starts with {:?})",
            content.chars().take(60).collect::<String>()
        ))
    })?;

    let answer = match object.get("answer") {
        Some(Value::String(text)) => text.trim().to_string(),
        Some(Value::Null) | None => String::new(),
        Some(_) => {
            return Err(LlmError::InvalidAnswer(
                "\"answer\" is not a string".to_string(),
            ));
        }
    };
    let needs_human = match object.get("needs_human") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.trim().eq_ignore_ascii_case("true"),
        _ => false,
    };
    if answer.is_empty() && !needs_human {
        return Err(LlmError::InvalidAnswer("the answer is empty".to_string()));
    }

    let confidence = object.get("confidence").and_then(number).and_then(|c| {
        // Some models answer in percent.
        if (0.0..=1.0).contains(&c) {
            Some(c)
        } else if (1.0..=100.0).contains(&c) {
            Some(c / 100.0)
        } else {
            None
        }
    });

    let mut citations: Vec<String> = Vec::new();
    let mut dropped: Vec<String> = Vec::new();
    let cited: Vec<String> = match object.get("citations") {
        Some(Value::Array(items)) => items.iter().filter_map(id_of).collect(),
        Some(single @ (Value::String(_) | Value::Number(_))) => id_of(single).into_iter().collect(),
        _ => Vec::new(),
    };
    for id in cited {
        if given.contains(&id.as_str()) {
            if !citations.contains(&id) {
                citations.push(id);
            }
        } else if !dropped.contains(&id) {
            dropped.push(id);
        }
    }

    let reason = match object.get("reason") {
        Some(Value::String(s)) => s.trim().to_string(),
        _ => String::new(),
    };
    Ok(ModelAnswer {
        answer,
        confidence,
        citations,
        dropped,
        needs_human,
        reason,
    })
}

/// Reads a handoff summary, `{"summary": "..."}`, and keeps it to `max_chars` characters.
pub(crate) fn parse_summary(content: &str, max_chars: usize) -> Result<String, LlmError> {
    let object = json_object(content).ok_or_else(|| {
        LlmError::InvalidAnswer("the model did not reply with a JSON object".to_string())
    })?;
    match object.get("summary") {
        Some(Value::String(text)) if !text.trim().is_empty() => {
            Ok(crate::reply::one_line(text.trim(), max_chars))
        }
        _ => Err(LlmError::InvalidAnswer(
            "\"summary\" is missing or empty".to_string(),
        )),
    }
}

/// The JSON object in `content`: the whole text, or inside a Markdown code fence, or between
/// the first `{` and the last `}` (local models often wrap JSON in prose despite JSON mode).
fn json_object(content: &str) -> Option<Map<String, Value>> {
    let trimmed = content.trim();
    let unfenced = trimmed
        .strip_prefix("```")
        .map(|rest| {
            let rest = rest.split_once('\n').map_or("", |(_, body)| body);
            rest.trim_end().trim_end_matches("```")
        })
        .unwrap_or(trimmed);
    let attempt = |text: &str| match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    };
    attempt(unfenced).or_else(|| {
        let start = unfenced.find('{')?;
        let end = unfenced.rfind('}')?;
        (start < end)
            .then(|| attempt(&unfenced[start..=end]))
            .flatten()
    })
}

fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|n: &f64| n.is_finite())
}

fn id_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIVEN: &[&str] = &["reset-password", "enable-2fa"];

    #[test]
    fn a_complete_answer_is_read() {
        let answer = parse_answer(
            r#"{"answer": "Use Forgot password.", "confidence": 0.9, "citations": ["reset-password", "made-up", "reset-password"], "needs_human": false, "reason": "covered"}"#,
            GIVEN,
        )
        .unwrap();
        assert_eq!(answer.answer, "Use Forgot password.");
        assert_eq!(answer.confidence, Some(0.9));
        assert_eq!(answer.citations, vec!["reset-password"]);
        assert_eq!(answer.dropped, vec!["made-up"]);
        assert!(!answer.needs_human);
    }

    #[test]
    fn fenced_or_wrapped_json_is_accepted() {
        let fenced = "```json\n{\"answer\": \"Hi\", \"citations\": []}\n```";
        assert_eq!(parse_answer(fenced, GIVEN).unwrap().answer, "Hi");
        let wrapped = "Sure! {\"answer\": \"Hi\"} Hope that helps.";
        assert_eq!(parse_answer(wrapped, GIVEN).unwrap().answer, "Hi");
    }

    #[test]
    fn prose_and_empty_answers_are_invalid() {
        for content in [
            "I think you should reset your password.",
            r#"{"answer": "", "needs_human": false}"#,
            r#"{"answer": 42}"#,
            r#"["answer"]"#,
        ] {
            let error = parse_answer(content, GIVEN).unwrap_err();
            assert_eq!(error.code(), "invalid_answer", "{content}");
        }
    }

    #[test]
    fn an_empty_answer_asking_for_a_human_is_valid() {
        let answer = parse_answer(
            r#"{"answer": "", "needs_human": true, "reason": "refund request"}"#,
            GIVEN,
        )
        .unwrap();
        assert!(answer.needs_human);
        assert_eq!(answer.reason, "refund request");
    }

    #[test]
    fn odd_confidences_are_normalised_or_dropped() {
        let confidence = |c: &str| {
            parse_answer(&format!(r#"{{"answer": "x", "confidence": {c}}}"#), GIVEN)
                .unwrap()
                .confidence
        };
        assert_eq!(confidence("85"), Some(0.85));
        assert_eq!(confidence("\"0.5\""), Some(0.5));
        assert_eq!(confidence("-1"), None);
        assert_eq!(confidence("\"high\""), None);
    }
}
