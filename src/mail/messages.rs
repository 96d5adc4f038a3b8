//! The messages firmgate sends, each with a plain-text and an HTML part (askama templates).

use askama::Template;

use super::Mail;

#[derive(Template)]
#[template(path = "mail/reset.txt")]
struct ResetText<'a> {
    name: &'a str,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "mail/reset.html")]
struct ResetHtml<'a> {
    name: &'a str,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "mail/password_changed.txt")]
struct ChangedText<'a> {
    name: &'a str,
    how: &'a str,
    sessions: &'a str,
}

#[derive(Template)]
#[template(path = "mail/password_changed.html")]
struct ChangedHtml<'a> {
    name: &'a str,
    how: &'a str,
    sessions: &'a str,
}

#[derive(Template)]
#[template(path = "mail/security_notice.txt")]
struct NoticeText<'a> {
    name: &'a str,
    happened: &'a str,
}

#[derive(Template)]
#[template(path = "mail/security_notice.html")]
struct NoticeHtml<'a> {
    name: &'a str,
    happened: &'a str,
}

#[derive(Template)]
#[template(path = "mail/invitation.txt")]
struct InviteText<'a> {
    name: &'a str,
    firm: &'a str,
    link: &'a str,
    temporary_password: Option<&'a str>,
    expires: &'a str,
}

#[derive(Template)]
#[template(path = "mail/invitation.html")]
struct InviteHtml<'a> {
    name: &'a str,
    firm: &'a str,
    link: &'a str,
    temporary_password: Option<&'a str>,
    expires: &'a str,
}

fn both(
    to: &str,
    subject: &str,
    text: askama::Result<String>,
    html: askama::Result<String>,
) -> Result<Mail, askama::Error> {
    Ok(Mail {
        to: to.to_owned(),
        subject: subject.to_owned(),
        text: text?,
        html: html?,
    })
}

pub fn password_reset(to: &str, name: &str, link: &str) -> Result<Mail, askama::Error> {
    both(
        to,
        "Reset your firmgate password",
        ResetText { name, link }.render(),
        ResetHtml { name, link }.render(),
    )
}

/// `how`: "was changed" or "was reset".
/// `how`: "was set", "was changed", "was reset"; `sessions`: what happened to the sessions.
pub fn password_changed(
    to: &str,
    name: &str,
    how: &str,
    sessions: &str,
) -> Result<Mail, askama::Error> {
    both(
        to,
        "Your firmgate password was changed",
        ChangedText {
            name,
            how,
            sessions,
        }
        .render(),
        ChangedHtml {
            name,
            how,
            sessions,
        }
        .render(),
    )
}

/// A change to how the person signs in (MFA on or off, a recovery code used, a code replayed):
/// one sentence saying what happened, and what to do if it was not them.
pub fn security_notice(
    to: &str,
    name: &str,
    subject: &str,
    happened: &str,
) -> Result<Mail, askama::Error> {
    both(
        to,
        subject,
        NoticeText { name, happened }.render(),
        NoticeHtml { name, happened }.render(),
    )
}

pub fn invitation(
    to: &str,
    name: &str,
    firm: &str,
    link: &str,
    temporary_password: Option<&str>,
    expires: &str,
) -> Result<Mail, askama::Error> {
    both(
        to,
        &format!("You have been invited to {firm} on firmgate"),
        InviteText {
            name,
            firm,
            link,
            temporary_password,
            expires,
        }
        .render(),
        InviteHtml {
            name,
            firm,
            link,
            temporary_password,
            expires,
        }
        .render(),
    )
}
