//! Public types can cross threads: servers and handlers live on a
//! multi-threaded runtime.

use rpckit_http::{
    BoundServer, ClientIp, Cors, InvalidCallback, Jsonp, JsonpRequest, QueryCodec, RequestCookies,
    RequestHeaders, ResponseHandle, Route, Server, ServerBuilder, ServerHandle,
};

fn assert_send_sync<T: Send + Sync + 'static>() {}

#[test]
fn public_types_are_send_and_sync() {
    assert_send_sync::<Server>();
    assert_send_sync::<ServerBuilder>();
    assert_send_sync::<BoundServer>();
    assert_send_sync::<ServerHandle>();
    assert_send_sync::<Route>();
    assert_send_sync::<ClientIp>();
    assert_send_sync::<RequestHeaders>();
    assert_send_sync::<RequestCookies>();
    assert_send_sync::<ResponseHandle>();
    assert_send_sync::<rpckit_http::BoxError>();
    assert_send_sync::<Cors>();
    assert_send_sync::<Jsonp>();
    assert_send_sync::<JsonpRequest>();
    assert_send_sync::<QueryCodec>();
    assert_send_sync::<InvalidCallback>();
}
