//! The headers of an answer no handler changed, made once per server.
//!
//! Nearly every answer carries the same few headers: its codec's media
//! type, and `Vary: accept-encoding` when the server compresses. Made
//! afresh for each answer (each name hashed, the map grown twice) they cost
//! about 550 instructions of a small echo's 16,300; a clone of a map made
//! once costs a third of that. A handler that changes the response gets
//! the headers built the usual way, so that its changes land where they
//! always did.

use std::sync::Arc;

use http::header::{self, HeaderMap, HeaderValue};
use rpckit_codec::Codec;

/// The plain headers of each media type the server's routes answer in.
#[derive(Debug)]
pub(crate) struct PlainHeaders {
    by_media_type: Vec<(&'static str, HeaderMap)>,
    vary: bool,
}

impl PlainHeaders {
    /// For answers in the media types of `codecs`; with `vary` they say
    /// that they vary with the client's `Accept-Encoding`.
    pub(crate) fn new<'a>(
        codecs: impl IntoIterator<Item = &'a Arc<dyn Codec>>,
        vary: bool,
    ) -> Self {
        let mut by_media_type: Vec<(&'static str, HeaderMap)> = Vec::new();
        for codec in codecs {
            let Some(&media_type) = codec.media_types().first() else {
                continue;
            };
            if by_media_type.iter().all(|(known, _)| *known != media_type) {
                by_media_type.push((media_type, headers(Some(media_type), vary)));
            }
        }
        PlainHeaders {
            by_media_type,
            vary,
        }
    }

    /// The plain headers of an answer in `codec`'s media type.
    pub(crate) fn of(&self, codec: &dyn Codec) -> HeaderMap {
        let media_type = codec.media_types().first().copied();
        self.by_media_type
            .iter()
            .find(|(known, _)| Some(*known) == media_type)
            .map_or_else(
                || headers(media_type, self.vary),
                |(_, headers)| headers.clone(),
            )
    }
}

fn headers(media_type: Option<&'static str>, vary: bool) -> HeaderMap {
    let mut headers = HeaderMap::with_capacity(2);
    headers.insert(header::CONTENT_TYPE, content_type(media_type));
    if vary {
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    headers
}

/// The codec's first media type; a custom codec that names none (or an
/// invalid one) gets the generic binary type.
pub(crate) fn content_type(media_type: Option<&'static str>) -> HeaderValue {
    media_type
        .and_then(|media| {
            HeaderValue::from_maybe_shared(bytes::Bytes::from_static(media.as_bytes())).ok()
        })
        .unwrap_or_else(|| HeaderValue::from_static("application/octet-stream"))
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

    #[test]
    fn a_codec_of_no_route_still_gets_its_own_media_type() {
        let plain = PlainHeaders::new(Codecs::new(JsonCodec::default()).iter(), true);
        let other = plain.of(&Other);
        assert_eq!(other[header::CONTENT_TYPE], "application/x-other");
        assert_eq!(other[header::VARY], "accept-encoding");
    }
}
