//! Arbitrary bytes through the fast HTTP/1 connection's head reader
//! (`rpckit_http`'s server), checked against httparse read on its own.
//!
//! Run with `cargo fuzz run http1_head` (from `fuzz/`).
//!
//! What must hold, whatever the input:
//! - no panic;
//! - a request served here is one httparse reads whole, with the same head
//!   length, method, path, and headers (each name's values byte for byte,
//!   in order), within the limits (head, body, number of headers); its body
//!   length is its one `Content-Length`, and nothing in it is left for
//!   hyper (`Transfer-Encoding`, `Expect`, `Upgrade`, `HEAD`);
//! - keep-alive follows the version and every `Connection` option;
//! - a head still waiting is one httparse also finds unfinished, within
//!   the head limit;
//! - reading a whole request's every prefix waits or hands over, never
//!   serves a shorter request.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rpckit_http::http1_fuzzing::{read_head, Outcome, MAX_BODY, MAX_HEAD, MAX_HEADERS};

fn options<'a>(headers: &'a [httparse::Header<'a>]) -> impl Iterator<Item = Vec<u8>> + 'a {
    headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("connection"))
        .flat_map(|h| h.value.split(|&b| b == b','))
        .map(|option| option.trim_ascii().to_ascii_lowercase())
}

fuzz_target!(|data: &[u8]| {
    let outcome = read_head(data);
    let mut slots = [httparse::EMPTY_HEADER; 128];
    let mut reference = httparse::Request::new(&mut slots);
    let parsed = reference.parse(data);
    match outcome {
        Outcome::Partial => {
            assert!(data.len() <= MAX_HEAD);
            assert!(
                matches!(parsed, Ok(httparse::Status::Partial)),
                "{parsed:?}"
            );
        }
        Outcome::HandOver => {}
        Outcome::Request {
            head_len,
            body_len,
            keep_alive,
            parts,
        } => {
            assert_eq!(parsed, Ok(httparse::Status::Complete(head_len)));
            assert!(head_len <= MAX_HEAD && body_len <= MAX_BODY);
            let headers = reference.headers;
            assert!(headers.len() <= MAX_HEADERS);
            let method = reference.method.unwrap();
            assert!(method != "HEAD" && method != "CONNECT");
            let lengths: Vec<_> = headers
                .iter()
                .filter(|h| h.name.eq_ignore_ascii_case("content-length"))
                .collect();
            match lengths.as_slice() {
                [] => assert_eq!(body_len, 0),
                [one] => assert_eq!(
                    std::str::from_utf8(one.value).unwrap().parse(),
                    Ok(body_len)
                ),
                more => panic!("{} lengths served", more.len()),
            }
            for name in ["transfer-encoding", "expect", "upgrade"] {
                assert!(
                    !headers.iter().any(|h| h.name.eq_ignore_ascii_case(name)),
                    "{name}"
                );
            }
            let close = options(headers).any(|o| o == b"close");
            let keep = options(headers).any(|o| o == b"keep-alive");
            let http11 = reference.version == Some(1);
            assert_eq!(keep_alive, !close && (http11 || keep));
            if let Ok(parts) = parts {
                assert_eq!(parts.method.as_str(), method);
                // `http` drops a fragment, as it does for hyper.
                assert_eq!(
                    parts.uri.path_and_query().map(|p| p.as_str()),
                    reference.path.map(|p| p.split('#').next().unwrap())
                );
                // A header map keeps each name's values in order (not the
                // order between names).
                assert_eq!(parts.headers.len(), headers.len());
                for h in headers.iter() {
                    let served: Vec<_> = parts
                        .headers
                        .get_all(h.name)
                        .iter()
                        .map(|v| v.as_bytes())
                        .collect();
                    let sent: Vec<_> = headers
                        .iter()
                        .filter(|other| other.name.eq_ignore_ascii_case(h.name))
                        .map(|other| other.value)
                        .collect();
                    assert_eq!(served, sent, "{}", h.name);
                }
            }
            // Every prefix of a short head; of a long one, a sample and
            // the last bytes (a quadratic check would slow the run).
            let stride = 1 + head_len / 256;
            let ends = (0..head_len)
                .step_by(stride)
                .chain(head_len.saturating_sub(16)..head_len);
            for end in ends {
                assert!(
                    matches!(
                        read_head(&data[..end]),
                        Outcome::Partial | Outcome::HandOver
                    ),
                    "a prefix of {end} bytes is served"
                );
            }
        }
    }
});
