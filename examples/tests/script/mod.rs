//! What the tests that replay `-->` / `<--` scripts share.

use serde_json::Value;

/// Error messages may differ from the specification's; codes and ids may not.
pub(crate) fn strip_messages(value: &mut Value) {
    match value {
        Value::Array(items) => items.iter_mut().for_each(strip_messages),
        Value::Object(map) => {
            if let Some(Value::Object(error)) = map.get_mut("error") {
                error.remove("message");
                error.remove("data");
            }
        }
        _ => {}
    }
}
