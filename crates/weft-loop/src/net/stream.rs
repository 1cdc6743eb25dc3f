//! What the byte streams (TCP, Unix) share: reads and writes through
//! [`PollIo`], and [`stream_halves!`], which gives a stream type its
//! futures-io impls and its split halves. `tcp.rs` and `unix.rs` each
//! instantiate the macro once, so the two streams behave alike by
//! construction and their halves are distinct types
//! (`weft::net::OwnedReadHalf` for TCP, `weft::net::unix::OwnedReadHalf` for
//! Unix sockets), as in tokio.

use super::poll_io::PollIo;
use crate::reactor::Direction;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::mem::MaybeUninit;
use std::os::fd::AsFd;
use std::task::{Context, Poll};

impl<T: AsFd> PollIo<T>
where
    for<'a> &'a T: Read + Write,
{
    /// A stream read into `buf` (see `poll_read_stream`).
    pub(crate) fn poll_read_bytes(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let len = buf.len();
        self.poll_read_stream(cx, len, |mut s| s.read(buf))
    }

    /// A stream read into memory that need not be initialised (see
    /// `poll_read_stream`): `recv(2)` writes the bytes it returns and reads
    /// none, so no zeroing first. On `Ok(n)` the first `n` bytes of `buf` are
    /// initialised.
    pub(crate) fn poll_read_uninit(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [MaybeUninit<u8>],
    ) -> Poll<io::Result<usize>> {
        let len = buf.len();
        self.poll_read_stream(cx, len, |s| socket2::SockRef::from(s).recv(buf))
    }

    /// A vectored stream read.
    pub(crate) fn poll_read_bytes_vectored(
        &self,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        // Not `poll_read_stream`: `readv` takes at most IOV_MAX buffers (std
        // passes no more), so a read short of their total size does not prove
        // the socket drained.
        self.poll_io(Direction::Read, cx, |mut s| s.read_vectored(bufs))
    }

    /// A stream write.
    pub(crate) fn poll_write_bytes(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_io(Direction::Write, cx, |mut s| s.write(buf))
    }

    /// A vectored stream write.
    pub(crate) fn poll_write_bytes_vectored(
        &self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_io(Direction::Write, cx, |mut s| s.write_vectored(bufs))
    }
}

/// futures-io's `poll_close` for a stream: shuts down its write half (the
/// peer reads end of stream). A stream already shut down or reset counts as
/// closed.
pub(crate) fn close_write(shutdown: io::Result<()>) -> Poll<io::Result<()>> {
    match shutdown {
        Err(e) if e.kind() == io::ErrorKind::NotConnected => Poll::Ready(Ok(())),
        r => Poll::Ready(r),
    }
}

/// For a stream type `$stream` with a field `io: PollIo<T>` (`&T: Read +
/// Write`) and a `shutdown(&self, Shutdown) -> io::Result<()>` method,
/// defined in the calling module: futures-io's `AsyncRead` / `AsyncWrite`
/// for `$stream` and `&$stream`, its `split` and `into_split` methods, and
/// the halves they return (`ReadHalf`, `WriteHalf`, `OwnedReadHalf`,
/// `OwnedWriteHalf`), defined in the calling module too, and the stream's
/// `poll_read_uninit`. `$example` is a doc example of `into_split` and
/// `reunite`; `$pair` is the start of an async block that makes two
/// connected streams `a` and `b`, which the other items' doc examples begin
/// with; `$uninit_example` is a doc example of `poll_read_uninit`.
macro_rules! stream_halves {
    ($stream:ident, $example:literal, $pair:literal, $uninit_example:literal) => {
        impl $stream {
            /// Reads into `buf` without it having to be initialised first,
            /// for adapters to APIs that lend uninitialised memory (hyper's
            /// `ReadBufCursor`, tokio's `ReadBuf`): `futures_io::AsyncRead`
            /// takes `&mut [u8]`, which such a caller would have to zero
            /// first. Otherwise the same as `AsyncRead::poll_read`: `Ready(Ok(n))`
            /// says the first `n` bytes of `buf` now hold data (`n <=
            /// buf.len()`) and no byte past them was written; `Ready(Ok(0))`
            /// with a non-empty `buf` is end of stream; `Pending` registers
            /// the task's waker for read readiness.
            #[doc = $uninit_example]
            pub fn poll_read_uninit(
                &self,
                cx: &mut ::std::task::Context<'_>,
                buf: &mut [::std::mem::MaybeUninit<u8>],
            ) -> ::std::task::Poll<::std::io::Result<usize>> {
                self.io.poll_read_uninit(cx, buf)
            }

            #[doc = concat!(
                "Borrowed halves, for reading and writing from two places at once ",
                "within one task (`futures_util::join!`, `select!`). `&", stringify!($stream),
                "` is `AsyncRead` and `AsyncWrite` too, which does the same."
            )]
            ///
            #[doc = $crate::net::stream::stream_halves!(@io_example $pair,
                "    // Echo what `a` sends, through `b`'s two halves.\n",
                "    let (mut read, mut write) = b.split();\n",
                "    let mut a = a;\n",
                "    a.write_all(b\"ping\").await.unwrap();\n",
                "    let mut buf = [0; 4];\n",
                "    read.read_exact(&mut buf).await.unwrap();\n",
                "    write.write_all(&buf).await.unwrap();\n",
                "    a.read_exact(&mut buf).await.unwrap();\n",
                "    assert_eq!(&buf, b\"ping\");\n",
            )]
            pub fn split(&self) -> (ReadHalf<'_>, WriteHalf<'_>) {
                (ReadHalf { stream: self }, WriteHalf { stream: self })
            }

            /// Owned halves that can move to different tasks. The socket
            /// closes when both are dropped; [`reunite`](OwnedReadHalf::reunite)
            /// puts them back.
            #[doc = $example]
            pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
                let stream = ::std::sync::Arc::new(self);
                (
                    OwnedReadHalf {
                        stream: stream.clone(),
                    },
                    OwnedWriteHalf { stream },
                )
            }
        }

        #[doc = concat!(
            "The reading half of [`", stringify!($stream), "::split`]. Dropping it ",
            "does nothing to the stream."
        )]
        ///
        #[doc = $crate::net::stream::stream_halves!(@io_example $pair,
            "    let mut a = a;\n",
            "    a.write_all(b\"hello\").await.unwrap();\n",
            "    a.close().await.unwrap(); // `b` reads to the end of the stream\n",
            "    let (mut read, _write) = b.split();\n",
            "    let mut got = Vec::new();\n",
            "    read.read_to_end(&mut got).await.unwrap();\n",
            "    assert_eq!(got, b\"hello\");\n",
        )]
        #[derive(Debug)]
        pub struct ReadHalf<'a> {
            stream: &'a $stream,
        }

        #[doc = concat!(
            "The writing half of [`", stringify!($stream), "::split`]. Closing it ",
            "shuts down the stream's write half; dropping it does nothing to the stream."
        )]
        ///
        #[doc = $crate::net::stream::stream_halves!(@io_example $pair,
            "    let (_read, mut write) = b.split();\n",
            "    write.write_all(b\"hello\").await.unwrap();\n",
            "    write.close().await.unwrap(); // `a` reads to the end of the stream\n",
            "    let mut a = a;\n",
            "    let mut got = Vec::new();\n",
            "    a.read_to_end(&mut got).await.unwrap();\n",
            "    assert_eq!(got, b\"hello\");\n",
        )]
        #[derive(Debug)]
        pub struct WriteHalf<'a> {
            stream: &'a $stream,
        }

        #[doc = concat!(
            "The reading half of [`", stringify!($stream), "::into_split`]. ",
            "The socket closes once both halves are dropped."
        )]
        ///
        #[doc = $crate::net::stream::stream_halves!(@io_example $pair,
            "    let (mut read, write) = b.into_split();\n",
            "    let reader = weft::spawn(async move {\n",
            "        let mut got = Vec::new();\n",
            "        read.read_to_end(&mut got).await.unwrap();\n",
            "        got\n",
            "    });\n",
            "    let mut a = a;\n",
            "    a.write_all(b\"hello\").await.unwrap();\n",
            "    a.close().await.unwrap();\n",
            "    assert_eq!(reader.await.unwrap(), b\"hello\");\n",
            "    drop(write); // the socket closes now\n",
        )]
        #[derive(Debug)]
        pub struct OwnedReadHalf {
            stream: ::std::sync::Arc<$stream>,
        }

        #[doc = concat!(
            "The writing half of [`", stringify!($stream), "::into_split`]. Closing ",
            "it shuts down the stream's write half; dropping it does not (the read ",
            "half keeps the socket open)."
        )]
        ///
        #[doc = $crate::net::stream::stream_halves!(@io_example $pair,
            "    let (read, mut write) = b.into_split();\n",
            "    let writer = weft::spawn(async move {\n",
            "        write.write_all(b\"hello\").await.unwrap();\n",
            "        write.close().await.unwrap();\n",
            "    });\n",
            "    let mut a = a;\n",
            "    let mut got = Vec::new();\n",
            "    a.read_to_end(&mut got).await.unwrap();\n",
            "    assert_eq!(got, b\"hello\");\n",
            "    writer.await.unwrap();\n",
            "    drop(read);\n",
        )]
        #[derive(Debug)]
        pub struct OwnedWriteHalf {
            stream: ::std::sync::Arc<$stream>,
        }

        impl OwnedReadHalf {
            /// Joins the halves of one stream again; gives them back if they
            /// are from different streams.
            ///
            #[doc = concat!(
                "```\nweft::run(async {\n", $pair,
                "    let (a_read, a_write) = a.into_split();\n",
                "    let (b_read, b_write) = b.into_split();\n",
                "    // Halves of two streams: given back.\n",
                "    let (b_read, a_write) = b_read.reunite(a_write).unwrap_err();\n",
                "    let _a = a_read.reunite(a_write).unwrap();\n",
                "    let _b = b_read.reunite(b_write).unwrap();\n",
                "});\n```"
            )]
            #[allow(clippy::result_large_err)]
            pub fn reunite(
                self,
                write: OwnedWriteHalf,
            ) -> ::std::result::Result<$stream, (OwnedReadHalf, OwnedWriteHalf)> {
                if !::std::sync::Arc::ptr_eq(&self.stream, &write.stream) {
                    return Err((self, write));
                }
                drop(write);
                Ok(::std::sync::Arc::into_inner(self.stream)
                    .expect("the two halves held the only references"))
            }
        }

        $crate::net::stream::stream_halves!(@as_stream $stream, $pair, OwnedReadHalf, OwnedWriteHalf);
        $crate::net::stream::stream_halves!(@read
            $stream => |s| s,
            &$stream => |s| s,
            ReadHalf<'_> => |s| s.stream,
            OwnedReadHalf => |s| s.stream,
        );
        $crate::net::stream::stream_halves!(@write
            $stream => |s| s,
            &$stream => |s| s,
            WriteHalf<'_> => |s| s.stream,
            OwnedWriteHalf => |s| s.stream,
        );
    };
    // A doc example that reads and writes, in the two connected streams
    // that `$pair` makes: the lines of its body.
    (@io_example $pair:literal, $($line:literal),* $(,)?) => {
        concat!(
            "```\nuse futures_util::{AsyncReadExt, AsyncWriteExt};\n\n",
            "weft::run(async {\n", $pair,
            $($line,)*
            "});\n```"
        )
    };
    // The owned halves' way back to their stream.
    (@as_stream $stream:ident, $pair:literal, $($half:ident),*) => {$(
        impl $half {
            /// The stream both halves share.
            ///
            #[doc = concat!(
                "```\nweft::run(async {\n", $pair,
                "    let _ = a;\n",
                "    let (read, write) = b.into_split();\n",
                "    assert!(std::ptr::eq(read.as_stream(), write.as_stream()));\n",
                "});\n```"
            )]
            pub fn as_stream(&self) -> &$stream {
                &self.stream
            }
        }
    )*};
    (@read $($ty:ty => |$s:ident| $stream:expr),* $(,)?) => {$(
        impl ::futures_io::AsyncRead for $ty {
            fn poll_read(
                self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
                buf: &mut [u8],
            ) -> ::std::task::Poll<::std::io::Result<usize>> {
                let $s = &*self;
                $stream.io.poll_read_bytes(cx, buf)
            }

            fn poll_read_vectored(
                self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
                bufs: &mut [::std::io::IoSliceMut<'_>],
            ) -> ::std::task::Poll<::std::io::Result<usize>> {
                let $s = &*self;
                $stream.io.poll_read_bytes_vectored(cx, bufs)
            }
        }
    )*};
    // Writes are unbuffered (flush does nothing); close shuts down the
    // write half.
    (@write $($ty:ty => |$s:ident| $stream:expr),* $(,)?) => {$(
        impl ::futures_io::AsyncWrite for $ty {
            fn poll_write(
                self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
                buf: &[u8],
            ) -> ::std::task::Poll<::std::io::Result<usize>> {
                let $s = &*self;
                $stream.io.poll_write_bytes(cx, buf)
            }

            fn poll_write_vectored(
                self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
                bufs: &[::std::io::IoSlice<'_>],
            ) -> ::std::task::Poll<::std::io::Result<usize>> {
                let $s = &*self;
                $stream.io.poll_write_bytes_vectored(cx, bufs)
            }

            fn poll_flush(
                self: ::std::pin::Pin<&mut Self>,
                _cx: &mut ::std::task::Context<'_>,
            ) -> ::std::task::Poll<::std::io::Result<()>> {
                ::std::task::Poll::Ready(Ok(()))
            }

            fn poll_close(
                self: ::std::pin::Pin<&mut Self>,
                _cx: &mut ::std::task::Context<'_>,
            ) -> ::std::task::Poll<::std::io::Result<()>> {
                let $s = &*self;
                $crate::net::stream::close_write(
                    $stream.shutdown(::std::net::Shutdown::Write),
                )
            }
        }
    )*};
}

pub(crate) use stream_halves;
