//! The headers of an answer no handler changed, made once per server.
//!
//! Nearly every answer carries the same few headers: its codec's media
//! type, and `Vary: accept-encoding` when the server compresses. Made
//! afresh for each answer (each name hashed, the map grown twice) they cost
//! about 550 instructions of a small echo's 16,300; a clone of a map made
//! once costs a third of that ([`PlainHeaders::of`]). The fast HTTP/1
//! connection needs no map at all: it writes the headers into the head it
//! writes anyway, from a [`PlainHead`] the answer's body carries, which
//! costs no allocation (the clone cost two, and with freeing the map and
//! writing it out about 600 instructions of a small echo's 16,000). A
//! handler that changes the response gets the headers built the usual
//! way, so that its changes land where they always did.

use std::sync::Arc;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use rpckit_codec::Codec;

/// `Content-Type` for a codec that names no media type (or an invalid one).
const OCTET_STREAM: &str = "application/octet-stream";

/// The plain headers of each media type the server's routes answer in.
#[derive(Debug)]
pub(crate) struct PlainHeaders {
    by_media_type: Vec<Plain>,
    vary: bool,
}

/// The plain headers of one media type, as a map and as a [`PlainHead`].
#[derive(Debug)]
struct Plain {
    media_type: &'static str,
    head: PlainHead,
    headers: HeaderMap,
}

impl PlainHeaders {
    /// For answers in the media types of `codecs`; with `vary` they say
    /// that they vary with the client's `Accept-Encoding`.
    pub(crate) fn new<'a>(
        codecs: impl IntoIterator<Item = &'a Arc<dyn Codec>>,
        vary: bool,
    ) -> Self {
        let mut by_media_type: Vec<Plain> = Vec::new();
        for codec in codecs {
            let Some(&media_type) = codec.media_types().first() else {
                continue;
            };
            if by_media_type
                .iter()
                .all(|known| known.media_type != media_type)
            {
                let head = PlainHead::new(Some(media_type), vary);
                by_media_type.push(Plain {
                    media_type,
                    headers: head.headers(),
                    head,
                });
            }
        }
        PlainHeaders {
            by_media_type,
            vary,
        }
    }

    /// The plain headers of an answer in `codec`'s media type.
    pub(crate) fn of(&self, codec: &dyn Codec) -> HeaderMap {
        match self.known(codec) {
            Ok(plain) => plain.headers.clone(),
            Err(head) => head.headers(),
        }
    }

    /// The same headers, for the fast HTTP/1 connection to write itself.
    pub(crate) fn head(&self, codec: &dyn Codec) -> PlainHead {
        match self.known(codec) {
            Ok(plain) => plain.head,
            Err(head) => head,
        }
    }

    /// The entry of `codec`'s media type, or (for a codec of no route) its
    /// head made now.
    fn known(&self, codec: &dyn Codec) -> Result<&Plain, PlainHead> {
        let media_type = codec.media_types().first().copied();
        self.by_media_type
            .iter()
            .find(|known| Some(known.media_type) == media_type)
            .ok_or_else(|| PlainHead::new(media_type, self.vary))
    }
}

/// The plain headers of one answer, not in its map: the fast HTTP/1
/// connection [writes](PlainHead::write) them into the answer's head. It
/// travels in the answer's [`Body`](crate::Body); whatever changes the
/// response after all (CORS, a handler's late change) first
/// [puts them in the map](PlainHead::insert_into).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PlainHead {
    /// A valid header value.
    content_type: &'static str,
    /// One more header, its name (in lowercase) and value valid: `Vary`
    /// for answers that may be compressed, `X-Content-Type-Options` for
    /// JSONP's.
    also: Option<(&'static str, &'static str)>,
}

impl PlainHead {
    fn new(media_type: Option<&'static str>, vary: bool) -> Self {
        let valid = |media: &&str| HeaderValue::from_str(media).is_ok();
        PlainHead {
            content_type: media_type.filter(valid).unwrap_or(OCTET_STREAM),
            also: vary.then_some(("vary", "accept-encoding")),
        }
    }

    /// A JSONP answer's (or a plain JSON one's, to a `GET`): `content_type`
    /// (valid), not to be sniffed as anything else.
    pub(crate) const fn jsonp(content_type: &'static str) -> Self {
        PlainHead {
            content_type,
            also: Some(("x-content-type-options", "nosniff")),
        }
    }

    /// Appends the header lines to a response head being written.
    pub(crate) fn write(self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"content-type: ");
        out.extend_from_slice(self.content_type.as_bytes());
        out.extend_from_slice(b"\r\n");
        if let Some((name, value)) = self.also {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }

    /// Puts the headers first in `headers`, as [`PlainHeaders::of`] would
    /// have made them, before whatever `headers` holds.
    pub(crate) fn insert_into(self, headers: &mut HeaderMap) {
        let added = std::mem::replace(headers, self.headers());
        for (name, value) in &added {
            headers.append(name, value.clone());
        }
    }

    /// The headers as a map.
    pub(crate) fn headers(self) -> HeaderMap {
        let mut headers = HeaderMap::with_capacity(2);
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type),
        );
        if let Some((name, value)) = self.also {
            headers.insert(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        headers
    }
}

/// The codec's first media type; a custom codec that names none (or an
/// invalid one) gets the generic binary type.
pub(crate) fn content_type(media_type: Option<&'static str>) -> HeaderValue {
    media_type
        .and_then(|media| {
            HeaderValue::from_maybe_shared(bytes::Bytes::from_static(media.as_bytes())).ok()
        })
        .unwrap_or_else(|| HeaderValue::from_static(OCTET_STREAM))
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use rpckit_codec::{
        Codecs, DecodeLimits, JsonCodec, Message, RawParams, Reply, Serializable, ValueError, Visit,
    };

    use super::*;

    /// JSON under another media type.
    #[derive(Debug)]
    struct Other;

    impl Codec for Other {
        fn name(&self) -> &'static str {
            "other"
        }
        fn media_types(&self) -> &'static [&'static str] {
            &["application/x-other"]
        }
        fn decode(&self, frame: Bytes, limits: &DecodeLimits) -> Message {
            JsonCodec::default().decode(frame, limits)
        }
        fn deserialize_params(&self, raw: &RawParams, visit: Visit<'_>) -> Result<(), ValueError> {
            JsonCodec::default().deserialize_params(raw, visit)
        }
        fn encode_value(
            &self,
            value: Serializable<'_>,
            out: &mut Vec<u8>,
        ) -> Result<(), ValueError> {
            JsonCodec::default().encode_value(value, out)
        }
        fn encode_reply(&self, reply: &Reply, out: &mut Vec<u8>) {
            JsonCodec::default().encode_reply(reply, out);
        }
    }

    /// JSON under a media type of no route.
    #[derive(Debug)]
    struct Unlisted;

    /// JSON under a media type no header may hold.
    #[derive(Debug)]
    struct Invalid;

    macro_rules! json_as {
        ($codec:ty, $media_type:literal) => {
            impl Codec for $codec {
                fn name(&self) -> &'static str {
                    $media_type
                }
                fn media_types(&self) -> &'static [&'static str] {
                    &[$media_type]
                }
                fn decode(&self, frame: Bytes, limits: &DecodeLimits) -> Message {
                    Other.decode(frame, limits)
                }
                fn deserialize_params(
                    &self,
                    raw: &RawParams,
                    visit: Visit<'_>,
                ) -> Result<(), ValueError> {
                    Other.deserialize_params(raw, visit)
                }
                fn encode_value(
                    &self,
                    value: Serializable<'_>,
                    out: &mut Vec<u8>,
                ) -> Result<(), ValueError> {
                    Other.encode_value(value, out)
                }
                fn encode_reply(&self, reply: &Reply, out: &mut Vec<u8>) {
                    Other.encode_reply(reply, out);
                }
            }
        };
    }

    json_as!(Unlisted, "application/x-unlisted");
    json_as!(Invalid, "application/json\nx-injected: 1");

    #[test]
    fn each_media_type_gets_its_content_type_and_vary_when_compressing() {
        let codecs = Codecs::new(JsonCodec::default()).with(Other);
        let plain = PlainHeaders::new(codecs.iter(), true);
        assert_eq!(plain.by_media_type.len(), 2);
        let json = plain.of(&JsonCodec::default());
        assert_eq!(json[header::CONTENT_TYPE], "application/json");
        assert_eq!(json[header::VARY], "accept-encoding");
        assert_eq!(json.len(), 2);
        let other = plain.of(&Other);
        assert_eq!(other[header::CONTENT_TYPE], "application/x-other");

        let plain = PlainHeaders::new(codecs.iter(), false);
        let json = plain.of(&JsonCodec::default());
        assert_eq!(json.len(), 1);
        assert!(json.get(header::VARY).is_none());
    }

    /// A head as the fast connection writes it: the map's lines.
    fn written(head: PlainHead) -> String {
        let mut out = Vec::new();
        head.write(&mut out);
        String::from_utf8(out).unwrap()
    }

    fn lines(headers: &HeaderMap) -> String {
        let line = |(name, value): (&header::HeaderName, &HeaderValue)| {
            format!("{name}: {}\r\n", value.to_str().unwrap())
        };
        headers.iter().map(line).collect()
    }

    #[test]
    fn a_plain_head_writes_and_inserts_what_the_map_holds() {
        let codecs = Codecs::new(JsonCodec::default()).with(Other);
        for vary in [true, false] {
            let plain = PlainHeaders::new(codecs.iter(), vary);
            for codec in [&JsonCodec::default() as &dyn Codec, &Other, &Unlisted] {
                let map = plain.of(codec);
                let head = plain.head(codec);
                assert_eq!(written(head), lines(&map));

                let mut headers = HeaderMap::new();
                headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                head.insert_into(&mut headers);
                assert_eq!(lines(&headers), lines(&map) + "content-encoding: gzip\r\n");
            }
        }
    }

    #[test]
    fn an_invalid_media_type_is_answered_as_octets() {
        let plain = PlainHeaders::new(Codecs::new(Invalid).iter(), false);
        assert_eq!(
            written(plain.head(&Invalid)),
            "content-type: application/octet-stream\r\n"
        );
        assert_eq!(lines(&plain.of(&Invalid)), written(plain.head(&Invalid)));
    }

    #[test]
    fn a_codec_of_no_route_still_gets_its_own_media_type() {
        let plain = PlainHeaders::new(Codecs::new(JsonCodec::default()).iter(), true);
        let other = plain.of(&Other);
        assert_eq!(other[header::CONTENT_TYPE], "application/x-other");
        assert_eq!(other[header::VARY], "accept-encoding");
    }
}
