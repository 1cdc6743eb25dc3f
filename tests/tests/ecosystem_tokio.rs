//! Living beside tokio (docs/ecosystem.md): code that needs a tokio reactor
//! (here `tokio::time::sleep` and `tokio::net::TcpStream`, what reqwest,
//! sqlx and tonic use underneath) runs from a weft task once wrapped in
//! `async_compat::Compat`, and panics without it.
//!
//! Every test runs under the common watchdog.

mod common;

use async_compat::Compat;
use common::{block_on, ms};
use futures_util::{AsyncReadExt, AsyncWriteExt};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use weft::net::TcpListener;

/// What tokio says when its reactor or timer is missing.
const NO_TOKIO: &str = "must be called from the context of a Tokio 1.x runtime";

#[test]
fn tokio_sleep_in_a_weft_task_panics_without_compat() {
    let message = block_on(2, |_| async {
        let task = weft::spawn(async { tokio::time::sleep(ms(1)).await });
        task.await.unwrap_err().to_string()
    });
    assert!(message.contains(NO_TOKIO), "{message}");
}

#[test]
fn tokio_connect_in_a_weft_task_panics_without_compat() {
    let message = block_on(2, |_| async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let task = weft::spawn(async move { tokio::net::TcpStream::connect(addr).await });
        let message = task.await.unwrap_err().to_string();
        drop(listener);
        message
    });
    assert!(message.contains(NO_TOKIO), "{message}");
}

#[test]
fn tokio_sleep_and_tcp_round_trip_work_under_compat() {
    block_on(2, |_| async {
        // A weft echo server: weft's own listener and stream.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = weft::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 64];
            let mut echoed = 0;
            loop {
                let n = stream.read(&mut buf).await.unwrap();
                if n == 0 {
                    return echoed;
                }
                stream.write_all(&buf[..n]).await.unwrap();
                echoed += n;
            }
        });

        // A weft task running tokio-only code, wrapped once at the top.
        let client = weft::spawn(Compat::new(async move {
            let start = Instant::now();
            tokio::time::sleep(ms(20)).await;
            let slept = start.elapsed();
            let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
            stream.set_nodelay(true).unwrap();
            let mut replies = Vec::new();
            for i in 0..10u8 {
                let msg = [b'p', b'i', b'n', b'g', b'0' + i];
                stream.write_all(&msg).await.unwrap();
                let mut back = [0u8; 5];
                stream.read_exact(&mut back).await.unwrap();
                replies.push(back);
            }
            // The task ran on a weft worker, inside a tokio context.
            let on_weft = weft::Handle::try_current().is_some();
            let in_tokio = tokio::runtime::Handle::try_current().is_ok();
            (slept, replies, on_weft, in_tokio)
        }));

        let (slept, replies, on_weft, in_tokio) = client.await.unwrap();
        assert!(slept >= ms(20), "tokio's sleep ended early: {slept:?}");
        assert!(
            slept < Duration::from_secs(5),
            "tokio's sleep took {slept:?}"
        );
        for (i, back) in replies.iter().enumerate() {
            assert_eq!(back, &[b'p', b'i', b'n', b'g', b'0' + i as u8]);
        }
        assert!(on_weft && in_tokio);
        // The tokio stream was dropped with the client: the server saw EOF.
        assert_eq!(server.await.unwrap(), 50);
        assert_eq!(weft::Handle::current().metrics().io_sources, 0);
    });
    // async-compat's tokio runtime runs on one extra thread of its own.
    #[cfg(target_os = "linux")]
    assert_eq!(threads_named("async-compat/to"), 1);
}

/// This process's threads whose (kernel-truncated, 15-byte) name is `name`.
#[cfg(target_os = "linux")]
fn threads_named(name: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|comm| comm.trim_end() == name)
        .count()
}
