//! Unix domain sockets: [`UnixListener`], [`UnixStream`] (with its split
//! halves and [`UCred`]) and [`UnixDatagram`].
//!
//! Addresses are paths, or std's [`SocketAddr`] for the `*_addr` methods,
//! which also take Linux's abstract names (built with
//! `std::os::linux::net::SocketAddrExt::from_abstract_name`; they live in
//! the kernel, not the file system, and vanish with the last socket).
//!
//! Two mistakes get their own errors instead of the kernel's bare ones: a
//! path longer than the kernel's `sun_path` is an `InvalidInput` error whose
//! message says "path too long" (checked before any system call, never a
//! panic), and binding where a socket file already exists is `AddrInUse`
//! with a message naming the path. weft never removes that file itself: it
//! may belong to a running server. Likewise dropping a listener or a bound
//! datagram socket closes it but leaves its file behind, as std does; remove
//! it with `std::fs::remove_file` when you are done.

use super::datagram::datagram_io;
use super::poll_io::PollIo;
use super::stream::stream_halves;
use super::LISTEN_BACKLOG;
use crate::reactor::Direction;
use futures_util::Stream;
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::Shutdown;
use std::os::fd::OwnedFd;
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// Bytes of `sun_path`, the path's room in the kernel's address (108 on
/// Linux); a path needs one more for its terminating NUL.
const SUN_PATH_LEN: usize =
    std::mem::size_of::<libc::sockaddr_un>() - std::mem::offset_of!(libc::sockaddr_un, sun_path);

/// `path` as a socket address, or the "path too long" error.
fn path_addr(path: &Path) -> io::Result<SocketAddr> {
    let len = path.as_os_str().len();
    if len >= SUN_PATH_LEN {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "path too long for a unix socket ({len} bytes, at most {}): {}",
                SUN_PATH_LEN - 1,
                path.display()
            ),
        ));
    }
    SocketAddr::from_pathname(path)
}

/// std's address as socket2's, for the calls std has no non-blocking or
/// backlog-taking form of.
fn sock_addr(addr: &SocketAddr) -> io::Result<socket2::SockAddr> {
    if let Some(path) = addr.as_pathname() {
        return socket2::SockAddr::unix(path);
    }
    #[cfg(target_os = "linux")]
    {
        use std::os::linux::net::SocketAddrExt;
        use std::os::unix::ffi::OsStrExt;
        if let Some(name) = addr.as_abstract_name() {
            // socket2 reads a leading NUL as "abstract".
            let mut bytes = Vec::with_capacity(name.len() + 1);
            bytes.push(0);
            bytes.extend_from_slice(name);
            return socket2::SockAddr::unix(std::ffi::OsStr::from_bytes(&bytes));
        }
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        "an unnamed unix socket address",
    ))
}

/// `addr` for an error message: the path, or `@name` for an abstract name.
fn describe(addr: &SocketAddr) -> String {
    if let Some(path) = addr.as_pathname() {
        return path.display().to_string();
    }
    #[cfg(target_os = "linux")]
    {
        use std::os::linux::net::SocketAddrExt;
        if let Some(name) = addr.as_abstract_name() {
            return format!("@{}", String::from_utf8_lossy(name));
        }
    }
    "(unnamed)".to_owned()
}

/// A failed bind's error; `AddrInUse` names the address.
fn bind_error(e: io::Error, addr: &SocketAddr) -> io::Error {
    if e.kind() != io::ErrorKind::AddrInUse {
        return e;
    }
    let what = if addr.as_pathname().is_some() {
        "a file already exists at"
    } else {
        "address in use:"
    };
    io::Error::new(
        io::ErrorKind::AddrInUse,
        format!("{what} {}", describe(addr)),
    )
}

/// A Unix stream socket listening for connections, registered with the
/// runtime's reactor. Dropping it deregisters and closes it, but does not
/// remove its socket file (as std): remove it yourself once done.
///
/// ```
/// use futures_util::{AsyncReadExt, AsyncWriteExt};
/// use weft::net::{UnixListener, UnixStream};
///
/// let path = std::env::temp_dir().join(format!("weft-doc-listener-{}.sock", std::process::id()));
/// weft::run(async {
///     let listener = UnixListener::bind(&path).unwrap();
///     let server = weft::spawn(async move {
///         let (mut conn, _peer) = listener.accept().await.unwrap();
///         let mut buf = [0; 5];
///         conn.read_exact(&mut buf).await.unwrap();
///         conn.write_all(&buf).await.unwrap();
///     });
///     let mut client = UnixStream::connect(&path).await.unwrap();
///     client.write_all(b"hello").await.unwrap();
///     let mut echo = [0; 5];
///     client.read_exact(&mut echo).await.unwrap();
///     assert_eq!(&echo, b"hello");
///     server.await.unwrap();
/// });
/// std::fs::remove_file(&path).unwrap();
/// ```
pub struct UnixListener {
    io: PollIo<std::os::unix::net::UnixListener>,
}

impl UnixListener {
    /// Binds to the socket file `path` and starts listening with a backlog of
    /// 1,024 pending connections. A path longer than the kernel allows is an
    /// `InvalidInput` error ("path too long"); an existing file at `path` is
    /// `AddrInUse` naming it (it is never removed for you). Must be called
    /// inside a weft runtime (else an `Other` error).
    ///
    /// ```
    /// use std::io::ErrorKind;
    /// use weft::net::UnixListener;
    ///
    /// let long = std::env::temp_dir().join("x".repeat(200));
    /// weft::run(async {
    ///     let err = UnixListener::bind(&long).unwrap_err();
    ///     assert_eq!(err.kind(), ErrorKind::InvalidInput);
    ///     assert!(err.to_string().contains("path too long"));
    /// });
    /// ```
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        UnixListener::bind_addr(&path_addr(path.as_ref())?)
    }

    /// Binds to `addr`, a path or (on Linux) an abstract name, as
    /// [`bind`](Self::bind).
    ///
    /// ```
    /// # #[cfg(target_os = "linux")] {
    /// use std::os::linux::net::SocketAddrExt;
    /// use std::os::unix::net::SocketAddr;
    /// use weft::net::{UnixListener, UnixStream};
    ///
    /// let name = format!("weft-doc-abstract-{}", std::process::id());
    /// let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    /// weft::run(async {
    ///     let listener = UnixListener::bind_addr(&addr).unwrap();
    ///     let _client = UnixStream::connect_addr(&addr).await.unwrap();
    ///     listener.accept().await.unwrap();
    /// });
    /// # }
    /// ```
    pub fn bind_addr(addr: &SocketAddr) -> io::Result<UnixListener> {
        // Outside a runtime, fail before a socket file is made.
        crate::context::current_driver()?;
        let socket = unix_socket(socket2::Type::STREAM)?;
        socket
            .bind(&sock_addr(addr)?)
            .map_err(|e| bind_error(e, addr))?;
        socket.listen(LISTEN_BACKLOG)?;
        UnixListener::from_std(OwnedFd::from(socket).into())
    }

    /// Wraps a listener made elsewhere (it is set non-blocking).
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("weft-doc-from-std-{}.sock", std::process::id()));
    /// let std_listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    /// weft::run(async {
    ///     let listener = weft::net::UnixListener::from_std(std_listener).unwrap();
    ///     assert_eq!(listener.local_addr().unwrap().as_pathname(), Some(path.as_path()));
    /// });
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn from_std(listener: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
        listener.set_nonblocking(true)?;
        Ok(UnixListener {
            io: PollIo::new(listener)?,
        })
    }

    /// Waits for a connection: the stream and the peer's address (usually
    /// unnamed: clients seldom bind).
    ///
    /// One task at a time should accept: the listener remembers only the
    /// latest waiter (for several acceptors, have one accept and hand the
    /// streams out). See [`UnixListener`] for an example.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("weft-doc-accept-{}.sock", std::process::id()));
    /// weft::run(async {
    ///     let listener = weft::net::UnixListener::bind(&path).unwrap();
    ///     let client = weft::spawn(weft::net::UnixStream::connect(path.clone()));
    ///     let (conn, _peer) = listener.accept().await.unwrap();
    ///     let client = client.await.unwrap().unwrap();
    ///     drop((conn, client));
    /// });
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub async fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Polls for a connection (see [`accept`](Self::accept)).
    ///
    /// ```
    /// use std::future::poll_fn;
    ///
    /// let path = std::env::temp_dir().join(format!("weft-doc-poll-accept-{}.sock", std::process::id()));
    /// weft::run(async {
    ///     let listener = weft::net::UnixListener::bind(&path).unwrap();
    ///     let _client = weft::net::UnixStream::connect(&path).await.unwrap();
    ///     let (_conn, _peer) = poll_fn(|cx| listener.poll_accept(cx)).await.unwrap();
    /// });
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(UnixStream, SocketAddr)>> {
        let (stream, peer) =
            std::task::ready!(self.io.poll_io(Direction::Read, cx, |l| l.accept()))?;
        Poll::Ready(UnixStream::from_std(stream).map(|s| (s, peer)))
    }

    /// The stream of incoming connections (`accept` in a loop). It never
    /// ends; errors (such as running out of file descriptors) are items.
    ///
    /// ```
    /// use futures_util::StreamExt;
    ///
    /// let path = std::env::temp_dir().join(format!("weft-doc-incoming-{}.sock", std::process::id()));
    /// weft::run(async {
    ///     let listener = weft::net::UnixListener::bind(&path).unwrap();
    ///     let _client = weft::net::UnixStream::connect(&path).await.unwrap();
    ///     let conn = listener.incoming().next().await.unwrap().unwrap();
    ///     assert!(conn.peer_addr().unwrap().is_unnamed());
    /// });
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// The address this listener is bound to.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("weft-doc-local-addr-{}.sock", std::process::id()));
    /// weft::run(async {
    ///     let listener = weft::net::UnixListener::bind(&path).unwrap();
    ///     assert_eq!(listener.local_addr().unwrap().as_pathname(), Some(path.as_path()));
    /// });
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().local_addr()
    }
}

/// A fresh Unix socket of type `ty` (close-on-exec, blocking).
fn unix_socket(ty: socket2::Type) -> io::Result<socket2::Socket> {
    socket2::Socket::new(socket2::Domain::UNIX, ty.cloexec(), None)
}

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("UnixListener").field(self.io.get()).finish()
    }
}

/// The stream of [`UnixListener::incoming`].
///
/// ```
/// use futures_util::StreamExt;
///
/// let path = std::env::temp_dir().join(format!("weft-doc-incoming-stream-{}.sock", std::process::id()));
/// weft::run(async {
///     let listener = weft::net::UnixListener::bind(&path).unwrap();
///     let client = weft::spawn(weft::net::UnixStream::connect(path.clone()));
///     let mut incoming: weft::net::unix::Incoming<'_> = listener.incoming();
///     let _conn = incoming.next().await.unwrap().unwrap();
///     client.await.unwrap().unwrap();
/// });
/// std::fs::remove_file(&path).unwrap();
/// ```
#[must_use = "streams do nothing unless polled"]
#[derive(Debug)]
pub struct Incoming<'a> {
    listener: &'a UnixListener,
}

impl Stream for Incoming<'_> {
    type Item = io::Result<UnixStream>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.listener
            .poll_accept(cx)
            .map(|r| Some(r.map(|(s, _)| s)))
    }
}

/// A Unix stream connection, registered with the runtime's reactor. It
/// implements futures-io's `AsyncRead` / `AsyncWrite`, as does `&UnixStream`,
/// so one task may read while another writes.
///
/// One task at a time should read, and one write: each direction remembers
/// only the latest waiter. Dropping the stream deregisters and closes it.
///
/// ```
/// use futures_util::{AsyncReadExt, AsyncWriteExt};
/// use weft::net::UnixStream;
///
/// weft::run(async {
///     let (mut a, mut b) = UnixStream::pair().unwrap();
///     a.write_all(b"ping").await.unwrap();
///     let mut buf = [0; 4];
///     b.read_exact(&mut buf).await.unwrap();
///     assert_eq!(&buf, b"ping");
/// });
/// ```
pub struct UnixStream {
    io: PollIo<std::os::unix::net::UnixStream>,
}

/// The first wait before retrying a connect the listener's full backlog
/// refused (`EAGAIN`); it doubles up to [`CONNECT_RETRY_MAX`].
const CONNECT_RETRY_FIRST: Duration = Duration::from_millis(1);

/// The longest wait between connect attempts.
const CONNECT_RETRY_MAX: Duration = Duration::from_millis(50);

impl UnixStream {
    /// Connects to the socket file `path`. A path longer than the kernel
    /// allows is an `InvalidInput` error ("path too long"); no listener there
    /// is `NotFound` (no file) or `ConnectionRefused` (a stale file). The
    /// thread never blocks: while the listener's backlog is full, the task
    /// waits and retries (the kernel refuses a non-blocking Unix connect then
    /// instead of queueing it), for as long as a blocking connect would wait:
    /// bound it with a timeout (`weft::timeout`) if the server may never
    /// accept. See [`UnixListener`] for an example.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("weft-doc-connect-{}.sock", std::process::id()));
    /// weft::run(async {
    ///     let listener = weft::net::UnixListener::bind(&path).unwrap();
    ///     let stream = weft::net::UnixStream::connect(&path).await.unwrap();
    ///     let (_conn, _) = listener.accept().await.unwrap();
    ///     assert_eq!(stream.peer_addr().unwrap().as_pathname(), Some(path.as_path()));
    /// });
    /// std::fs::remove_file(&path).unwrap();
    /// weft::run(async {
    ///     // Nobody listens there any more.
    ///     assert!(weft::net::UnixStream::connect(&path).await.is_err());
    /// });
    /// ```
    pub async fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        UnixStream::connect_addr(&path_addr(path.as_ref())?).await
    }

    /// Connects to `addr`, a path or (on Linux) an abstract name, as
    /// [`connect`](Self::connect). See [`UnixListener::bind_addr`] for an
    /// example.
    ///
    /// ```
    /// # #[cfg(target_os = "linux")] {
    /// use std::os::linux::net::SocketAddrExt;
    /// use std::os::unix::net::SocketAddr;
    ///
    /// let name = format!("weft-doc-connect-addr-{}", std::process::id());
    /// let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    /// weft::run(async {
    ///     let listener = weft::net::UnixListener::bind_addr(&addr).unwrap();
    ///     let stream = weft::net::UnixStream::connect_addr(&addr).await.unwrap();
    ///     let (_conn, _) = listener.accept().await.unwrap();
    ///     let peer = stream.peer_addr().unwrap();
    ///     assert_eq!(peer.as_abstract_name(), Some(name.as_bytes()));
    /// });
    /// # }
    /// ```
    pub async fn connect_addr(addr: &SocketAddr) -> io::Result<UnixStream> {
        let target = sock_addr(addr)?;
        let socket = unix_socket(socket2::Type::STREAM)?;
        socket.set_nonblocking(true)?;
        let stream = UnixStream {
            io: PollIo::new(std::os::unix::net::UnixStream::from(OwnedFd::from(socket)))?,
        };
        let mut retry = CONNECT_RETRY_FIRST;
        loop {
            let attempt = socket2::SockRef::from(stream.io.get()).connect(&target);
            match attempt {
                Ok(()) => return Ok(stream),
                Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => break,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    crate::time::sleep(retry).await;
                    retry = (retry * 2).min(CONNECT_RETRY_MAX);
                }
                Err(e) => return Err(e),
            }
        }
        // In progress (some BSDs): writable means it finished, one way or
        // the other.
        poll_fn(|cx| {
            stream
                .io
                .poll_io(Direction::Write, cx, |s| match s.take_error()? {
                    Some(e) => Err(e),
                    None => Ok(()),
                })
        })
        .await?;
        Ok(stream)
    }

    /// A connected pair of streams (`socketpair`).
    ///
    /// See [`UnixStream`] for an example.
    ///
    /// ```
    /// use futures_util::{AsyncReadExt, AsyncWriteExt};
    ///
    /// weft::run(async {
    ///     let (mut a, mut b) = weft::net::UnixStream::pair().unwrap();
    ///     a.write_all(b"one").await.unwrap();
    ///     let mut buf = [0; 3];
    ///     b.read_exact(&mut buf).await.unwrap();
    ///     assert_eq!(&buf, b"one");
    /// });
    /// ```
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = std::os::unix::net::UnixStream::pair()?;
        Ok((UnixStream::from_std(a)?, UnixStream::from_std(b)?))
    }

    /// Wraps a connected stream made elsewhere (it is set non-blocking).
    ///
    /// ```
    /// weft::run(async {
    ///     let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    ///     let a = weft::net::UnixStream::from_std(a).unwrap();
    ///     assert!(a.peer_addr().unwrap().is_unnamed());
    /// });
    /// ```
    pub fn from_std(stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        stream.set_nonblocking(true)?;
        Ok(UnixStream {
            io: PollIo::new(stream)?,
        })
    }

    /// The peer's address (unnamed for a client that did not bind, and for
    /// either end of a pair).
    ///
    /// See [`from_std`](Self::from_std) for an example.
    ///
    /// ```
    /// weft::run(async {
    ///     let (a, _b) = weft::net::UnixStream::pair().unwrap();
    ///     assert!(a.peer_addr().unwrap().is_unnamed(), "a pair's ends have no name");
    /// });
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().peer_addr()
    }

    /// The local address (the listener's, on the accepting side).
    ///
    /// ```
    /// weft::run(async {
    ///     let (a, _b) = weft::net::UnixStream::pair().unwrap();
    ///     assert!(a.local_addr().unwrap().is_unnamed());
    /// });
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().local_addr()
    }

    /// Shuts down the read half, the write half (the peer reads end of
    /// stream), or both. It does not block.
    ///
    /// ```
    /// use futures_util::AsyncReadExt;
    /// use std::net::Shutdown;
    ///
    /// weft::run(async {
    ///     let (a, mut b) = weft::net::UnixStream::pair().unwrap();
    ///     a.shutdown(Shutdown::Write).unwrap();
    ///     let mut rest = Vec::new();
    ///     assert_eq!(b.read_to_end(&mut rest).await.unwrap(), 0);
    /// });
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.get().shutdown(how)
    }

    /// The credentials of the process that connected the peer socket (or
    /// created the pair), as the kernel recorded them then (`SO_PEERCRED`):
    /// its user, group and process id. Linux and Android only.
    ///
    /// ```
    /// weft::run(async {
    ///     let (a, _b) = weft::net::UnixStream::pair().unwrap();
    ///     let cred = a.peer_cred().unwrap();
    ///     assert_eq!(cred.pid(), Some(std::process::id() as i32));
    /// });
    /// ```
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub fn peer_cred(&self) -> io::Result<UCred> {
        use std::os::fd::AsRawFd;
        let mut cred = libc::ucred {
            pid: 0,
            uid: 0,
            gid: 0,
        };
        let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
        // SAFETY: the fd is this stream's, open while `self` lives; `cred`
        // is a writable `ucred` and `len` holds its exact size, which is what
        // `SO_PEERCRED` writes (the kernel never writes more than `len`).
        let rc = unsafe {
            libc::getsockopt(
                self.io.get().as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_PEERCRED,
                (&mut cred as *mut libc::ucred).cast(),
                &mut len,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(UCred {
            uid: cred.uid,
            gid: cred.gid,
            pid: Some(cred.pid),
        })
    }
}

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("UnixStream").field(self.io.get()).finish()
    }
}

stream_halves!(
    UnixStream,
    r#"
```
use futures_util::{AsyncReadExt, AsyncWriteExt};
use weft::net::UnixStream;

weft::run(async {
    let (mine, theirs) = UnixStream::pair().unwrap();
    let (mut read, mut write) = theirs.into_split();
    let echo = weft::spawn(async move {
        let mut buf = [0; 4];
        read.read_exact(&mut buf).await.unwrap();
        write.write_all(&buf).await.unwrap();
        read.reunite(write).unwrap()
    });
    let mut mine = mine;
    mine.write_all(b"ping").await.unwrap();
    let mut back = [0; 4];
    mine.read_exact(&mut back).await.unwrap();
    assert_eq!(&back, b"ping");
    echo.await.unwrap();
});
```
"#,
    r#"    let (a, b) = weft::net::UnixStream::pair().unwrap();
"#,
    r#"
```
use futures_util::AsyncWriteExt;
use std::future::poll_fn;
use std::mem::MaybeUninit;
use weft::net::UnixStream;

weft::run(async {
    let (mut a, b) = UnixStream::pair().unwrap();
    a.write_all(b"ping").await.unwrap();
    a.close().await.unwrap(); // shuts down a's write half

    let mut buf = vec![MaybeUninit::<u8>::uninit(); 4096];
    let n = poll_fn(|cx| b.poll_read_uninit(cx, &mut buf)).await.unwrap();
    // SAFETY: `poll_read_uninit` initialised the first `n` bytes.
    let got: Vec<u8> = buf[..n].iter().map(|x| unsafe { x.assume_init() }).collect();
    assert_eq!(got, b"ping");
    // End of stream.
    assert_eq!(poll_fn(|cx| b.poll_read_uninit(cx, &mut buf)).await.unwrap(), 0);
});
```
"#
);

/// A peer's credentials, from [`UnixStream::peer_cred`].
///
/// ```
/// weft::run(async {
///     let (a, _b) = weft::net::UnixStream::pair().unwrap();
///     let cred = a.peer_cred().unwrap();
///     println!("peer uid {} gid {} pid {:?}", cred.uid(), cred.gid(), cred.pid());
/// });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UCred {
    uid: u32,
    gid: u32,
    pid: Option<i32>,
}

impl UCred {
    /// The peer's user id.
    ///
    /// See [`UCred`] for an example.
    ///
    /// ```
    /// weft::run(async {
    ///     let (a, _b) = weft::net::UnixStream::pair().unwrap();
    ///     let me = std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m));
    ///     if let Ok(me) = me {
    ///         assert_eq!(a.peer_cred().unwrap().uid(), me, "the peer is this process");
    ///     }
    /// });
    /// ```
    pub fn uid(&self) -> u32 {
        self.uid
    }

    /// The peer's group id.
    ///
    /// See [`UCred`] for an example.
    ///
    /// ```
    /// weft::run(async {
    ///     let (a, _b) = weft::net::UnixStream::pair().unwrap();
    ///     let me = std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::gid(&m));
    ///     if let Ok(me) = me {
    ///         assert_eq!(a.peer_cred().unwrap().gid(), me, "the peer is this process");
    ///     }
    /// });
    /// ```
    pub fn gid(&self) -> u32 {
        self.gid
    }

    /// The peer's process id, where the platform reports it (always on
    /// Linux).
    ///
    /// See [`UCred`] for an example.
    ///
    /// ```
    /// weft::run(async {
    ///     let (a, _b) = weft::net::UnixStream::pair().unwrap();
    ///     if let Some(pid) = a.peer_cred().unwrap().pid() {
    ///         assert_eq!(pid as u32, std::process::id(), "the peer is this process");
    ///     }
    /// });
    /// ```
    pub fn pid(&self) -> Option<i32> {
        self.pid
    }
}

/// A Unix datagram socket registered with the runtime's reactor. Datagrams
/// keep their boundaries and are never reordered or lost between two sockets
/// of one host (a full receiver makes the sender wait). Dropping it
/// deregisters and closes it, but does not remove its socket file, if bound
/// to a path.
///
/// One task at a time should receive, and one send: each direction remembers
/// only the latest waiter.
///
/// ```
/// use weft::net::UnixDatagram;
///
/// let path = std::env::temp_dir().join(format!("weft-doc-dgram-{}.sock", std::process::id()));
/// weft::run(async {
///     let server = UnixDatagram::bind(&path).unwrap();
///     let client = UnixDatagram::unbound().unwrap();
///     client.send_to(b"ping", &path).await.unwrap();
///     let mut buf = [0; 16];
///     let (n, _from) = server.recv_from(&mut buf).await.unwrap();
///     assert_eq!(&buf[..n], b"ping");
/// });
/// std::fs::remove_file(&path).unwrap();
/// ```
pub struct UnixDatagram {
    io: PollIo<std::os::unix::net::UnixDatagram>,
}

impl UnixDatagram {
    /// Binds to the socket file `path`, with the errors of
    /// [`UnixListener::bind`]. See [`UnixDatagram`] for an example.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("weft-doc-dgram-bind-{}.sock", std::process::id()));
    /// weft::run(async {
    ///     let socket = weft::net::UnixDatagram::bind(&path).unwrap();
    ///     assert_eq!(socket.local_addr().unwrap().as_pathname(), Some(path.as_path()));
    /// });
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixDatagram> {
        UnixDatagram::bind_addr(&path_addr(path.as_ref())?)
    }

    /// Binds to `addr`, a path or (on Linux) an abstract name.
    ///
    /// ```
    /// # #[cfg(target_os = "linux")] {
    /// use std::os::linux::net::SocketAddrExt;
    /// use std::os::unix::net::SocketAddr;
    /// use weft::net::UnixDatagram;
    ///
    /// let name = format!("weft-doc-dgram-abstract-{}", std::process::id());
    /// let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    /// weft::run(async {
    ///     let server = UnixDatagram::bind_addr(&addr).unwrap();
    ///     let client = UnixDatagram::unbound().unwrap();
    ///     client.send_to_addr(b"hi", &addr).await.unwrap();
    ///     let mut buf = [0; 8];
    ///     assert_eq!(server.recv(&mut buf).await.unwrap(), 2);
    /// });
    /// # }
    /// ```
    pub fn bind_addr(addr: &SocketAddr) -> io::Result<UnixDatagram> {
        // Outside a runtime, fail before a socket file is made.
        crate::context::current_driver()?;
        let socket =
            std::os::unix::net::UnixDatagram::bind_addr(addr).map_err(|e| bind_error(e, addr))?;
        UnixDatagram::from_std(socket)
    }

    /// A socket bound to no address: it can send, and receive replies only
    /// once connected, or from a peer that knows it through a pair.
    ///
    /// See [`UnixDatagram`] for an example.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("weft-doc-unbound-{}.sock", std::process::id()));
    /// weft::run(async {
    ///     let server = weft::net::UnixDatagram::bind(&path).unwrap();
    ///     let client = weft::net::UnixDatagram::unbound().unwrap();
    ///     client.send_to(b"hi", &path).await.unwrap();
    ///     let mut buf = [0; 4];
    ///     let (n, from) = server.recv_from(&mut buf).await.unwrap();
    ///     assert_eq!(&buf[..n], b"hi");
    ///     assert!(from.is_unnamed(), "an unbound sender has no address");
    /// });
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn unbound() -> io::Result<UnixDatagram> {
        UnixDatagram::from_std(std::os::unix::net::UnixDatagram::unbound()?)
    }

    /// A connected pair of sockets (`socketpair`).
    ///
    /// ```
    /// weft::run(async {
    ///     let (a, b) = weft::net::UnixDatagram::pair().unwrap();
    ///     a.send(b"one").await.unwrap();
    ///     a.send(b"two").await.unwrap();
    ///     let mut buf = [0; 8];
    ///     let n = b.recv(&mut buf).await.unwrap();
    ///     assert_eq!(&buf[..n], b"one");
    ///     let n = b.recv(&mut buf).await.unwrap();
    ///     assert_eq!(&buf[..n], b"two");
    /// });
    /// ```
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = std::os::unix::net::UnixDatagram::pair()?;
        Ok((UnixDatagram::from_std(a)?, UnixDatagram::from_std(b)?))
    }

    /// Wraps a socket made elsewhere (it is set non-blocking).
    ///
    /// ```
    /// weft::run(async {
    ///     let socket = std::os::unix::net::UnixDatagram::unbound().unwrap();
    ///     let socket = weft::net::UnixDatagram::from_std(socket).unwrap();
    ///     assert!(socket.local_addr().unwrap().is_unnamed());
    /// });
    /// ```
    pub fn from_std(socket: std::os::unix::net::UnixDatagram) -> io::Result<UnixDatagram> {
        socket.set_nonblocking(true)?;
        Ok(UnixDatagram {
            io: PollIo::new(socket)?,
        })
    }

    /// Sets the default peer for [`send`](Self::send) and filters
    /// [`recv`](Self::recv) to it. Does not block. A path longer than the
    /// kernel allows is an `InvalidInput` error ("path too long").
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("weft-doc-dgram-connect-{}.sock", std::process::id()));
    /// weft::run(async {
    ///     let server = weft::net::UnixDatagram::bind(&path).unwrap();
    ///     let client = weft::net::UnixDatagram::unbound().unwrap();
    ///     client.connect(&path).unwrap();
    ///     client.send(b"hi").await.unwrap();
    ///     let mut buf = [0; 8];
    ///     assert_eq!(server.recv(&mut buf).await.unwrap(), 2);
    /// });
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn connect(&self, path: impl AsRef<Path>) -> io::Result<()> {
        self.connect_addr(&path_addr(path.as_ref())?)
    }

    /// [`connect`](Self::connect) to `addr`, a path or (on Linux) an
    /// abstract name.
    ///
    /// ```
    /// weft::run(async {
    ///     let (a, _b) = weft::net::UnixDatagram::pair().unwrap();
    ///     let c = weft::net::UnixDatagram::unbound().unwrap();
    ///     // An unnamed address cannot be connected to.
    ///     assert!(c.connect_addr(&a.local_addr().unwrap()).is_err());
    /// });
    /// ```
    pub fn connect_addr(&self, addr: &SocketAddr) -> io::Result<()> {
        self.io.get().connect_addr(addr)
    }

    /// Sends one datagram to the socket at `path`; returns the bytes sent.
    /// See [`UnixDatagram`] for an example.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("weft-doc-send-to-{}.sock", std::process::id()));
    /// weft::run(async {
    ///     let server = weft::net::UnixDatagram::bind(&path).unwrap();
    ///     let client = weft::net::UnixDatagram::unbound().unwrap();
    ///     assert_eq!(client.send_to(b"three", &path).await.unwrap(), 5);
    ///     let mut buf = [0; 8];
    ///     assert_eq!(server.recv_from(&mut buf).await.unwrap().0, 5);
    /// });
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub async fn send_to(&self, buf: &[u8], path: impl AsRef<Path>) -> io::Result<usize> {
        self.send_to_addr(buf, &path_addr(path.as_ref())?).await
    }

    /// Sends one datagram to `addr`, a path or (on Linux) an abstract name.
    /// See [`bind_addr`](Self::bind_addr) for an example.
    ///
    /// ```
    /// # #[cfg(target_os = "linux")] {
    /// use std::os::linux::net::SocketAddrExt;
    /// use std::os::unix::net::SocketAddr;
    ///
    /// let name = format!("weft-doc-send-to-addr-{}", std::process::id());
    /// let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    /// weft::run(async {
    ///     let server = weft::net::UnixDatagram::bind_addr(&addr).unwrap();
    ///     let client = weft::net::UnixDatagram::unbound().unwrap();
    ///     client.send_to_addr(b"abstract", &addr).await.unwrap();
    ///     let mut buf = [0; 16];
    ///     let (n, _) = server.recv_from(&mut buf).await.unwrap();
    ///     assert_eq!(&buf[..n], b"abstract");
    /// });
    /// # }
    /// ```
    pub async fn send_to_addr(&self, buf: &[u8], addr: &SocketAddr) -> io::Result<usize> {
        poll_fn(|cx| self.poll_send_to_addr(cx, buf, addr)).await
    }

    /// Polls [`send_to_addr`](Self::send_to_addr).
    ///
    /// ```
    /// use std::future::poll_fn;
    ///
    /// weft::run(async {
    ///     let (a, b) = weft::net::UnixDatagram::pair().unwrap();
    ///     let to = b.local_addr().unwrap();
    ///     // b is unnamed: only its pair can reach it, with `send`.
    ///     assert!(poll_fn(|cx| a.poll_send_to_addr(cx, b"x", &to)).await.is_err());
    /// });
    /// ```
    pub fn poll_send_to_addr(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        addr: &SocketAddr,
    ) -> Poll<io::Result<usize>> {
        self.io
            .poll_io(Direction::Write, cx, |s| s.send_to_addr(buf, addr))
    }

    /// Shuts down the read half, the write half, or both. It does not block.
    ///
    /// ```
    /// use std::net::Shutdown;
    ///
    /// weft::run(async {
    ///     let (a, _b) = weft::net::UnixDatagram::pair().unwrap();
    ///     a.shutdown(Shutdown::Write).unwrap();
    ///     assert!(a.send(b"late").await.is_err());
    /// });
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.get().shutdown(how)
    }
}

datagram_io!(
    UnixDatagram,
    SocketAddr,
    r#"
```
use std::future::poll_fn;

let path = std::env::temp_dir().join(format!("weft-doc-dgram-peer-{}.sock", std::process::id()));
weft::run(async {
    let server = weft::net::UnixDatagram::bind(&path).unwrap();
    let client = weft::net::UnixDatagram::unbound().unwrap();
    client.connect(&path).unwrap();
    assert_eq!(client.peer_addr().unwrap().as_pathname(), Some(path.as_path()));
    client.send(b"hi").await.unwrap();
    let mut buf = [0; 8];
    let n = server.recv(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"hi");
    // The poll forms, for futures written by hand.
    poll_fn(|cx| client.poll_send(cx, b"again")).await.unwrap();
    let n = poll_fn(|cx| server.poll_recv(cx, &mut buf)).await.unwrap();
    assert_eq!(&buf[..n], b"again");
});
std::fs::remove_file(&path).unwrap();
```
"#,
    r#"
```
use std::future::poll_fn;
use weft::net::UnixDatagram;

let dir = std::env::temp_dir();
let id = std::process::id();
let a_path = dir.join(format!("weft-doc-dgram-a-{id}.sock"));
let b_path = dir.join(format!("weft-doc-dgram-b-{id}.sock"));
weft::run(async {
    let a = UnixDatagram::bind(&a_path).unwrap();
    let b = UnixDatagram::bind(&b_path).unwrap();
    assert_eq!(b.local_addr().unwrap().as_pathname(), Some(b_path.as_path()));
    a.send_to(b"one", &b_path).await.unwrap();
    a.send_to(b"two", &b_path).await.unwrap();
    let mut buf = [0; 8];
    let (n, from) = b.recv_from(&mut buf).await.unwrap();
    assert_eq!((&buf[..n], from.as_pathname()), (&b"one"[..], Some(a_path.as_path())));
    // The poll form, for futures written by hand.
    let (n, from) = poll_fn(|cx| b.poll_recv_from(cx, &mut buf)).await.unwrap();
    assert_eq!((&buf[..n], from.as_pathname()), (&b"two"[..], Some(a_path.as_path())));
});
std::fs::remove_file(&a_path).unwrap();
std::fs::remove_file(&b_path).unwrap();
```
"#
);

impl fmt::Debug for UnixDatagram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("UnixDatagram").field(self.io.get()).finish()
    }
}
