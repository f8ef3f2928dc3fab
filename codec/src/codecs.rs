//! A set of codecs and the choice among them by media type.

use std::fmt;
use std::sync::Arc;

use crate::Codec;

/// The codecs an endpoint accepts, and the default for frames that name none.
///
/// The first codec added is the default. When two codecs claim the same
/// media type the one added later wins, which is how SIMD-JSON takes
/// `application/json` over serde_json:
///
/// ```
/// use rpckit_codec::{Codecs, JsonCodec};
///
/// let codecs = Codecs::new(JsonCodec::default());
/// assert_eq!(codecs.negotiate(Some("application/json; charset=utf-8")).unwrap().name(), "json");
/// assert_eq!(codecs.negotiate(None).unwrap().name(), "json");
/// assert!(codecs.negotiate(Some("text/plain")).is_err());
/// ```
#[derive(Clone)]
pub struct Codecs {
    list: Arc<[Arc<dyn Codec>]>,
    /// Which codec of `list` takes `application/json`, the `Content-Type`
    /// of nearly every request: found when the set is made, so that such a
    /// request compares one string instead of asking each codec.
    json: Option<usize>,
}

/// The media type [`Codecs::negotiate`] answers without a search.
const JSON: &str = "application/json";

impl Codecs {
    /// A set holding only `default`.
    pub fn new(default: impl Codec) -> Self {
        Self::of(Arc::from([Arc::new(default) as Arc<dyn Codec>]))
    }

    fn of(list: Arc<[Arc<dyn Codec>]>) -> Self {
        let json = Self::search(&list, JSON);
        Codecs { list, json }
    }

    /// The index of the codec that takes `essence`: the last one added
    /// that names it.
    fn search(list: &[Arc<dyn Codec>], essence: &str) -> Option<usize> {
        list.iter().rposition(|codec| {
            codec
                .media_types()
                .iter()
                .any(|media| media.eq_ignore_ascii_case(essence))
        })
    }

    /// Adds a codec; for the media types it shares with earlier ones, it wins.
    pub fn with(self, codec: impl Codec) -> Self {
        self.with_shared(Arc::new(codec))
    }

    /// Adds a codec already behind an `Arc`.
    pub fn with_shared(self, codec: Arc<dyn Codec>) -> Self {
        let mut list = self.list.to_vec();
        list.push(codec);
        Self::of(list.into())
    }

    /// Makes the codec named `name` the default, for frames without a media
    /// type. Returns `None` when no codec has that name.
    pub fn default_to(self, name: &str) -> Option<Self> {
        let index = self.list.iter().position(|codec| codec.name() == name)?;
        let mut list = self.list.to_vec();
        let codec = list.remove(index);
        list.insert(0, codec);
        Some(Self::of(list.into()))
    }

    /// The codec for frames that name no media type.
    pub fn default_codec(&self) -> &Arc<dyn Codec> {
        &self.list[0]
    }

    /// Every codec, the default first.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn Codec>> {
        self.list.iter()
    }

    /// Picks the codec for a `Content-Type` header value: its essence, case
    /// and parameters ignored. No header, or an empty one, picks the default.
    pub fn negotiate(
        &self,
        content_type: Option<&str>,
    ) -> Result<&Arc<dyn Codec>, UnsupportedMediaType> {
        if let (Some(JSON), Some(index)) = (content_type, self.json) {
            return Ok(&self.list[index]);
        }
        let essence = content_type
            .map(|value| value.split(';').next().unwrap_or("").trim())
            .unwrap_or("");
        if essence.is_empty() {
            return Ok(self.default_codec());
        }
        Self::search(&self.list, essence)
            .map(|index| &self.list[index])
            .ok_or_else(|| UnsupportedMediaType {
                media_type: essence.to_owned(),
            })
    }
}

/// The set every endpoint gets unless told otherwise: JSON, plus CBOR and
/// MessagePack when their features are on. SIMD-JSON is opt-in per endpoint.
impl Default for Codecs {
    fn default() -> Self {
        let codecs = Codecs::new(crate::JsonCodec::default());
        #[cfg(feature = "cbor")]
        let codecs = codecs.with(crate::CborCodec::default());
        #[cfg(feature = "msgpack")]
        let codecs = codecs.with(crate::MsgPackCodec::default());
        codecs
    }
}

impl fmt::Debug for Codecs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.list.iter().map(|codec| codec.name()))
            .finish()
    }
}

/// No codec of the set answers to the frame's media type (HTTP 415).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnsupportedMediaType {
    media_type: String,
}

impl UnsupportedMediaType {
    /// The media type that was asked for.
    pub fn media_type(&self) -> &str {
        &self.media_type
    }
}

impl fmt::Display for UnsupportedMediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unsupported media type `{}`", self.media_type)
    }
}

impl std::error::Error for UnsupportedMediaType {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::JsonCodec;

    #[derive(Debug)]
    struct Other;

    impl Codec for Other {
        fn name(&self) -> &'static str {
            "other"
        }
        fn media_types(&self) -> &'static [&'static str] {
            &["application/x-other", "application/json"]
        }
        fn decode(&self, _: bytes::Bytes, _: &crate::DecodeLimits) -> crate::Message {
            crate::Message::error(crate::ErrorObject::internal_error("unused"))
        }
        fn deserialize_params(
            &self,
            _: &crate::RawParams,
            _: crate::Visit<'_>,
        ) -> Result<(), crate::ValueError> {
            Ok(())
        }
        fn encode_value(
            &self,
            _: crate::Serializable<'_>,
            _: &mut Vec<u8>,
        ) -> Result<(), crate::ValueError> {
            Ok(())
        }
        fn encode_reply(&self, _: &crate::Reply, _: &mut Vec<u8>) {}
    }

    #[test]
    fn later_codecs_win_shared_media_types_and_the_default_can_move() {
        let codecs = Codecs::new(JsonCodec::default()).with(Other);
        let pick = |ct: Option<&str>| codecs.negotiate(ct).map(|c| c.name());
        assert_eq!(pick(Some("APPLICATION/JSON")), Ok("other"));
        // The exact `application/json` that skips the search picks the same.
        assert_eq!(pick(Some("application/json")), Ok("other"));
        let json_only = Codecs::new(JsonCodec::default());
        assert_eq!(
            json_only
                .negotiate(Some("application/json"))
                .unwrap()
                .name(),
            "json"
        );
        let no_json = Codecs::new(Other).default_to("other").unwrap();
        assert_eq!(
            no_json.negotiate(Some("application/json")).unwrap().name(),
            "other"
        );
        assert_eq!(pick(Some("application/json-rpc")), Ok("json"));
        assert_eq!(pick(None), Ok("json"));
        assert_eq!(pick(Some("")), Ok("json"));
        assert_eq!(
            pick(Some("text/html; charset=utf-8"))
                .unwrap_err()
                .media_type(),
            "text/html"
        );
        let moved = codecs.clone().default_to("other").unwrap();
        assert_eq!(moved.negotiate(None).unwrap().name(), "other");
        assert!(codecs.default_to("nope").is_none());
    }
}
