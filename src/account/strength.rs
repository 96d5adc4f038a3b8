//! `POST /password/strength`: the live strength estimate the password forms show while a person
//! types (static/strength.js). It changes nothing and stores nothing; the CSRF token keeps it to
//! firmgate's own pages. The rules themselves are checked again when the form is submitted.

use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::password::strength_word;
use crate::error::PageError;
use crate::policy::password::{normalise, MAX_LENGTH, SUGGESTED_LENGTH};
use crate::web::browser::Browser;

pub async fn estimate(browser: Browser, body: String) -> Result<Response, PageError> {
    let form = browser.csrf_form(&body)?;
    let password = form.get("password").unwrap_or("");
    let length = normalise(password).chars().count();
    if password.is_empty() {
        return Ok(Json(json!({ "strength": null, "advice": "" })).into_response());
    }
    // zxcvbn's cost grows with length; beyond the maximum there is nothing to estimate.
    let (strength, advice) = if length > MAX_LENGTH {
        ("too long", format!("Use at most {MAX_LENGTH} characters."))
    } else {
        let word = strength_word(password, "", "");
        let advice = if length < SUGGESTED_LENGTH {
            format!("Longer is stronger: {SUGGESTED_LENGTH} characters or more.")
        } else {
            String::new()
        };
        (word, advice)
    };
    Ok(Json(json!({ "strength": strength, "advice": advice })).into_response())
}
