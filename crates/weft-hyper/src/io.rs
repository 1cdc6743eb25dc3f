//! [`WeftIo`]: futures-io's `AsyncRead` / `AsyncWrite` (weft's sockets, or
//! anything layered on them, such as a futures-rustls stream) as hyper's
//! `Read` / `Write`.
//!
//! # Why not smol-hyper's `FuturesIo`
//!
//! It is the same idea, but its read zeroes hyper's whole spare buffer on
//! every call (8 KiB or more, for a request head of a hundred bytes: 5% of a
//! hello-world server's CPU time in a profile), and its default features pull
//! in async-executor and async-io.
//!
//! # Reads
//!
//! hyper reads into uninitialised memory; futures-io's `poll_read` takes an
//! initialised `&mut [u8]`. Two paths:
//!
//! - **weft's own streams** ([`TcpStream`], `UnixStream`) read straight into
//!   hyper's spare buffer, all of it, uninitialised, through their
//!   `poll_read_uninit` (one `recv(2)`), as hyper on tokio does. The adapter
//!   picks this path by the stream's type (a `TypeId` comparison the
//!   compiler folds away), so [`serve`](crate::serve) and the
//!   [`client`](crate::client) get it with no choice to make.
//! - **any other stream** (TLS over a socket, an in-memory pipe) gets a zeroed
//!   slice: a memset, not a copy, the bytes still land in hyper's buffer
//!   directly. To keep the memset small, a read lends only a window of the
//!   spare buffer, sized to what the stream has been delivering: it doubles
//!   (up to [`MAX_READ`]) after a read that fills it and halves (down to
//!   [`MIN_READ`]) after one that uses under a quarter of it. A burst larger
//!   than the window costs one more read call, and the next window is twice
//!   as large.

use futures_io::{AsyncRead, AsyncWrite};
use std::any::Any;
use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{Context, Poll};
use weft_loop::net::TcpStream;
#[cfg(unix)]
use weft_loop::net::UnixStream;

/// The most bytes one read lends to a stream other than weft's own (and
/// zeroes first).
const MAX_READ: usize = 64 * 1024;

/// The least a read lends to a stream other than weft's own (when hyper's
/// buffer has that much room).
const MIN_READ: usize = 1024;

pin_project_lite::pin_project! {
    /// Adapts a futures-io stream (a weft [`TcpStream`],
    /// a TLS stream over one, ...) to hyper's [`Read`](hyper::rt::Read) and
    /// [`Write`](hyper::rt::Write), so hyper's connection builders take it.
    ///
    /// Reads from weft's own `TcpStream` and `UnixStream` go into hyper's
    /// uninitialised buffer directly; other streams get a zeroed window of
    /// it (see the [module docs](self)).
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

/// `inner`'s read into uninitialised `spare`, when `inner` is one of weft's
/// own streams (which can do that); `None` for any other type. Monomorphised
/// per `T`, the type tests fold to constants.
fn poll_read_uninit<T: 'static>(
    inner: &T,
    cx: &mut Context<'_>,
    spare: &mut [MaybeUninit<u8>],
) -> Option<Poll<io::Result<usize>>> {
    let inner: &dyn Any = inner;
    if let Some(stream) = inner.downcast_ref::<TcpStream>() {
        return Some(stream.poll_read_uninit(cx, spare));
    }
    #[cfg(unix)]
    if let Some(stream) = inner.downcast_ref::<UnixStream>() {
        return Some(stream.poll_read_uninit(cx, spare));
    }
    None
}

impl<T: AsyncRead + 'static> hyper::rt::Read for WeftIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.project();
        // `as_mut` obliges us never to de-initialise a byte of the cursor's
        // spare capacity: `poll_read_uninit` only writes the bytes it reads,
        // and the fallback below only writes zeroes.
        // SAFETY: so, and nothing else borrows `buf` while `spare` lives.
        let spare = unsafe { buf.as_mut() };
        let len = spare.len();
        if let Some(read) = poll_read_uninit(&*this.inner, cx, spare) {
            let n = match read {
                Poll::Ready(Ok(n)) => n.min(len),
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            };
            // SAFETY: `poll_read_uninit` returned `n` (`<= len`): it
            // initialised the first `n` bytes of the spare capacity.
            unsafe { buf.advance(n) };
            return Poll::Ready(Ok(()));
        }

        let window = *this.window;
        let len = len.min(window);
        let ptr = spare.as_mut_ptr().cast::<u8>();
        // Zeroing the first `len` bytes of `spare` (in bounds: `len <=
        // spare.len()`) makes them initialised, and `MaybeUninit<u8>` has
        // `u8`'s layout; `spare` is not used again while `init` lives.
        // SAFETY: so the `&mut [u8]` over exactly those bytes is valid.
        let init: &mut [u8] = unsafe {
            ptr.write_bytes(0, len);
            std::slice::from_raw_parts_mut(ptr, len)
        };
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
