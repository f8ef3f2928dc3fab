//! The transport with a bare frame service (no rpckit): what it hands the
//! service, and what a failing service makes of a reply.

use std::convert::Infallible;
use std::time::Duration;

use rpckit_codec::{Codecs, Frame, PeerAddr};
use rpckit_tcp::{ConnectionId, FrameService, LocalAddr, Server};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const WAIT: Duration = Duration::from_secs(20);

/// Answers `fail` with an error, `quiet` with nothing, anything else with
/// the connection facts it was given.
fn service() -> FrameService {
    let service = tower::service_fn(|frame: Frame| async move {
        match &frame.bytes[..] {
            b"fail" => Err("deliberate failure".into()),
            b"quiet" => Ok(None),
            _ => {
                let id = frame.extensions.get::<ConnectionId>().map(|id| id.0);
                let peer = frame.extensions.get::<PeerAddr>().map(|p| p.0.to_string());
                let local = frame.extensions.get::<LocalAddr>().map(|l| l.0.to_string());
                let text = serde_json::json!({
                    "codec": frame.codec.name(),
                    "bytes": String::from_utf8_lossy(&frame.bytes),
                    "id": id,
                    "peer": peer,
                    "local": local,
                });
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(Some(Frame::new(
                    serde_json::to_vec(&text).expect("JSON"),
                    frame.codec,
                )))
            }
        }
    });
    FrameService::new(Codecs::default(), service)
}

async fn line(reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> serde_json::Value {
    let mut line = String::new();
    tokio::time::timeout(WAIT, reader.read_line(&mut line))
        .await
        .expect("a reply in time")
        .expect("read");
    serde_json::from_str(&line).unwrap_or_else(|err| panic!("{line:?}: {err}"))
}

#[tokio::test]
async fn frames_carry_the_bytes_codec_and_connection_facts_and_failures_answer_internal_error() {
    let server = Server::builder(service())
        .bind("127.0.0.1:0")
        .await
        .expect("bind")
        .spawn();
    let addr = server.local_addr().tcp().expect("TCP");
    let stream = TcpStream::connect(addr).await.expect("connect");
    let client = stream.local_addr().expect("client address");
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::new(reader);

    writer
        .write_all(b"hello\r\nquiet\nfail\nagain\n")
        .await
        .expect("write");
    let first = line(&mut reader).await;
    assert_eq!(first["codec"], "json");
    assert_eq!(first["bytes"], "hello", "the \\r\\n is the framing's");
    assert_eq!(first["peer"], client.to_string());
    assert_eq!(first["local"], addr.to_string());
    assert!(first["id"].as_u64().is_some());
    // `quiet` wrote nothing; `fail` answers -32603 with id null.
    let failed = line(&mut reader).await;
    assert_eq!(failed["error"]["code"], -32603, "{failed}");
    assert_eq!(failed["id"], serde_json::Value::Null);
    let again = line(&mut reader).await;
    assert_eq!(
        again["bytes"], "again",
        "the connection goes on after a failure"
    );
    assert_eq!(again["id"], first["id"]);

    drop(writer);
    tokio::time::timeout(WAIT, server.shutdown())
        .await
        .expect("shutdown in time");
}

#[tokio::test]
async fn serve_stream_runs_one_stream_to_its_end() {
    let echo = tower::service_fn(|frame: Frame| async move { Ok::<_, Infallible>(Some(frame)) });
    let (client, server_side) = tokio::io::duplex(64);
    let server = tokio::spawn(
        Server::builder(FrameService::new(Codecs::default(), echo))
            .framing(rpckit_tcp::Framing::LengthPrefixed)
            .serve_stream(server_side),
    );
    let (mut read, mut write) = tokio::io::split(client);
    // More than the duplex buffer holds, so both sides must keep moving.
    let mut sent = Vec::new();
    for i in 0..200u32 {
        let body = format!("[{i}]");
        sent.extend_from_slice(&(body.len() as u32).to_be_bytes());
        sent.extend_from_slice(body.as_bytes());
    }
    let expected = sent.clone();
    let writing = tokio::spawn(async move {
        write.write_all(&sent).await.expect("write");
        write.shutdown().await.expect("close");
    });
    let mut received = Vec::new();
    tokio::time::timeout(
        WAIT,
        tokio::io::AsyncReadExt::read_to_end(&mut read, &mut received),
    )
    .await
    .expect("the stream ends")
    .expect("read");
    writing.await.expect("writer");
    assert_eq!(
        received, expected,
        "every frame echoed, in order (all finish at once)"
    );
    server.await.expect("task").expect("served");
}
