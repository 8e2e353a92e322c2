//! Importing knowledge-base sources: Markdown folders, JSON Lines and CSV, and the errors an
//! operator sees when a source is broken.

use std::path::PathBuf;

use baton_kb::{ImportError, SourceFormat, import_path, parse_csv, parse_jsonl, slug};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

#[test]
fn imports_a_markdown_folder_with_front_matter() {
    let articles = import_path(fixture("markdown")).unwrap();
    let ids: Vec<&str> = articles.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["refunds", "download-invoices", "reset-password"]);

    let reset = &articles[2];
    assert_eq!(reset.title, "Reset a forgotten password");
    assert_eq!(
        reset.questions,
        ["I forgot my password", "how do I reset my password"]
    );
    assert_eq!(reset.issue_type.as_deref(), Some("account"));
    assert_eq!(reset.tags, ["login", "password"]);
    assert!(reset.body.starts_with("Click **Forgot password**"));
}

#[test]
fn markdown_id_defaults_to_the_file_name_and_title_to_the_first_heading() {
    let articles = import_path(fixture("markdown")).unwrap();
    let invoices = articles
        .iter()
        .find(|a| a.id == "download-invoices")
        .unwrap();
    assert_eq!(invoices.title, "Download invoices");
    assert_eq!(
        invoices.tags,
        ["billing", "invoices"],
        "a comma-separated string of tags is split"
    );

    let refunds = articles.iter().find(|a| a.id == "refunds").unwrap();
    assert_eq!(
        refunds.title, "Refunds",
        "no front matter: the first heading is the title"
    );
    assert!(refunds.questions.is_empty());
}

#[test]
fn bad_front_matter_names_file_and_line() {
    let error = import_path(fixture("bad-front-matter")).unwrap_err();
    let ImportError::FrontMatter { at, .. } = &error else {
        panic!("expected a front-matter error, got {error:?}");
    };
    assert!(at.path.ends_with("bad-front-matter/broken.md"));
    assert_eq!(
        at.line, 5,
        "the badly indented item is on line 5 of the file"
    );
    let message = error.to_string();
    assert!(message.contains("broken.md:5"), "{message}");
}

#[test]
fn unclosed_front_matter_names_the_file() {
    let error = import_path(fixture("unclosed-front-matter")).unwrap_err();
    let message = error.to_string();
    assert!(message.contains("open.md:1"), "{message}");
    assert!(message.contains("never closed"), "{message}");
}

#[test]
fn imports_json_lines_and_skips_blank_lines() {
    let articles = import_path(fixture("articles.jsonl")).unwrap();
    assert_eq!(articles.len(), 2);
    assert_eq!(articles[0].id, "api-keys");
    assert_eq!(articles[0].issue_type.as_deref(), Some("api"));
    assert_eq!(articles[1].tags, ["api"]);
}

#[test]
fn bad_json_line_names_its_line_number() {
    let error = import_path(fixture("bad.jsonl")).unwrap_err();
    assert!(
        matches!(&error, ImportError::Json { at, .. } if at.line == 3),
        "{error:?}"
    );
    assert!(error.to_string().contains("bad.jsonl:3"), "{error}");
}

#[test]
fn a_json_record_without_a_title_is_rejected_with_its_line() {
    let error = import_path(fixture("missing-title.jsonl")).unwrap_err();
    let message = error.to_string();
    assert!(message.contains("missing-title.jsonl:1"), "{message}");
    assert!(message.contains("title"), "{message}");
}

#[test]
fn csv_rows_become_articles_with_the_question_as_title_and_first_example() {
    let articles = import_path(fixture("faq.csv")).unwrap();
    assert_eq!(articles.len(), 2);
    let first = &articles[0];
    assert_eq!(first.id, "how-do-i-reset-my-password");
    assert_eq!(first.title, "How do I reset my password?");
    assert_eq!(first.questions, ["How do I reset my password?"]);
    assert_eq!(
        first.body,
        "Use the \"Forgot password\" link on the sign-in page."
    );
}

#[test]
fn csv_ids_are_stable_slugs_unless_an_id_column_is_given() {
    let path = PathBuf::from("faq.csv");
    let text = "question,answer\nWhere can I download my invoices?,Billing.\n";
    let once = parse_csv(&path, text).unwrap();
    let again = parse_csv(
        &path,
        &format!("question,answer\nFirst?,x\n{}", &text[16..]),
    )
    .unwrap();
    assert_eq!(
        once[0].id, again[1].id,
        "a row keeps its id when other rows are added"
    );
    assert_eq!(slug("  Où est ma facture ? "), "où-est-ma-facture");

    let with_ids = import_path(fixture("with-ids.csv")).unwrap();
    assert_eq!(with_ids[0].id, "pw");
    assert_eq!(with_ids[0].tags, ["login", "password"]);
}

#[test]
fn bad_csv_row_names_its_line() {
    let error = import_path(fixture("bad.csv")).unwrap_err();
    assert!(
        matches!(&error, ImportError::Csv { at, .. } if at.line == 4),
        "{error:?}"
    );
    assert!(error.to_string().contains("bad.csv:4"), "{error}");
}

#[test]
fn csv_without_an_answer_column_is_rejected_at_the_header() {
    let error = import_path(fixture("no-answer-column.csv")).unwrap_err();
    let message = error.to_string();
    assert!(message.contains("no-answer-column.csv:1"), "{message}");
    assert!(message.contains("answer"), "{message}");
}

#[test]
fn duplicate_ids_name_both_lines() {
    let error = import_path(fixture("duplicate.jsonl")).unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("duplicate.jsonl:1") && message.contains("duplicate.jsonl:3"),
        "{message}"
    );

    let error = import_path(fixture("duplicate.csv")).unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("duplicate.csv:2") && message.contains("duplicate.csv:4"),
        "{message}"
    );

    let error = import_path(fixture("duplicate-markdown")).unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("a.md:3") && message.contains("b.md:3"),
        "{message}"
    );
}

#[test]
fn the_format_is_chosen_from_the_path() {
    assert_eq!(
        SourceFormat::of(&fixture("markdown")).unwrap(),
        SourceFormat::MarkdownDir
    );
    assert_eq!(
        SourceFormat::of(&fixture("articles.jsonl")).unwrap(),
        SourceFormat::JsonLines
    );
    assert_eq!(
        SourceFormat::of(&fixture("faq.csv")).unwrap(),
        SourceFormat::Csv
    );
    let unknown = import_path(fixture("markdown/reset-password.md")).unwrap_err();
    assert!(
        matches!(unknown, ImportError::UnknownFormat { .. }),
        "{unknown:?}"
    );
    let missing = import_path(fixture("nowhere.jsonl")).unwrap_err();
    assert!(matches!(missing, ImportError::Io { .. }), "{missing:?}");
}

#[test]
fn parsing_text_needs_no_file() {
    let articles = parse_jsonl(
        &PathBuf::from("inline.jsonl"),
        r#"{"id": "a", "title": "A", "questions": ["  q  ", ""]}"#,
    )
    .unwrap();
    assert_eq!(
        articles[0].questions,
        ["q"],
        "questions are trimmed and blank ones dropped"
    );
}
