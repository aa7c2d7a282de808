//! The live dashboard in a browser: the page itself (`dashboard`), the key
//! form and the session it opens (`login`, `sessions`), and what a page
//! answers when it cannot be shown (`error`).

pub(crate) mod dashboard;
pub(crate) mod error;
pub(crate) mod login;
pub mod sessions;

/// Dashboard names are file stems: letters, digits, `-` and `_`.
fn is_dashboard_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
