//! [`WeftIo`]: futures-io's `AsyncRead` / `AsyncWrite` (weft's sockets, or
//! anything layered on them, such as a futures-rustls stream) as hyper's
//! `Read` / `Write`.
//!
//! # Why not smol-hyper's `FuturesIo`
//!
//! It is the same idea, but its read zeroes hyper's whole spare buffer on
//! every call (8 KiB or more, for a request head of a hundred bytes: 5% of a
//! hello-world server's CPU time in a profile), and its default features pull
//! in async-executor and async-io. This adapter is one small file with two
//! `unsafe` blocks (lending hyper's buffer, then advancing it).
//!
//! hyper reads into uninitialised memory; futures-io's `poll_read` takes an
//! initialised `&mut [u8]`. Zeroing the part we lend is the price of that
//! (a memset, not a copy: the bytes land in hyper's buffer directly). To keep
//! it small, a read lends only a window of the spare buffer, sized to what
//! the stream has been delivering: it doubles (up to [`MAX_READ`]) after a
//! read that fills it and halves (down to [`MIN_READ`]) after one that uses
//! under a quarter of it. A burst larger than the window costs one more read
//! call, and the next window is twice as large.

use futures_io::{AsyncRead, AsyncWrite};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The most bytes one read lends to the inner reader (and zeroes first).
const MAX_READ: usize = 64 * 1024;

/// The least a read lends (when hyper's buffer has that much room).
const MIN_READ: usize = 1024;

pin_project_lite::pin_project! {
    /// Adapts a futures-io stream (a weft [`TcpStream`](weft_loop::net::TcpStream),
    /// a TLS stream over one, ...) to hyper's [`Read`](hyper::rt::Read) and
    /// [`Write`](hyper::rt::Write), so hyper's connection builders take it.
    ///
    /// Dropping it drops the inner stream (for a socket: closes it).
    ///
    /// ```
    /// use weft::hyper::WeftIo;
    /// use weft::net::{TcpListener, TcpStream};
    ///
    /// weft::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let addr = listener.local_addr().unwrap();
    ///     let client = weft::spawn(async move { TcpStream::connect(addr).await.unwrap() });
    ///     let (server, _) = listener.accept().await.unwrap();
    ///     let io = WeftIo::new(server);
    ///     assert_eq!(io.get_ref().local_addr().unwrap(), addr);
    ///     drop(client.await.unwrap());
    /// });
    /// ```
    #[derive(Debug)]
    pub struct WeftIo<T> {
        #[pin]
        inner: T,
        vectored: bool,
        // The bytes the next read lends (see the module's docs).
        window: usize,
    }
}

impl<T> WeftIo<T> {
    /// Wraps `inner`. hyper flattens its writes (head and small bodies copied
    /// into one buffer, one `write`); see
    /// [`with_vectored_writes`](Self::with_vectored_writes) for `writev`.
    ///
    /// ```
    /// let io = weft::hyper::WeftIo::new(futures_util::io::Cursor::new(Vec::<u8>::new()));
    /// assert!(io.into_inner().into_inner().is_empty());
    /// ```
    pub fn new(inner: T) -> WeftIo<T> {
        WeftIo {
            inner,
            vectored: false,
            window: MIN_READ,
        }
    }

    /// Wraps `inner`, telling hyper its `poll_write_vectored` really gathers
    /// (weft's TCP and Unix streams do: one `writev`), so hyper queues the
    /// head and body buffers instead of copying the body into its own.
    ///
    /// ```
    /// weft::run(async {
    ///     let l = weft::net::TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let s = weft::net::TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    ///     let io = weft::hyper::WeftIo::with_vectored_writes(s);
    ///     assert!(hyper::rt::Write::is_write_vectored(&io));
    /// });
    /// ```
    pub fn with_vectored_writes(inner: T) -> WeftIo<T> {
        WeftIo {
            inner,
            vectored: true,
            window: MIN_READ,
        }
    }

    /// The inner stream.
    ///
    /// ```
    /// let io = weft::hyper::WeftIo::new(futures_util::io::Cursor::new(vec![1u8]));
    /// assert_eq!(io.get_ref().get_ref(), &vec![1u8]);
    /// ```
    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    /// The inner stream, mutably.
    ///
    /// ```
    /// let mut io = weft::hyper::WeftIo::new(futures_util::io::Cursor::new(vec![1u8]));
    /// io.get_mut().get_mut().push(2);
    /// assert_eq!(io.get_ref().get_ref(), &vec![1u8, 2]);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// Unwraps the inner stream.
    ///
    /// ```
    /// let io = weft::hyper::WeftIo::new(futures_util::io::Cursor::new(vec![3u8]));
    /// assert_eq!(io.into_inner().into_inner(), vec![3u8]);
    /// ```
    pub fn into_inner(self) -> T {
        self.inner
    }
}

impl<T: AsyncRead> hyper::rt::Read for WeftIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.project();
        let window = *this.window;
        // `as_mut` obliges us never to de-initialise a byte of the cursor's
        // spare capacity: we only write zeroes over its first `len` bytes (in
        // bounds, `len <= spare.len()`), which also makes them initialised.
        // SAFETY: so the `&mut [u8]` over exactly those bytes is valid
        // (`MaybeUninit<u8>` has `u8`'s layout); nothing else borrows `buf`.
        let init: &mut [u8] = unsafe {
            let spare = buf.as_mut();
            let len = spare.len().min(window);
            let ptr = spare.as_mut_ptr().cast::<u8>();
            ptr.write_bytes(0, len);
            std::slice::from_raw_parts_mut(ptr, len)
        };
        let len = init.len();
        let n = match this.inner.poll_read(cx, init) {
            Poll::Ready(Ok(n)) => n.min(len),
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        };
        if n == window {
            *this.window = (window * 2).min(MAX_READ);
        } else if n < window / 4 {
            *this.window = (window / 2).max(MIN_READ);
        }
        // SAFETY: the first `n` bytes of the spare capacity were initialised
        // (zeroed, then filled by the reader), and `n <= len`.
        unsafe { buf.advance(n) };
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite> hyper::rt::Write for WeftIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_close(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.vectored
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write_vectored(cx, bufs)
    }
}
