//! Request parameters from a query string or an `application/x-www-form-urlencoded` body,
//! parsed once with the `form_urlencoded` parser. RFC 6749 §3.1: parameters sent without a value
//! are treated as omitted, and a parameter must not appear more than once; the duplicates are
//! kept so each endpoint can name the error its spec gives.

use std::collections::BTreeMap;

/// The longest value any single parameter may have; larger requests are refused before work.
pub const MAX_PARAM_LEN: usize = 4096;
/// At most this many parameters in one request.
pub const MAX_PARAMS: usize = 64;

#[derive(Debug, Default, Clone)]
pub struct Params {
    values: BTreeMap<String, String>,
    duplicated: Vec<String>,
    oversized: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParamError {
    #[error("too many parameters")]
    TooMany,
}

impl Params {
    pub fn parse(raw: &str) -> Result<Params, ParamError> {
        let mut p = Params::default();
        for (count, (name, value)) in form_urlencoded::parse(raw.as_bytes()).enumerate() {
            if count >= MAX_PARAMS {
                return Err(ParamError::TooMany);
            }
            if value.is_empty() {
                continue;
            }
            let limit = if name == "claims" || name == "id_token_hint" || name == "request" {
                4 * MAX_PARAM_LEN
            } else {
                MAX_PARAM_LEN
            };
            if value.len() > limit {
                p.oversized.push(name.to_string());
                continue;
            }
            if p.values.contains_key(name.as_ref()) {
                p.duplicated.push(name.to_string());
                continue;
            }
            p.values.insert(name.into_owned(), value.into_owned());
        }
        Ok(p)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    pub fn has(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    pub fn is_duplicated(&self, name: &str) -> bool {
        self.duplicated.iter().any(|d| d == name)
    }

    /// The first duplicated parameter, if any.
    pub fn first_duplicate(&self) -> Option<&str> {
        self.duplicated.first().map(String::as_str)
    }

    pub fn is_oversized(&self, name: &str) -> bool {
        self.oversized.iter().any(|d| d == name)
    }

    pub fn first_oversized(&self) -> Option<&str> {
        self.oversized.first().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_values_are_omitted_and_duplicates_noted() {
        let p = Params::parse("a=1&b=&a=2&c=x%20y").unwrap();
        assert_eq!(p.get("a"), Some("1"));
        assert!(!p.has("b"));
        assert!(p.is_duplicated("a"));
        assert_eq!(p.get("c"), Some("x y"));
    }

    #[test]
    fn oversized_values_and_floods_are_refused() {
        let big = "x".repeat(MAX_PARAM_LEN + 1);
        let p = Params::parse(&format!("state={big}")).unwrap();
        assert!(!p.has("state"));
        assert!(p.is_oversized("state"));
        let flood: Vec<String> = (0..=MAX_PARAMS).map(|i| format!("p{i}=1")).collect();
        assert_eq!(
            Params::parse(&flood.join("&")).unwrap_err(),
            ParamError::TooMany
        );
    }
}
