//! What the terminal prompt takes as an answer, and a prompter with nobody to ask.

use crate::approve::prompter::{key_answer, pick};
use crate::approve::{PromptError, Prompter};
use crate::wake::Waits;

#[test]
fn a_yes_needs_y_and_no_is_the_default() {
    assert_eq!(key_answer(b'y'), Some(true));
    assert_eq!(key_answer(b'Y'), Some(true));
    for no in [b'n', b'N', b'\r', b'\n', 4] {
        assert_eq!(key_answer(no), Some(false), "{no}");
    }
    // Anything else is no answer: the question waits for one.
    for other in [b' ', b'q', b'1', 27] {
        assert_eq!(key_answer(other), None, "{other}");
    }
}

#[test]
fn a_choice_is_taken_by_number_or_name() {
    let choices = vec!["blue".to_string(), "green".to_string()];
    let c = Some(choices.as_slice());
    assert_eq!(pick("1", c, None), Some("blue".into()));
    assert_eq!(pick("2", c, None), Some("green".into()));
    assert_eq!(pick("green", c, None), Some("green".into()));
    for wrong in ["0", "3", "-1", "red", "Blue"] {
        assert_eq!(pick(wrong, c, None), None, "{wrong}");
    }
    assert_eq!(pick("", c, Some("green")), Some("green".into()));
    assert_eq!(pick("", c, None), None);
}

#[test]
fn a_free_value_is_the_text_or_the_default() {
    assert_eq!(pick("v1.2.3", None, None), Some("v1.2.3".into()));
    assert_eq!(pick("", None, Some("latest")), Some("latest".into()));
    assert_eq!(pick("", None, None), None, "an answer is needed");
}

#[tokio::test]
async fn nobody_to_ask_is_no_answer_with_the_reason() {
    let p = Prompter::Nobody("`--non-interactive`".into());
    assert!(!p.interactive());
    let w = Waits::detached();
    assert_eq!(
        p.confirm("Deploy?", "", &w).await,
        Err(PromptError::NoTerminal("`--non-interactive`".into()))
    );
    assert_eq!(
        p.input("Version?", None, None, &w).await,
        Err(PromptError::NoTerminal("`--non-interactive`".into()))
    );
    assert_eq!(
        PromptError::Withdrawn("the run is failing".into()).to_string(),
        "the question was withdrawn: the run is failing"
    );
}
