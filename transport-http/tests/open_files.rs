//! Raising the open-file limit at bind time. Its own test binary: it
//! changes a process-wide limit.
#![cfg(unix)]

use rlimit::Resource;
use rpckit_http::{OpenFileLimit, Server};

#[tokio::test]
async fn binding_raises_the_soft_open_file_limit() {
    let (_, hard) = Resource::NOFILE.get().unwrap();
    // Start low: at most 256, below the hard limit.
    let low = hard.min(512) / 2;
    assert!(low >= 32, "hard limit {hard} too small to test with");
    Resource::NOFILE.set(low, hard).unwrap();

    // Left alone by default.
    let server = Server::builder().bind("127.0.0.1:0").await.unwrap();
    assert_eq!(Resource::NOFILE.get().unwrap().0, low);
    drop(server);

    // Raised to a given number.
    let server = Server::builder()
        .open_file_limit(OpenFileLimit::AtLeast(low + 10))
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    assert_eq!(Resource::NOFILE.get().unwrap().0, low + 10);
    drop(server);

    // Never lowered.
    let server = Server::builder()
        .open_file_limit(OpenFileLimit::AtLeast(low))
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    assert_eq!(Resource::NOFILE.get().unwrap().0, low + 10);
    drop(server);

    // Raised to the hard limit, by `bind_all` too.
    let server = Server::builder()
        .open_file_limit(OpenFileLimit::Hard)
        .bind_all(["127.0.0.1:0"])
        .await
        .unwrap();
    assert_eq!(Resource::NOFILE.get().unwrap(), (hard, hard));
    drop(server);

    // Past the hard limit: as far as it goes.
    assert_eq!(
        OpenFileLimit::AtLeast(u64::MAX).apply().unwrap(),
        Some(hard)
    );
    assert_eq!(OpenFileLimit::Keep.apply().unwrap(), None);
}
