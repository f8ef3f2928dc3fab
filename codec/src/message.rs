//! Decoded messages and the replies written for them.

use std::sync::Arc;

use bytes::Bytes;

use crate::{ErrorObject, Id, RawParams};

/// One decoded request or notification.
///
/// `params` stays in the codec's raw form until a handler asks for a type;
/// see [`RawParams`] and [`crate::parse_params`].
#[derive(Clone, Debug)]
pub struct Request {
    /// The method name. Shared: the JSON codecs hand out the same string
    /// for a name met again on the thread, instead of allocating one per
    /// request.
    pub method: Arc<str>,
    /// The params as sent, not yet decoded. `None` when the member was absent.
    pub params: Option<RawParams>,
    /// The id; `None` makes this a notification, which is never answered.
    /// `Some(Id::Null)` is a request with a null id, and is answered.
    pub id: Option<Id>,
}

impl Request {
    /// Whether this is a notification (it had no `id` member).
    pub fn is_notification(&self) -> bool {
        self.id.is_none()
    }
}

/// A batch entry or a single message: a valid request, or the error that
/// answers an invalid one (with id `null`).
pub type Entry = Result<Request, ErrorObject>;

/// What a codec decodes from one frame.
#[derive(Debug)]
pub enum Message {
    /// One request, or one error: a parse error, an invalid request, an
    /// empty or over-long batch.
    Single(Entry),
    /// A non-empty batch, entries in the order sent.
    Batch(Vec<Entry>),
}

impl Message {
    /// A single error answer, as for a frame that does not parse.
    pub fn error(error: ErrorObject) -> Self {
        Message::Single(Err(error))
    }
}

/// A value already encoded in a codec's format, such as a handler's result.
///
/// Codecs splice it into the reply as is, so a result is serialised once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Encoded(pub Bytes);

/// One response object.
#[derive(Clone, Debug)]
pub struct Response {
    /// The id of the request answered, `null` for an invalid one.
    pub id: Id,
    /// The result, already encoded, or the error.
    pub outcome: Result<Encoded, ErrorObject>,
}

/// What is written back for one frame that needs an answer.
#[derive(Clone, Debug)]
pub enum Reply {
    /// One response object.
    Single(Response),
    /// An array of response objects, in request order, without entries for
    /// notifications. Never empty: a batch of only notifications gets no reply.
    Batch(Vec<Response>),
}
