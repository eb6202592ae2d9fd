//! Checks of the names that go into API paths and label selectors.

use crate::error::Error;

/// Checks a Service name: an RFC 1035 label (what Kubernetes requires of Service names).
pub(crate) fn check_service(name: &str) -> Result<(), Error> {
    check_label(name, "service", true)
}

/// Checks a namespace name: an RFC 1123 label.
pub(crate) fn check_namespace(name: &str) -> Result<(), Error> {
    check_label(name, "namespace", false)
}

fn check_label(name: &str, kind: &'static str, letter_first: bool) -> Result<(), Error> {
    let fail = |reason| {
        Err(Error::InvalidName {
            kind,
            name: name.to_owned(),
            reason,
        })
    };
    let bytes = name.as_bytes();
    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
        return fail("it is empty");
    };
    if bytes.len() > 63 {
        return fail("it is longer than 63 characters");
    }
    if !bytes
        .iter()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
    {
        return fail("only lowercase letters, digits and '-' are allowed");
    }
    if letter_first && !first.is_ascii_lowercase() {
        return fail("it must start with a letter");
    }
    if *first == b'-' || *last == b'-' {
        return fail("it must start and end with a letter or digit");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubernetes_names_pass_and_others_are_named_in_the_error() {
        for ok in ["web", "a", "web-2", &"a".repeat(63)] {
            check_service(ok).unwrap();
            check_namespace(ok).unwrap();
        }
        check_namespace("2fa").unwrap();
        assert_eq!(
            check_service("2fa").unwrap_err().to_string(),
            "invalid service name `2fa`: it must start with a letter"
        );
        let cases = [
            ("", "it is empty"),
            ("Web", "only lowercase letters, digits and '-' are allowed"),
            (
                "web,app=x",
                "only lowercase letters, digits and '-' are allowed",
            ),
            ("a.b", "only lowercase letters, digits and '-' are allowed"),
            ("web-", "it must start and end with a letter or digit"),
            ("-web", "it must start and end with a letter or digit"),
        ];
        for (name, reason) in cases {
            assert_eq!(
                check_namespace(name).unwrap_err().to_string(),
                format!("invalid namespace name `{name}`: {reason}")
            );
        }
        assert!(
            check_service(&"a".repeat(64))
                .unwrap_err()
                .to_string()
                .contains("63")
        );
    }
}
