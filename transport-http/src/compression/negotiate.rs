//! `Accept-Encoding` → the algorithm a response is compressed with.
//!
//! RFC 9110 §12.5.3, read strictly where it is strict and conservatively
//! where it leaves the server a choice:
//!
//! - each coding the client lists gets its q-value (default 1; `q=0` means
//!   "not acceptable"); `*` gives its q-value to every coding not listed;
//!   a coding neither listed nor covered by `*` is not acceptable;
//! - of the acceptable algorithms the one with the highest q-value wins,
//!   ties going to the one earlier in the server's preference order;
//! - `identity` (no compression) wins only when the client listed it with a
//!   q-value higher than the best algorithm's;
//! - no header, an empty one, or one that is not text means identity: RFC
//!   9110 would allow any coding without the header, but a client that says
//!   nothing may not be able to decode anything.
//!
//! When nothing is acceptable, not even identity (`*;q=0`), the response is
//! sent uncompressed anyway: a 406 for a JSON-RPC answer the client asked
//! for helps nobody.

use http::header::{self, HeaderMap};

use super::Algorithm;

/// A q-value in thousandths: 0 (not acceptable) to 1000.
type Weight = u16;

/// The algorithm to compress with, or `None` for identity.
pub(crate) fn negotiate(request: &HeaderMap, offered: &[Algorithm]) -> Option<Algorithm> {
    let mut listed: [Option<Weight>; Algorithm::ALL.len()] = [None; Algorithm::ALL.len()];
    let mut star: Option<Weight> = None;
    let mut identity: Option<Weight> = None;

    for value in request.get_all(header::ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else {
            continue;
        };
        for entry in value.split(',') {
            let Some((coding, weight)) = parse_entry(entry) else {
                continue;
            };
            // A coding listed twice keeps its best weight.
            let slot = if coding == "*" {
                &mut star
            } else if coding.eq_ignore_ascii_case("identity") {
                &mut identity
            } else if let Some(algorithm) = Algorithm::from_token(coding) {
                &mut listed[algorithm.index()]
            } else {
                continue;
            };
            *slot = Some(slot.map_or(weight, |earlier| earlier.max(weight)));
        }
    }

    let mut best: Option<(Algorithm, Weight)> = None;
    for &algorithm in offered {
        let weight = listed[algorithm.index()].or(star).unwrap_or(0);
        if weight > 0 && best.is_none_or(|(_, best)| weight > best) {
            best = Some((algorithm, weight));
        }
    }
    let (algorithm, weight) = best?;
    match identity {
        Some(identity) if identity > weight => None,
        _ => Some(algorithm),
    }
}

/// `coding` or `coding;q=0.5` (with optional whitespace, other parameters
/// ignored); `None` for an empty or malformed entry.
fn parse_entry(entry: &str) -> Option<(&str, Weight)> {
    let mut parts = entry.split(';');
    let coding = parts.next()?.trim();
    if coding.is_empty() {
        return None;
    }
    let mut weight = 1000;
    for param in parts {
        let (name, value) = param.split_once('=')?;
        if name.trim().eq_ignore_ascii_case("q") {
            weight = parse_q(value.trim())?;
        }
    }
    Some((coding, weight))
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`
fn parse_q(text: &str) -> Option<Weight> {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut thousandths: Weight = 0;
    for (i, digit) in frac.bytes().enumerate() {
        thousandths += Weight::from(digit - b'0') * [100, 10, 1][i];
    }
    match int {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;
    use Algorithm::{Brotli, Deflate, Gzip, Zstd};

    const ALL: &[Algorithm] = &[Zstd, Brotli, Gzip, Deflate];

    fn pick(accept: &[&'static str], offered: &[Algorithm]) -> Option<Algorithm> {
        let mut headers = HeaderMap::new();
        for value in accept {
            headers.append(header::ACCEPT_ENCODING, HeaderValue::from_static(value));
        }
        negotiate(&headers, offered)
    }

    #[test]
    fn single_codings() {
        assert_eq!(pick(&["gzip"], ALL), Some(Gzip));
        assert_eq!(pick(&["x-gzip"], ALL), Some(Gzip));
        assert_eq!(pick(&["deflate"], ALL), Some(Deflate));
        assert_eq!(pick(&["br"], ALL), Some(Brotli));
        assert_eq!(pick(&["zstd"], ALL), Some(Zstd));
        assert_eq!(pick(&["GZip"], ALL), Some(Gzip));
        assert_eq!(pick(&["compress"], ALL), None);
    }

    #[test]
    fn q_values_decide_and_zero_excludes() {
        assert_eq!(pick(&["gzip;q=0, br"], ALL), Some(Brotli));
        assert_eq!(pick(&["br;q=0.5, gzip;q=0.8"], ALL), Some(Gzip));
        assert_eq!(pick(&["br;q=0.501, gzip;q=0.5"], ALL), Some(Brotli));
        assert_eq!(pick(&["gzip ; Q=0.9 , zstd;q=1.000"], ALL), Some(Zstd));
        assert_eq!(pick(&["gzip;q=0"], ALL), None);
        assert_eq!(pick(&["gzip;q=0.000"], ALL), None);
    }

    #[test]
    fn ties_follow_the_server_order() {
        assert_eq!(pick(&["gzip, deflate, br, zstd"], ALL), Some(Zstd));
        assert_eq!(pick(&["gzip, br"], ALL), Some(Brotli));
        assert_eq!(pick(&["gzip, br"], &[Gzip, Brotli]), Some(Gzip));
        assert_eq!(pick(&["gzip;q=0.5, br;q=0.5"], &[Gzip, Brotli]), Some(Gzip));
    }

    #[test]
    fn star_covers_what_is_not_listed() {
        assert_eq!(pick(&["*"], ALL), Some(Zstd));
        assert_eq!(pick(&["*;q=0"], ALL), None);
        assert_eq!(pick(&["zstd;q=0, *"], ALL), Some(Brotli));
        assert_eq!(
            pick(&["gzip;q=0.2, *;q=0.5"], &[Gzip, Deflate]),
            Some(Deflate)
        );
        assert_eq!(pick(&["gzip, *;q=0"], ALL), Some(Gzip));
    }

    #[test]
    fn identity_wins_only_when_preferred() {
        assert_eq!(pick(&["identity"], ALL), None);
        assert_eq!(pick(&["identity, gzip"], ALL), Some(Gzip));
        assert_eq!(pick(&["identity;q=0.9, gzip;q=0.5"], ALL), None);
        assert_eq!(pick(&["identity;q=0, gzip;q=0.1"], ALL), Some(Gzip));
    }

    #[test]
    fn nothing_or_garbage_means_identity() {
        assert_eq!(pick(&[], ALL), None);
        assert_eq!(pick(&[""], ALL), None);
        assert_eq!(pick(&[" , ;q=1"], ALL), None);
        assert_eq!(pick(&["gzip"], &[]), None);
        // A malformed q-value drops its entry, not the header.
        assert_eq!(
            pick(&["zstd;q=2, gzip;q=x, br;q=0.1234, deflate"], ALL),
            Some(Deflate)
        );
        assert_eq!(pick(&["gzip;q"], ALL), None);
        // Several header lines are one list.
        assert_eq!(pick(&["gzip;q=0.1", "br;q=0.2"], ALL), Some(Brotli));
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_bytes(b"gzip\xff").unwrap(),
        );
        assert_eq!(negotiate(&headers, ALL), None);
    }
}
