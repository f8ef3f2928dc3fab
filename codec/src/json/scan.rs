//! A hand-written reader for the common request shape, tried before serde_json.
//!
//! Through serde_json, each member of a request is captured as a
//! `&RawValue` by a visitor and classified afterwards: some 2,300
//! instructions a call in a batch of 100 small calls, half of what a server
//! spends on one. Nearly every frame is the same few shapes, so this module
//! reads those straight off the bytes: one request object, or a batch array
//! of request objects, with exactly the members `jsonrpc` (`"2.0"`),
//! `method` (a string without escapes), and optionally `params` (an array
//! or an object) and `id` (up to 18 digits, a string without escapes, or
//! `null`), in any order, with any JSON whitespace.
//!
//! Its contract is one-sided: it returns exactly the [`Message`] that the
//! serde path would, or `None`, and then the serde path decodes the frame
//! from scratch. Anything else (an unknown or duplicate member, an escape
//! in a name, a value of another type, an invalid request, an empty or
//! over-long batch, invalid JSON, trailing bytes) is given up on, never
//! answered here: so no error, and no error text, ever comes from this
//! module.
//!
//! `params` is kept as the exact byte range of its value, as serde_json's
//! `RawValue` keeps it, and is validated exactly as serde_json validates a
//! value it skips (`ignore_value`): strings without raw control characters
//! and with only the escapes `\" \\ \/ \b \f \n \r \t \uXXXX` (a `\u`
//! escape is not checked for surrogate pairing, as serde_json does not),
//! numbers by the JSON grammar, the three literals, and nesting.
//!
//! The frame arrives as a `&str`: the caller has checked it as UTF-8 (and
//! against the nesting limit), so every slice between two ASCII quotes is a
//! string slice.

use std::ops::Range;

use bytes::Bytes;

use crate::{DecodeLimits, Entry, Id, Message, RawParams, Request};

/// A frame as read here: the message, and how deep the frame nests.
pub(super) struct Scanned {
    pub(super) message: Message,
    /// The deepest nesting of arrays and objects in the frame (the batch
    /// array counts as one), as [`nesting_exceeds`](super::nesting_exceeds)
    /// counts it: so the caller checks the limit without that pass over
    /// the frame, which was a sixth of the instructions of a batch of 100
    /// small calls.
    pub(super) depth: usize,
}

/// The message in `text` (which is `frame`), or `None` to leave the frame
/// to the serde path. The nesting limit is the caller's to check, with
/// [`Scanned::depth`]; the batch length limit is checked here.
pub(super) fn decode(frame: &Bytes, text: &str, limits: &DecodeLimits) -> Option<Scanned> {
    let mut cursor = Cursor::new(text);
    cursor.skip_whitespace();
    let message = if cursor.peek() == Some(b'[') {
        cursor.requests_at = 2;
        cursor.depth = 2;
        Message::Batch(cursor.batch(frame, limits.batch_len())?)
    } else {
        cursor.requests_at = 1;
        cursor.depth = 1;
        Message::Single(Ok(cursor.request(frame)?))
    };
    cursor.skip_whitespace();
    cursor.is_at_end().then_some(Scanned {
        message,
        depth: cursor.depth,
    })
}

/// A position in the frame, read forward. Every reading method returns
/// `None` to give up, with the position then meaningless.
struct Cursor<'f> {
    text: &'f str,
    at: usize,
    /// How deep the request objects are: 1, or 2 in a batch.
    requests_at: usize,
    /// How deep the frame nests, as far as read.
    depth: usize,
}

/// The bytes that end a string's run of plain bytes: the closing quote, a
/// backslash, and the control characters (invalid in a string). One load
/// a byte, instead of three comparisons.
const ENDS_PLAIN_RUN: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = true;
        byte += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

/// The length of the run of plain string bytes `bytes` starts with;
/// `None` if the frame ends first.
fn plain_run_length(bytes: &[u8]) -> Option<usize> {
    bytes
        .iter()
        .position(|&byte| ENDS_PLAIN_RUN[usize::from(byte)])
}

/// The most arrays and objects nested in `params` that are followed
/// (one bit each in [`Nesting`]); deeper params are left to serde_json.
const MAX_NESTING: u32 = u128::BITS;

/// The open arrays and objects of a value being skipped, innermost in the
/// lowest bit (set for an object): a stack that needs no allocation.
#[derive(Default)]
struct Nesting {
    objects: u128,
    depth: u32,
}

impl Nesting {
    /// Opens a container; `None` beyond [`MAX_NESTING`].
    fn open(&mut self, is_object: bool) -> Option<()> {
        if self.depth == MAX_NESTING {
            return None;
        }
        self.objects = self.objects << 1 | u128::from(is_object);
        self.depth += 1;
        Some(())
    }

    /// Whether the innermost open container is an object; `None` if none is open.
    fn innermost_is_object(&self) -> Option<bool> {
        (self.depth > 0).then_some(self.objects & 1 == 1)
    }

    fn close(&mut self) {
        self.objects >>= 1;
        self.depth -= 1;
    }
}

/// The four members of a request.
#[derive(Clone, Copy)]
enum Member {
    Jsonrpc,
    Method,
    Params,
    Id,
}

/// The members of one request as read, each at most once.
#[derive(Default)]
struct Members<'f> {
    jsonrpc: Option<()>,
    method: Option<&'f str>,
    params: Option<Range<usize>>,
    id: Option<Id>,
}

impl Members<'_> {
    /// The request, built as `request_of` builds it; `None` if `jsonrpc` or
    /// `method` is missing (the serde path words that error).
    fn into_request(self, frame: &Bytes) -> Option<Request> {
        self.jsonrpc?;
        Some(Request {
            method: crate::method_name::intern(self.method?),
            params: self
                .params
                .map(|range| RawParams::from_bytes(frame.slice(range))),
            id: self.id,
        })
    }
}

/// Stores a member's value; `None` if the member was already there.
fn set_once<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    match slot {
        Some(_) => None,
        None => {
            *slot = Some(value);
            Some(())
        }
    }
}

impl<'f> Cursor<'f> {
    fn new(text: &'f str) -> Self {
        Cursor {
            text,
            at: 0,
            requests_at: 0,
            depth: 0,
        }
    }

    fn bytes(&self) -> &'f [u8] {
        self.text.as_bytes()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.at += 1;
        Some(byte)
    }

    fn is_at_end(&self) -> bool {
        self.at == self.text.len()
    }

    /// Consumes `expected`, or gives up.
    fn expect(&mut self, expected: u8) -> Option<()> {
        (self.next()? == expected).then_some(())
    }

    /// Consumes `literal`, or gives up. An array, so that the comparison
    /// is of a known length, inline, and not a call to `memcmp`.
    fn expect_all<const N: usize>(&mut self, literal: &[u8; N]) -> Option<()> {
        let rest = self.bytes().get(self.at..)?;
        (rest.first_chunk::<N>() == Some(literal)).then(|| self.at += N)
    }

    /// Skips JSON's whitespace: space, tab, line feed, carriage return
    /// (not form feed, which `u8::is_ascii_whitespace` would take).
    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    /// A batch of requests, `[` next; `None` if it is empty, longer than
    /// `max_len`, or any entry is not a request read here.
    fn batch(&mut self, frame: &Bytes, max_len: usize) -> Option<Vec<Entry>> {
        self.expect(b'[')?;
        let mut entries = Vec::new();
        loop {
            if entries.len() == max_len {
                return None;
            }
            let start = self.at;
            entries.push(Ok(self.request(frame)?));
            if entries.len() == 1 {
                // Room for as many more as the rest of the frame holds if
                // they are the size of the first (a batch's calls tend to
                // be alike), within the limit: one allocation, where a
                // hundred calls grew through six.
                let each = self.at - start + 1;
                entries.reserve_exact(((self.text.len() - self.at) / each).min(max_len - 1));
            }
            self.skip_whitespace();
            match self.next()? {
                b',' => {}
                b']' => return Some(entries),
                _ => return None,
            }
        }
    }

    /// One request object, whitespace before it skipped.
    fn request(&mut self, frame: &Bytes) -> Option<Request> {
        self.skip_whitespace();
        self.expect(b'{')?;
        let mut members = Members::default();
        loop {
            self.skip_whitespace();
            self.expect(b'"')?;
            let member = self.member_name()?;
            self.skip_whitespace();
            self.expect(b':')?;
            self.skip_whitespace();
            self.member(member, &mut members)?;
            self.skip_whitespace();
            match self.next()? {
                b',' => {}
                b'}' => return members.into_request(frame),
                _ => return None,
            }
        }
    }

    /// Which member a name (its opening quote consumed) names, closing
    /// quote consumed; `None` for any other name. The raw bytes are
    /// compared: a name written with an escape never matches, and is given
    /// up on, as is a longer name that starts like one of the four.
    fn member_name(&mut self) -> Option<Member> {
        match self.peek()? {
            b'j' => self.expect_all(b"jsonrpc\"").map(|()| Member::Jsonrpc),
            b'm' => self.expect_all(b"method\"").map(|()| Member::Method),
            b'p' => self.expect_all(b"params\"").map(|()| Member::Params),
            b'i' => self.expect_all(b"id\"").map(|()| Member::Id),
            _ => None,
        }
    }

    /// The value of `member` into `members`; `None` the second time, or for
    /// a value not taken here.
    fn member(&mut self, member: Member, members: &mut Members<'f>) -> Option<()> {
        match member {
            Member::Jsonrpc => {
                let version = self.expect_all(br#""2.0""#);
                set_once(&mut members.jsonrpc, version?)
            }
            Member::Method => {
                self.expect(b'"')?;
                let method = self.plain_string()?;
                set_once(&mut members.method, method)
            }
            Member::Params => {
                let params = self.params()?;
                set_once(&mut members.params, params)
            }
            Member::Id => {
                let id = self.id()?;
                set_once(&mut members.id, id)
            }
        }
    }

    /// The contents of a string whose opening quote has been consumed, if
    /// they hold no escape (then they are the string itself) and no control
    /// character (which makes the frame invalid).
    fn plain_string(&mut self) -> Option<&'f str> {
        let start = self.at;
        let length = plain_run_length(&self.bytes()[start..])?;
        let end = start + length;
        if self.bytes()[end] != b'"' {
            return None;
        }
        self.at = end + 1;
        // Both ends are next to ASCII quotes, so on character boundaries.
        self.text.get(start..end)
    }

    /// An id as `id_of` reads it: up to 18 digits, a string without
    /// escapes, or `null`. Anything else is left to serde_json.
    fn id(&mut self) -> Option<Id> {
        match self.peek()? {
            b'"' => {
                self.at += 1;
                Some(Id::Str(self.plain_string()?.into()))
            }
            b'n' => {
                self.expect_all(b"null")?;
                Some(Id::Null)
            }
            b'0'..=b'9' => self.small_integer().map(Id::Int),
            _ => None,
        }
    }

    /// A non-negative integer of up to 18 digits, which always fits an
    /// i64; `None` for a leading zero before another digit (invalid JSON),
    /// a fraction or exponent, or more digits.
    fn small_integer(&mut self) -> Option<i64> {
        let digits = self.bytes()[self.at..]
            .iter()
            .take_while(|byte| byte.is_ascii_digit())
            .count();
        let text = &self.bytes()[self.at..self.at + digits];
        if digits > 18 || (digits > 1 && text[0] == b'0') {
            return None;
        }
        self.at += digits;
        if let Some(b'.' | b'e' | b'E') = self.peek() {
            return None;
        }
        Some(
            text.iter()
                .fold(0, |value, digit| value * 10 + i64::from(digit - b'0')),
        )
    }

    /// The byte range of a `params` value, an array or an object, checked
    /// as JSON; [`Cursor::depth`] grows to what it nests.
    fn params(&mut self) -> Option<Range<usize>> {
        let start = self.at;
        if !matches!(self.peek()?, b'[' | b'{') {
            return None;
        }
        let nested = self.skip_value()?;
        self.depth = self.depth.max(self.requests_at + nested);
        Some(start..self.at)
    }

    /// Skips one JSON value, checking it as serde_json's `ignore_value`
    /// does; how deep it nests (0 for a scalar). Iterative, so that deep
    /// params cannot overflow the stack.
    fn skip_value(&mut self) -> Option<usize> {
        let mut nesting = Nesting::default();
        let mut deepest = 0;
        loop {
            self.skip_whitespace();
            match self.next()? {
                open @ (b'[' | b'{') => {
                    let is_object = open == b'{';
                    self.skip_whitespace();
                    // Counted, empty or not.
                    deepest = deepest.max(nesting.depth + 1);
                    if !self.close_if_empty(is_object) {
                        nesting.open(is_object)?;
                        if is_object {
                            self.skip_member_name()?;
                        }
                        continue;
                    }
                }
                b'"' => self.skip_string()?,
                b't' => self.expect_all(b"rue")?,
                b'f' => self.expect_all(b"alse")?,
                b'n' => self.expect_all(b"ull")?,
                first @ (b'-' | b'0'..=b'9') => self.skip_number(first)?,
                _ => return None,
            }
            // A value is complete: close what it completes, up to the
            // next element or member.
            loop {
                let Some(is_object) = nesting.innermost_is_object() else {
                    return Some(deepest as usize);
                };
                self.skip_whitespace();
                match self.next()? {
                    b',' => {
                        if is_object {
                            self.skip_member_name()?;
                        }
                        break;
                    }
                    b']' if !is_object => nesting.close(),
                    b'}' if is_object => nesting.close(),
                    _ => return None,
                }
            }
        }
    }

    /// Consumes the closing bracket of a container just opened, if it is next.
    fn close_if_empty(&mut self, is_object: bool) -> bool {
        let close = if is_object { b'}' } else { b']' };
        let empty = self.peek() == Some(close);
        if empty {
            self.at += 1;
        }
        empty
    }

    /// Skips `"name":` inside an object, whitespace around it included.
    fn skip_member_name(&mut self) -> Option<()> {
        self.skip_whitespace();
        self.expect(b'"')?;
        self.skip_string()?;
        self.skip_whitespace();
        self.expect(b':')
    }

    /// Skips a string whose opening quote has been consumed, checking it as
    /// serde_json's `ignore_str` does: no raw control character, and only
    /// JSON's escapes (`\u` with four hex digits, of any value).
    fn skip_string(&mut self) -> Option<()> {
        loop {
            let rest = &self.bytes()[self.at..];
            let length = plain_run_length(rest)?;
            self.at += length + 1;
            match rest[length] {
                b'"' => return Some(()),
                b'\\' => self.skip_escape()?,
                _ => return None,
            }
        }
    }

    /// Skips the rest of an escape whose backslash has been consumed.
    fn skip_escape(&mut self) -> Option<()> {
        match self.next()? {
            b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Some(()),
            b'u' => {
                let hex = self.bytes().get(self.at..self.at + 4)?;
                self.at += 4;
                hex.iter().all(u8::is_ascii_hexdigit).then_some(())
            }
            _ => None,
        }
    }

    /// Skips the rest of a number whose first byte (`first`, a `-` or a
    /// digit) has been consumed: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    fn skip_number(&mut self, first: u8) -> Option<()> {
        let leading = if first == b'-' { self.next()? } else { first };
        match leading {
            b'0' => {
                if self.peek().is_some_and(|byte| byte.is_ascii_digit()) {
                    return None;
                }
            }
            b'1'..=b'9' => {
                self.skip_digits();
            }
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            self.skip_at_least_one_digit()?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            self.skip_at_least_one_digit()?;
        }
        Some(())
    }

    /// Skips digits; how many there were.
    fn skip_digits(&mut self) -> usize {
        let count = self.bytes()[self.at..]
            .iter()
            .take_while(|byte| byte.is_ascii_digit())
            .count();
        self.at += count;
        count
    }

    fn skip_at_least_one_digit(&mut self) -> Option<()> {
        (self.skip_digits() > 0).then_some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::{checked_text, decode_with_serde, nesting_exceeds};

    fn tight() -> DecodeLimits {
        DecodeLimits::default().max_depth(3).max_batch_len(2)
    }

    /// Decodes `text` both ways under `limits`; asserts that the fast path,
    /// if it answers, answers as serde_json does, with params borrowed from
    /// the frame. Whether the fast path answered.
    fn agrees_under(text: &[u8], limits: &DecodeLimits) -> bool {
        let frame = Bytes::copy_from_slice(text);
        let Ok(checked) = checked_text(&frame, limits) else {
            return false;
        };
        let Some(Scanned {
            message: fast,
            depth,
        }) = decode(&frame, checked, limits)
        else {
            return false;
        };
        // The depth measured is the one the nesting check finds.
        for limit in 0..depth + 2 {
            assert_eq!(
                depth > limit,
                nesting_exceeds(text, limit),
                "{:?} under {limit}",
                String::from_utf8_lossy(text)
            );
        }
        let slow = decode_with_serde(&frame, checked, limits);
        assert_eq!(
            format!("{fast:?}"),
            format!("{slow:?}"),
            "{:?}",
            String::from_utf8_lossy(text)
        );
        for request in requests(&fast) {
            if let Some(params) = request.params.as_ref() {
                let bytes = params.as_bytes().expect("params kept as bytes");
                let start = bytes.as_ptr() as usize - frame.as_ptr() as usize;
                assert!(
                    start + bytes.len() <= frame.len(),
                    "params not in the frame"
                );
            }
        }
        true
    }

    /// [`agrees_under`], default and tight limits; whether the fast path
    /// answered under the default ones.
    fn agrees(text: &[u8]) -> bool {
        agrees_under(text, &tight());
        agrees_under(text, &DecodeLimits::default())
    }

    fn requests(message: &Message) -> Vec<&Request> {
        match message {
            Message::Single(entry) => entry.iter().collect(),
            Message::Batch(entries) => entries.iter().flatten().collect(),
        }
    }

    include!("scan_frames.rs");

    #[test]
    fn common_shapes_are_answered_as_serde_json_answers_them() {
        for text in ANSWERED {
            assert!(agrees(text.as_bytes()), "not answered: {text:?}");
        }
    }

    #[test]
    fn other_frames_are_given_up_on_or_answered_alike() {
        for text in OTHERS {
            agrees(text.as_bytes());
        }
    }

    #[test]
    fn every_truncation_agrees() {
        for text in ANSWERED.iter().chain(OTHERS) {
            for end in 0..text.len() {
                agrees(&text.as_bytes()[..end]);
            }
        }
    }

    /// Each byte of the common frames replaced by bytes that matter to the
    /// grammar: a small exhaustive fuzz.
    #[test]
    fn every_single_byte_change_agrees() {
        const BYTES: &[u8] = b" \t\n\r\x0c\x00\x1f\"\\/,:[]{}0129-+.eEabfnrtux";
        for text in ANSWERED {
            for at in 0..text.len() {
                for &byte in BYTES {
                    let mut changed = text.as_bytes().to_vec();
                    changed[at] = byte;
                    agrees(&changed);
                    changed.insert(at, byte);
                    agrees(&changed);
                }
            }
        }
    }

    #[test]
    fn params_nested_beyond_what_is_followed_are_given_up_on() {
        let deep = |depth: usize| {
            format!(
                r#"{{"jsonrpc":"2.0","method":"m","params":{}{},"id":1}}"#,
                "[".repeat(depth),
                "]".repeat(depth)
            )
        };
        let limits = DecodeLimits::default().max_depth(1000);
        // The innermost, empty, array is never opened.
        assert!(agrees_under(deep(129).as_bytes(), &limits));
        assert!(!agrees_under(deep(130).as_bytes(), &limits));
    }
}
