//! A single response written around its result, in the result's own buffer.
//!
//! A result is encoded once ([`encode_value`](crate::encode_value)), and a
//! reply splices it in. For one response with a large result, splicing
//! meant a second buffer of the result's size and a copy into it: a 128 KiB
//! echo touched 256 KiB of fresh memory to send 128 KiB, more than the
//! core's cache holds beside the rest of the request. Here the envelope is
//! written around the result where it lies: the result moves up by the
//! few bytes of the envelope's head (within memory just written, still in
//! the cache), the id goes after it.

use bytes::BytesMut;

use crate::codec::Builtin;
use crate::{Codec, Encoded, Id, Reply, Response};

/// How a built-in codec writes a response with a result: the bytes before
/// the result (`{"jsonrpc":"2.0","result":` in JSON) and, after it, the id
/// and the end of the object. The codec's own reply writer uses the same
/// two, so both ways give the same bytes.
pub(crate) struct ResultEnvelope {
    pub(crate) head: &'static [u8],
    pub(crate) write_tail: fn(&Id, &mut Vec<u8>),
}

/// Encodes `reply` by writing its envelope around its result, in the
/// result's own buffer, when it is a single response with a result in a
/// built-in codec and that buffer is the result's alone with room for the
/// envelope. Otherwise gives the reply back, for
/// [`Codec::encode_reply`] to encode into a buffer of its own.
///
/// The buffer is never grown: a result encoded on one thread may be
/// replied on another, and glibc grows a block under its owner thread's
/// heap lock. Result buffers start a little larger than the result they
/// expect ([`encode_value`](crate::encode_value)), so there is room.
///
/// Not part of the stable API: rpckit's codec layer uses it for large
/// replies.
///
/// ```
/// use rpckit_codec::{encode_around_result, encode_value, Codec, Id, JsonCodec, Reply, Response};
///
/// let codec = JsonCodec::default();
/// let result = encode_value(&codec, &vec!["some text"; 2_000]).unwrap();
/// let reply = Reply::Single(Response { id: Id::Int(7), outcome: Ok(result) });
/// let mut expected = Vec::new();
/// codec.encode_reply(&reply, &mut expected);
/// let written = match encode_around_result(&codec, reply) {
///     Ok(written) => written,
///     Err(reply) => {
///         let mut out = Vec::new();
///         codec.encode_reply(&reply, &mut out);
///         out
///     }
/// };
/// assert_eq!(written, expected);
/// ```
#[doc(hidden)]
pub fn encode_around_result(codec: &dyn Codec, reply: Reply) -> Result<Vec<u8>, Reply> {
    let Some(envelope) = codec.builtin().and_then(result_envelope) else {
        return Err(reply);
    };
    let Reply::Single(Response {
        id,
        outcome: Ok(Encoded(result)),
    }) = reply
    else {
        return Err(reply);
    };
    let give_back = |result: BytesMut, id| {
        Err(Reply::Single(Response {
            id,
            outcome: Ok(Encoded(result.freeze())),
        }))
    };
    let result = match result.try_into_mut() {
        Ok(result) => result,
        Err(shared) => {
            return Err(Reply::Single(Response {
                id,
                outcome: Ok(Encoded(shared)),
            }))
        }
    };
    let mut tail = Vec::with_capacity(16);
    (envelope.write_tail)(&id, &mut tail);
    let head = envelope.head;
    if result.capacity() - result.len() < head.len() + tail.len() {
        return give_back(result, id);
    }
    // Moves the result to the start of its block when a view into it was
    // taken; never allocates, the block being this handle's alone.
    let mut buffer = Vec::from(result);
    let len = buffer.len();
    buffer.resize(len + head.len(), 0);
    buffer.copy_within(..len, head.len());
    buffer[..head.len()].copy_from_slice(head);
    buffer.extend_from_slice(&tail);
    Ok(buffer)
}

/// The envelope of a built-in codec's replies.
fn result_envelope(codec: Builtin) -> Option<&'static ResultEnvelope> {
    match codec {
        Builtin::Json | Builtin::SimdJson => Some(&crate::json::RESULT_ENVELOPE),
        #[cfg(feature = "cbor")]
        Builtin::Cbor => Some(&crate::cbor::RESULT_ENVELOPE),
        #[cfg(feature = "msgpack")]
        Builtin::MsgPack => Some(&crate::msgpack::RESULT_ENVELOPE),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::{encode_value, ErrorObject, JsonCodec};

    fn large_result(codec: &dyn Codec) -> Encoded {
        let items: Vec<(u32, String)> = (0..2_000).map(|i| (i, format!("item {i}"))).collect();
        encode_value(codec, &items).unwrap()
    }

    fn codecs() -> Vec<Box<dyn Codec>> {
        let mut codecs: Vec<Box<dyn Codec>> = vec![Box::new(JsonCodec::default())];
        #[cfg(feature = "simd-json")]
        codecs.push(Box::new(crate::SimdJsonCodec::default()));
        #[cfg(feature = "cbor")]
        codecs.push(Box::new(crate::CborCodec::default()));
        #[cfg(feature = "msgpack")]
        codecs.push(Box::new(crate::MsgPackCodec::default()));
        codecs
    }

    fn ids() -> Vec<Id> {
        vec![
            Id::Int(1),
            Id::Int(-12_345_678_901),
            Id::Uint(u64::MAX),
            Id::Float(2.5),
            Id::from("a string id with \"quotes\" and \u{e9}"),
            Id::from("x".repeat(300).as_str()),
            Id::Null,
        ]
    }

    /// The same bytes as the codec's own reply writer, for every built-in
    /// codec and every kind of id, written into the result's own block.
    #[test]
    fn writes_the_codecs_reply_in_the_results_block() {
        for codec in codecs() {
            for id in ids() {
                let result = large_result(&*codec);
                let block = result.0.as_ptr();
                let reply = Reply::Single(Response {
                    id: id.clone(),
                    outcome: Ok(result),
                });
                let mut expected = Vec::new();
                codec.encode_reply(&reply, &mut expected);
                let Ok(written) = encode_around_result(&*codec, reply) else {
                    panic!("{} with id {id:?}: given back", codec.name());
                };
                assert_eq!(written, expected, "{} with id {id:?}", codec.name());
                assert_eq!(written.as_ptr(), block, "{}: not in place", codec.name());
            }
        }
    }

    #[test]
    fn gives_back_what_it_cannot_write_in_place() {
        let codec = JsonCodec::default();
        let result = large_result(&codec);
        // A result shared with someone else: its bytes are not ours to move.
        let shared = result.clone();
        let reply = Reply::Single(Response {
            id: Id::Int(1),
            outcome: Ok(result),
        });
        let Err(Reply::Single(back)) = encode_around_result(&codec, reply) else {
            panic!("a shared result was written in place");
        };
        assert_eq!(back.outcome, Ok(shared));

        // A block without room for the envelope is not grown.
        let full = Encoded(Bytes::from(b"[1,2,3]".to_vec()));
        let reply = Reply::Single(Response {
            id: Id::Int(1),
            outcome: Ok(full.clone()),
        });
        let Err(Reply::Single(back)) = encode_around_result(&codec, reply) else {
            panic!("a full block was grown");
        };
        assert_eq!(back.outcome, Ok(full));

        // Errors and batches are the codec's to write.
        let error = Reply::Single(Response {
            id: Id::Int(1),
            outcome: Err(ErrorObject::method_not_found("nope")),
        });
        assert!(encode_around_result(&codec, error).is_err());
        let batch = Reply::Batch(vec![Response {
            id: Id::Int(1),
            outcome: Ok(large_result(&codec)),
        }]);
        assert!(encode_around_result(&codec, batch).is_err());
    }
}
