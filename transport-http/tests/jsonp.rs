//! JSONP on `GET`, over raw HTTP/1.1: wrapping, content types, errors in
//! the callback, coercion of query values, the callback checks, and the
//! switches (off → 405, a method's refusal → its status).

mod common;

use std::sync::atomic::Ordering;

use common::rpc::{stub, Calls};
use common::{raw, start, Answer};
use rpckit_http::{Jsonp, Server, ServerBuilder, ServerHandle, MAX_CALLBACK_LEN};

async fn server(builder: ServerBuilder) -> (ServerHandle, Calls) {
    let calls = Calls::default();
    let server = start(builder.route("/rpc", stub(calls.clone()))).await;
    (server, calls)
}

async fn jsonp_server() -> (ServerHandle, Calls) {
    server(Server::builder().jsonp(true)).await
}

async fn get(server: &ServerHandle, target: &str) -> Answer {
    raw(server.local_addr(), &format!("GET {target} HTTP/1.1")).await
}

fn assert_javascript(answer: &Answer) {
    assert_eq!(
        answer.header("content-type"),
        Some("application/javascript; charset=utf-8")
    );
    assert_eq!(answer.header("x-content-type-options"), Some("nosniff"));
}

#[tokio::test]
async fn wraps_the_result_in_the_callback() {
    let (server, _) = jsonp_server().await;
    let answer = get(&server, "/rpc/echo?data=test&jsonp=cb").await;
    assert_eq!(answer.status, 200);
    assert_javascript(&answer);
    assert_eq!(answer.text(), r#"/**/cb({"data":"test"});"#);

    // `callback` is accepted too, and the name may hold `$ . [ ] _`.
    let answer = get(&server, "/rpc/echo?callback=$.cbs[3]_x&data=a+b%26c").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.text(), r#"/**/$.cbs[3]_x({"data":"a b&c"});"#);

    // No params at all.
    let answer = get(&server, "/rpc/echo?jsonp=cb").await;
    assert_eq!(answer.text(), r#"/**/cb("Hello world!");"#);
    server.shutdown().await;
}

#[tokio::test]
async fn without_a_callback_the_reply_is_plain_json() {
    let (server, _) = jsonp_server().await;
    let answer = get(&server, "/rpc/echo?data=test").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_eq!(answer.text(), r#"{"data":"test"}"#);

    let answer = get(&server, "/rpc/fail").await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.text(),
        r#"{"error":{"code":7,"message":"failed","data":{"why":"asked"}}}"#
    );
    server.shutdown().await;
}

#[tokio::test]
async fn errors_arrive_inside_the_callback_with_200() {
    let (server, _) = jsonp_server().await;
    let answer = get(&server, "/rpc/fail?jsonp=cb").await;
    assert_eq!(answer.status, 200);
    assert_javascript(&answer);
    assert_eq!(
        answer.text(),
        r#"/**/cb({"error":{"code":7,"message":"failed","data":{"why":"asked"}}});"#
    );

    let answer = get(&server, "/rpc/nope?jsonp=cb").await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.text(),
        r#"/**/cb({"error":{"code":-32601,"message":"Method not found: nope"}});"#
    );
    server.shutdown().await;
}

#[tokio::test]
async fn line_and_paragraph_separators_are_escaped() {
    let (server, _) = jsonp_server().await;
    let answer = get(&server, "/rpc/separators?jsonp=cb").await;
    assert_eq!(answer.text(), r#"/**/cb("a\u2028b\u2029c");"#);
    assert!(!answer.text().contains('\u{2028}'));
    // From the client's own data too.
    let answer = get(&server, "/rpc/echo?data=%E2%80%A8%E2%80%A9&jsonp=cb").await;
    assert_eq!(answer.text(), r#"/**/cb({"data":"\u2028\u2029"});"#);
    // Plain JSON is left alone: JSON allows both raw.
    let answer = get(&server, "/rpc/separators").await;
    assert_eq!(answer.text(), "\"a\u{2028}b\u{2029}c\"");
    server.shutdown().await;
}

#[tokio::test]
async fn query_values_fill_numbers_and_booleans() {
    let (server, _) = jsonp_server().await;
    let answer = get(
        &server,
        "/rpc/typed?text=hi+there&int=-42&small=255&float=2.5e-1&flag=true&maybe=9&jsonp=cb",
    )
    .await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.text(),
        r#"/**/cb({"text":"hi there","int":-42,"small":255,"float":0.25,"flag":true,"maybe":9});"#
    );
    let answer = get(&server, "/rpc/typed?text=&int=0&small=0&float=1&flag=false").await;
    assert_eq!(
        answer.text(),
        r#"{"text":"","int":0,"small":0,"float":1.0,"flag":false,"maybe":null}"#
    );

    // A value that does not fit is -32602 naming the param.
    for (query, param) in [
        ("int=x&small=1&float=1&flag=true&text=", "int"),
        ("int=1&small=256&float=1&flag=true&text=", "small"),
        ("int=1&small=1&float=one&flag=true&text=", "float"),
        ("int=1&small=1&float=1&flag=yes&text=", "flag"),
        ("int=1&small=1&float=1&flag=true", "text"),
    ] {
        let answer = get(&server, &format!("/rpc/typed?{query}&jsonp=cb")).await;
        assert_eq!(answer.status, 200, "{query}");
        let body = answer.text();
        assert!(
            body.starts_with(r#"/**/cb({"error":{"code":-32602,"#),
            "{query}: {body}"
        );
        assert!(
            body.contains(&format!(r#""data":{{"param":"{param}"}}"#)),
            "{query}: {body}"
        );
    }
    server.shutdown().await;
}

#[tokio::test]
async fn the_method_segment_is_percent_decoded() {
    let (server, _) = jsonp_server().await;
    let answer = get(&server, "/rpc/sp%20ace?jsonp=cb").await;
    assert_eq!(answer.text(), r#"/**/cb("spaced");"#);
    // `+` is a space only in the query.
    let answer = get(&server, "/rpc/sp+ace?jsonp=cb").await;
    assert!(
        answer.text().contains("Method not found: sp+ace"),
        "{}",
        answer.text()
    );
    server.shutdown().await;
}

#[tokio::test]
async fn the_transport_marks_jsonp_frames() {
    let (server, _) = jsonp_server().await;
    let answer = get(&server, "/rpc/jsonp_marker?jsonp=my_cb").await;
    assert_eq!(answer.text(), r#"/**/my_cb("my_cb");"#);
    let answer = get(&server, "/rpc/jsonp_marker").await;
    assert_eq!(answer.text(), r#""-""#);
    server.shutdown().await;
}

#[tokio::test]
async fn a_handler_can_rename_the_callback_and_set_the_content_type() {
    let (server, _) = jsonp_server().await;
    let answer = get(&server, "/rpc/rename?jsonp=cb").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.text(), "/**/renamed.cb(1);");
    assert_eq!(answer.header("content-type"), Some("text/javascript"));
    // Even a request without a callback gets the handler's.
    let answer = get(&server, "/rpc/rename").await;
    assert_eq!(answer.text(), "/**/renamed.cb(1);");
    server.shutdown().await;
}

#[tokio::test]
async fn a_status_set_by_the_method_is_applied() {
    let (server, _) = jsonp_server().await;
    let answer = get(&server, "/rpc/forbidden?jsonp=cb").await;
    assert_eq!(answer.status, 403);
    assert_javascript(&answer);
    assert_eq!(
        answer.text(),
        r#"/**/cb({"error":{"code":-32000,"message":"no JSONP"}});"#
    );
    server.shutdown().await;
}

#[tokio::test]
async fn off_by_default_get_is_405() {
    let (server, calls) = server(Server::builder()).await;
    let answer = get(&server, "/rpc?jsonp=cb").await;
    assert_eq!(answer.status, 405);
    assert_eq!(answer.header("allow"), Some("POST"));
    // A method path is no path at all.
    let answer = get(&server, "/rpc/echo?data=x&jsonp=cb").await;
    assert_eq!(answer.status, 404);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    server.shutdown().await;

    let (server, _) = self::server(Server::builder().jsonp(false)).await;
    assert_eq!(get(&server, "/rpc").await.status, 405);
    server.shutdown().await;
}

#[tokio::test]
async fn on_get_joins_the_allow_list() {
    let (server, _) = jsonp_server().await;
    let answer = raw(server.local_addr(), "PUT /rpc HTTP/1.1").await;
    assert_eq!(answer.status, 405);
    assert_eq!(answer.header("allow"), Some("POST, GET"));
    // The route's own path names no method.
    let answer = get(&server, "/rpc?jsonp=cb").await;
    assert_eq!(answer.status, 400);
    assert!(answer.text().contains("<method>"), "{}", answer.text());
    // POST goes to the route's path only.
    let answer = raw(
        server.local_addr(),
        "POST /rpc/echo HTTP/1.1\r\nContent-Length: 0",
    )
    .await;
    assert_eq!(answer.status, 404);
    // Only one segment after the route.
    assert_eq!(get(&server, "/rpc/a/echo?jsonp=cb").await.status, 404);
    assert_eq!(get(&server, "/rpc/?jsonp=cb").await.status, 404);
    server.shutdown().await;
}

#[tokio::test]
async fn hostile_callbacks_are_400_and_nothing_runs() {
    let (server, calls) = jsonp_server().await;
    let long = "a".repeat(MAX_CALLBACK_LEN + 1);
    for (query, says) in [
        ("jsonp=cb);alert(1)//", "character `)` at position 3"),
        (
            "jsonp=cb%29%3Balert(1)%2F%2F",
            "character `)` at position 3",
        ),
        ("jsonp=%3Cscript%3E", "character `<`"),
        ("callback=a%0Ab", "\\u{a}"),
        ("jsonp=a-b", "character `-`"),
        ("jsonp=", "empty"),
        (
            &format!("jsonp={long}"),
            "129 characters long, the limit is 128",
        ),
        ("jsonp=a&callback=b", "more than once"),
        ("jsonp=a&jsonp=a", "more than once"),
    ] {
        let answer = get(&server, &format!("/rpc/echo?data=x&{query}")).await;
        assert_eq!(answer.status, 400, "{query}");
        assert_eq!(
            answer.header("content-type"),
            Some("text/plain; charset=utf-8"),
            "{query}"
        );
        assert_eq!(answer.header("x-content-type-options"), Some("nosniff"));
        assert!(answer.text().contains(says), "{query}: {}", answer.text());
        assert!(!answer.text().contains("alert"), "{query}: echoed");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0);

    // The longest name allowed passes.
    let longest = "a".repeat(MAX_CALLBACK_LEN);
    let answer = get(&server, &format!("/rpc/echo?jsonp={longest}")).await;
    assert_eq!(answer.status, 200);
    assert!(answer.text().starts_with(&format!("/**/{longest}(")));
    server.shutdown().await;
}

#[tokio::test]
async fn bad_escapes_are_400() {
    let (server, calls) = jsonp_server().await;
    for (target, says) in [
        ("/rpc/echo?data=%ZZ&jsonp=cb", "invalid query string"),
        ("/rpc/echo?data=%4&jsonp=cb", "invalid query string"),
        ("/rpc/echo?data=abc%&jsonp=cb", "invalid query string"),
        ("/rpc/echo?%ZZ=1&jsonp=cb", "invalid query string"),
        ("/rpc/echo?data=%FF%FE&jsonp=cb", "not UTF-8"),
        ("/rpc/echo?data=x&jsonp=%ZZ", "invalid query string"),
        ("/rpc/ec%ZZho?jsonp=cb", "invalid method name"),
        ("/rpc/%C3?jsonp=cb", "invalid method name"),
    ] {
        let answer = get(&server, target).await;
        assert_eq!(answer.status, 400, "{target}");
        assert!(answer.text().contains(says), "{target}: {}", answer.text());
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    server.shutdown().await;
}

#[tokio::test]
async fn callback_parameter_names_are_configurable() {
    let (server, _) =
        server(Server::builder().jsonp(Jsonp::enabled().callback_params(["cb"]))).await;
    // `jsonp` is now an ordinary param.
    let answer = get(&server, "/rpc/echo?jsonp=x&cb=f").await;
    assert_eq!(answer.text(), r#"/**/f({"jsonp":"x"});"#);
    let answer = get(&server, "/rpc/echo?callback=x").await;
    assert_eq!(answer.text(), r#"{"callback":"x"}"#);
    server.shutdown().await;
}

#[tokio::test]
async fn a_route_at_the_root_serves_jsonp_too() {
    let calls = Calls::default();
    let server = start(Server::builder().jsonp(true).route("/", stub(calls))).await;
    let answer = get(&server, "/echo?data=root&jsonp=cb").await;
    assert_eq!(answer.text(), r#"/**/cb({"data":"root"});"#);
    server.shutdown().await;
}

#[tokio::test]
async fn post_is_unchanged_with_jsonp_on() {
    let (server, _) = jsonp_server().await;
    let body = r#"{"jsonrpc":"2.0","method":"echo","params":["hi"],"id":1}"#;
    let answer = common::send(
        server.local_addr(),
        common::post("/rpc", Some("application/json"), body),
    )
    .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.text(), r#"{"jsonrpc":"2.0","result":"hi","id":1}"#);
    server.shutdown().await;
}
