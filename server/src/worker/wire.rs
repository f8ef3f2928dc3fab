//! The messages between the parent and a worker, in MessagePack.

use bytes::Bytes;
use rpckit_codec::{encode_value, parse_params, ErrorObject, MsgPackCodec, RawParams};
use serde::{Deserialize, Serialize};

/// A request to a worker; ids are the parent's own, unique per worker.
#[derive(Serialize)]
struct WireRequest<'a> {
    jsonrpc: &'static str,
    method: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    params: Option<&'a serde_json::Value>,
    id: u64,
}

/// A worker's answer.
#[derive(Deserialize)]
struct WireResponse {
    id: Option<u64>,
    #[serde(default)]
    result: Option<serde_json::Value>,
    #[serde(default)]
    error: Option<WireError>,
}

#[derive(Deserialize)]
struct WireError {
    code: i32,
    message: String,
    #[serde(default)]
    data: Option<serde_json::Value>,
}

/// The answer to one call, decoded: the result as a value tree, or the
/// worker's error.
pub(super) type Answer = Result<serde_json::Value, ErrorObject>;

pub(super) fn encode_request(
    method: &str,
    params: Option<&serde_json::Value>,
    id: u64,
) -> Result<Bytes, ErrorObject> {
    let request = WireRequest {
        jsonrpc: "2.0",
        method,
        params,
        id,
    };
    encode_value(&MsgPackCodec::default(), &request)
        .map(|encoded| encoded.0)
        .map_err(|err| {
            ErrorObject::internal_error(format_args!(
                "the call could not be encoded for the worker: {err}"
            ))
        })
}

/// The id and the answer of one frame from a worker; `None` for a frame
/// that is not a response to one of ours.
pub(super) fn decode_response(frame: Bytes) -> Option<(u64, Answer)> {
    let raw = RawParams::from_bytes(frame);
    let response: WireResponse = match parse_params(&MsgPackCodec::default(), Some(&raw)) {
        Ok(response) => response,
        Err(err) => {
            tracing::error!(error = %err, "a worker sent a frame that is not a response");
            return None;
        }
    };
    let Some(id) = response.id else {
        tracing::error!(
            error = ?response.error.map(|e| e.message),
            "a worker answered a request it could not read"
        );
        return None;
    };
    let answer = match response.error {
        Some(error) => {
            let object = ErrorObject::new(error.code, error.message);
            Err(match error.data {
                Some(data) => object.with_data(data),
                None => object,
            })
        }
        None => Ok(response.result.unwrap_or(serde_json::Value::Null)),
    };
    Some((id, answer))
}
