//! The JSONP callback name: the one piece of a JSONP reply the client
//! writes into a script, so it is checked before anything runs.

use std::fmt;

/// The longest callback name accepted, in characters.
pub const MAX_CALLBACK_LEN: usize = 128;

/// A JSONP callback name that is refused: empty, longer than
/// [`MAX_CALLBACK_LEN`], or with a character other than ASCII letters,
/// digits, `_`, `$`, `.`, `[` and `]`.
///
/// Those characters spell every callback a JSONP library generates
/// (`jQuery3600_123`, `window.cbs[4]`) and nothing that can end the call
/// early, so the client's name is written into the reply as is. A request
/// with a refused name gets HTTP 400 and the method does not run.
///
/// ```
/// use rpckit_http::ResponseHandle;
///
/// let response = ResponseHandle::new();
/// assert!(response.set_jsonp_callback("app.callbacks[3]").is_ok());
/// let err = response.set_jsonp_callback("cb);alert(1)//").unwrap_err();
/// assert_eq!(err.to_string(), "invalid JSONP callback: character `)` at position 3 is not allowed (only letters, digits, `_`, `$`, `.`, `[`, `]`)");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidCallback {
    /// The name is empty.
    Empty,
    /// The name is longer than [`MAX_CALLBACK_LEN`] characters.
    TooLong {
        /// Its length in characters.
        len: usize,
    },
    /// The name holds a character that is not allowed.
    Character {
        /// The character.
        character: char,
        /// Its position, counted in characters from 1.
        position: usize,
    },
}

impl fmt::Display for InvalidCallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid JSONP callback: ")?;
        match self {
            InvalidCallback::Empty => f.write_str("the name is empty"),
            InvalidCallback::TooLong { len } => write!(
                f,
                "the name is {len} characters long, the limit is {MAX_CALLBACK_LEN}"
            ),
            InvalidCallback::Character {
                character,
                position,
            } => {
                // Control and other invisible characters are shown escaped.
                if character.is_ascii_graphic() || character.is_alphanumeric() {
                    write!(f, "character `{character}`")?;
                } else {
                    write!(f, "character {}", character.escape_unicode())?;
                }
                write!(
                    f,
                    " at position {position} is not allowed (only letters, digits, `_`, `$`, `.`, `[`, `]`)"
                )
            }
        }
    }
}

impl std::error::Error for InvalidCallback {}

/// Checks a callback name.
pub(crate) fn validate(name: &str) -> Result<(), InvalidCallback> {
    if name.is_empty() {
        return Err(InvalidCallback::Empty);
    }
    let mut len = 0;
    for (index, character) in name.chars().enumerate() {
        len = index + 1;
        if len > MAX_CALLBACK_LEN {
            return Err(InvalidCallback::TooLong {
                len: name.chars().count(),
            });
        }
        let allowed = character.is_ascii_alphanumeric() || "_$.[]".contains(character);
        if !allowed {
            return Err(InvalidCallback::Character {
                character,
                position: len,
            });
        }
    }
    debug_assert!(len > 0);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_libraries_generate() {
        for name in [
            "cb",
            "jQuery36001234_1700000000000",
            "window.callbacks[12]",
            "$",
            "_a.b$c",
            &"x".repeat(MAX_CALLBACK_LEN),
        ] {
            assert_eq!(validate(name), Ok(()), "{name}");
        }
    }

    #[test]
    fn refuses_everything_else() {
        assert_eq!(validate(""), Err(InvalidCallback::Empty));
        assert_eq!(
            validate(&"x".repeat(MAX_CALLBACK_LEN + 1)),
            Err(InvalidCallback::TooLong { len: 129 })
        );
        assert_eq!(
            validate("cb);alert(1)//"),
            Err(InvalidCallback::Character {
                character: ')',
                position: 3
            })
        );
        for name in [
            "a b",
            "a\nb",
            "a(b",
            "a'b",
            "a\"b",
            "é",
            "a<b",
            "a\u{2028}",
            "a-b",
        ] {
            assert!(validate(name).is_err(), "{name:?}");
        }
        let err = validate("a\u{2028}").unwrap_err().to_string();
        assert!(err.contains("\\u{2028}"), "{err}");
    }
}
