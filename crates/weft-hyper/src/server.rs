//! The serve helper: [`serve`] drives a hyper service on every connection a
//! [`Listener`] accepts, through hyper-util's `auto` builder (HTTP/1 and
//! HTTP/2, chosen by the client's preface), with [`WeftTimer`] always set.
//!
//! # Tasks
//!
//! The accept loop runs in the caller's task and does nothing but accept:
//! each connection gets its own task, which runs the [`Handshake`] (a TLS
//! handshake, say: a slow or garbage client stalls only its own task), then
//! the hyper connection. HTTP/2 streams are further tasks, spawned by
//! hyper through [`WeftExecutor`].
//!
//! # Graceful shutdown
//!
//! [`Serve::with_graceful_shutdown`] takes a future; when it resolves:
//!
//! 1. the listener is dropped (new connects are refused);
//! 2. a shared [`Event`] is set: each connection task calls hyper's
//!    `graceful_shutdown` on its connection (HTTP/1 finishes the request in
//!    flight and closes; HTTP/2 sends GOAWAY and finishes its streams); a
//!    connection still in its handshake is dropped;
//! 3. the connection tasks are awaited under a weft timeout scope of the
//!    grace period; those still running after it are cancelled and counted
//!    in [`Shutdown::cut_off`].
//!
//! The connection tasks are kept as `Task` handles in a vector pruned of the
//! finished ones whenever it doubles, so it holds at most about twice the
//! live connections.

use crate::io::WeftIo;
use crate::listener::Listener;
use crate::rt::{WeftExecutor, WeftTimer};
use futures_io::{AsyncRead, AsyncWrite};
use hyper::body::{Body, Incoming};
use hyper::service::Service;
use hyper::{Request, Response};
use hyper_util::server::conn::auto;
use std::convert::Infallible;
use std::error::Error as StdError;
use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::pin::pin;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use weft_sync::{Event, EventWait};
use weft_task::Task;

/// How long a client may take to send a request head (hyper's
/// `header_read_timeout`), unless changed with
/// [`Serve::header_read_timeout`].
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a connection's [`Handshake`] may take, unless changed with
/// [`Serve::handshake_timeout`].
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long in-flight connections get to finish after the shutdown signal,
/// unless changed with [`Serve::grace_period`].
pub const DEFAULT_GRACE_PERIOD: Duration = Duration::from_secs(10);

/// The pause after an accept error that is not about one connection (out of
/// file descriptors, out of memory), so the loop does not spin on it.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(100);

/// The per-connection step run in the connection's task before HTTP, such as
/// a TLS handshake: it takes the accepted stream and gives back the stream
/// hyper will speak over.
///
/// Any `Fn(I) -> impl Future<Output = io::Result<Io>>` that is `Clone + Send
/// + Sync + 'static` is one. An error drops the connection (logged at debug
/// level); so does taking longer than [`Serve::handshake_timeout`].
///
/// ```
/// use futures_util::{AsyncReadExt, AsyncWriteExt};
/// use weft::net::{TcpListener, TcpStream};
///
/// weft::run(async {
///     // A step that wants a one-byte greeting before HTTP is spoken.
///     let step = |mut stream: TcpStream| async move {
///         let mut hello = [0u8; 1];
///         stream.read_exact(&mut hello).await?;
///         if hello != *b"!" {
///             return Err(std::io::Error::other("no greeting"));
///         }
///         Ok(stream)
///     };
///     let listener = TcpListener::bind("127.0.0.1:0").unwrap();
///     let addr = listener.local_addr().unwrap();
///     let svc = hyper::service::service_fn(|_req: hyper::Request<hyper::body::Incoming>| async {
///         Ok::<_, std::convert::Infallible>(hyper::Response::new(String::from("hi")))
///     });
///     weft::spawn(weft::hyper::serve(listener, svc).handshake(step).run()).detach();
///
///     let mut s = TcpStream::connect(addr).await.unwrap();
///     s.write_all(b"!GET / HTTP/1.0\r\n\r\n").await.unwrap();
///     let mut reply = String::new();
///     s.read_to_string(&mut reply).await.unwrap();
///     assert!(reply.ends_with("hi"));
/// });
/// ```
pub trait Handshake<I>: Clone + Send + Sync + 'static {
    /// The stream after the step (for TLS, the encrypted stream).
    type Io: AsyncRead + AsyncWrite + Send + Unpin + 'static;
    /// The step itself.
    type Future: Future<Output = io::Result<Self::Io>> + Send + 'static;

    /// Starts the step on one accepted stream.
    fn handshake(&self, io: I) -> Self::Future;
}

impl<I, F, Fut, Io> Handshake<I> for F
where
    F: Fn(I) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = io::Result<Io>> + Send + 'static,
    Io: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    type Io = Io;
    type Future = Fut;

    fn handshake(&self, io: I) -> Fut {
        self(io)
    }
}

/// The [`Handshake`] that does nothing: plain HTTP over the accepted stream.
/// It is the default of [`serve`].
///
/// ```
/// use weft::hyper::{Handshake, Plain};
///
/// weft::run(async {
///     let l = weft::net::TcpListener::bind("127.0.0.1:0").unwrap();
///     let s = weft::net::TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
///     let same = Plain.handshake(s).await.unwrap();
///     assert!(same.peer_addr().is_ok());
/// });
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct Plain;

impl<I> Handshake<I> for Plain
where
    I: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    type Io = I;
    type Future = std::future::Ready<io::Result<I>>;

    fn handshake(&self, io: I) -> Self::Future {
        std::future::ready(Ok(io))
    }
}

/// What a graceful shutdown did: how many connections finished within the
/// grace period and how many were cut off after it.
///
/// ```
/// let s = weft::hyper::Shutdown::default();
/// assert_eq!((s.finished(), s.cut_off()), (0, 0));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Shutdown {
    finished: usize,
    cut_off: usize,
}

impl Shutdown {
    /// Connections open at the signal that ended within the grace period.
    ///
    /// ```
    /// assert_eq!(weft::hyper::Shutdown::default().finished(), 0);
    /// ```
    pub fn finished(&self) -> usize {
        self.finished
    }

    /// Connections still open when the grace period ran out (their tasks
    /// were cancelled).
    ///
    /// ```
    /// assert_eq!(weft::hyper::Shutdown::default().cut_off(), 0);
    /// ```
    pub fn cut_off(&self) -> usize {
        self.cut_off
    }
}

/// Serves `service` on every connection `listener` accepts: HTTP/1 and
/// HTTP/2 through hyper-util's `auto` builder, on weft's executor and timer,
/// with a header-read timeout of [`DEFAULT_HEADER_READ_TIMEOUT`].
///
/// `service` is a hyper [`Service`] (hyper's `service_fn`, or a tower
/// service such as an axum `Router` wrapped in hyper-util's
/// [`TowerToHyperService`](hyper_util::service::TowerToHyperService)); it is
/// cloned for each connection. Nothing runs until the returned [`Serve`] is
/// awaited through [`run`](Serve::run) or
/// [`with_graceful_shutdown`](Serve::with_graceful_shutdown).
///
/// ```
/// use std::convert::Infallible;
/// use weft::hyper::serve;
///
/// weft::run(async {
///     let listener = weft::net::TcpListener::bind("127.0.0.1:0").unwrap();
///     let addr = listener.local_addr().unwrap();
///     let svc = hyper::service::service_fn(|_req: hyper::Request<hyper::body::Incoming>| async {
///         Ok::<_, Infallible>(hyper::Response::new(String::from("hello")))
///     });
///     let stop = std::sync::Arc::new(weft::sync::Event::new());
///     let server = weft::spawn({
///         let stop = stop.clone();
///         async move { serve(listener, svc).with_graceful_shutdown(async move { stop.wait().await }).await }
///     });
///     // A raw HTTP/1.0 request.
///     use futures_util::{AsyncReadExt, AsyncWriteExt};
///     let mut s = weft::net::TcpStream::connect(addr).await.unwrap();
///     s.write_all(b"GET / HTTP/1.0\r\n\r\n").await.unwrap();
///     let mut reply = String::new();
///     s.read_to_string(&mut reply).await.unwrap();
///     assert!(reply.starts_with("HTTP/1.0 200 OK") && reply.ends_with("hello"));
///     stop.set();
///     assert_eq!(server.await.unwrap().cut_off(), 0);
/// });
/// ```
pub fn serve<L, S>(listener: L, service: S) -> Serve<L, S, Plain>
where
    L: Listener,
{
    let mut builder = auto::Builder::new(WeftExecutor::new());
    builder
        .http1()
        .timer(WeftTimer::new())
        .header_read_timeout(DEFAULT_HEADER_READ_TIMEOUT);
    builder.http2().timer(WeftTimer::new());
    Serve {
        listener,
        service,
        handshake: Plain,
        builder,
        handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        grace: DEFAULT_GRACE_PERIOD,
    }
}

/// A server being configured: see [`serve`]. Await
/// [`run`](Self::run) or [`with_graceful_shutdown`](Self::with_graceful_shutdown)
/// to serve. Dropping it unawaited closes the listener.
///
/// ```
/// use futures_util::{AsyncReadExt, AsyncWriteExt};
/// use std::convert::Infallible;
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// weft::run(async {
///     let listener = weft::net::TcpListener::bind("127.0.0.1:0").unwrap();
///     let svc = hyper::service::service_fn(|_req: hyper::Request<hyper::body::Incoming>| async {
///         Ok::<_, Infallible>(hyper::Response::new(String::from("hello")))
///     });
///     let server = weft::hyper::serve(listener, svc).grace_period(Duration::from_secs(5));
///     let addr = server.local_addr().unwrap();
///     let stop = Arc::new(weft::sync::Event::new());
///     let signal = stop.clone();
///     let server = weft::spawn(async move {
///         server.with_graceful_shutdown(async move { signal.wait().await }).await
///     });
///
///     // A keep-alive HTTP/1.1 client, idle after one exchange.
///     let mut client = weft::net::TcpStream::connect(addr).await.unwrap();
///     client.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").await.unwrap();
///     let mut reply = Vec::new();
///     let mut buf = [0; 256];
///     while !reply.ends_with(b"hello") {
///         let n = client.read(&mut buf).await.unwrap();
///         assert!(n > 0, "the connection stays open");
///         reply.extend_from_slice(&buf[..n]);
///     }
///     assert!(reply.starts_with(b"HTTP/1.1 200 OK"));
///
///     // The shutdown closes the idle connection, which counts as finished.
///     stop.set();
///     let report = server.await.unwrap();
///     assert_eq!((report.finished(), report.cut_off()), (1, 0));
///     assert_eq!(client.read(&mut buf).await.unwrap(), 0, "closed by the server");
///     assert!(weft::net::TcpStream::connect(addr).await.is_err(), "no longer listening");
/// });
/// ```
#[must_use = "a Serve does nothing until run() or with_graceful_shutdown() is awaited"]
pub struct Serve<L, S, H = Plain> {
    listener: L,
    service: S,
    handshake: H,
    builder: auto::Builder<WeftExecutor>,
    handshake_timeout: Duration,
    grace: Duration,
}

impl<L: Listener, S, H> fmt::Debug for Serve<L, S, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Serve")
            .field("local_addr", &self.listener.local_addr().ok())
            .field("handshake_timeout", &self.handshake_timeout)
            .field("grace", &self.grace)
            .finish_non_exhaustive()
    }
}

impl<L, S, H> Serve<L, S, H>
where
    L: Listener,
{
    /// Runs `step` on each accepted stream, in the connection's own task,
    /// before HTTP is spoken over what it returns (see [`Handshake`]).
    ///
    /// ```
    /// # weft::run(async {
    /// let listener = weft::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let svc = hyper::service::service_fn(|_req: hyper::Request<hyper::body::Incoming>| async {
    ///     Ok::<_, std::convert::Infallible>(hyper::Response::new(String::new()))
    /// });
    /// let server = weft::hyper::serve(listener, svc)
    ///     .handshake(|s: weft::net::TcpStream| async move { Ok(s) });
    /// # drop(server);
    /// # });
    /// ```
    pub fn handshake<H2: Handshake<L::Io>>(self, step: H2) -> Serve<L, S, H2> {
        Serve {
            listener: self.listener,
            service: self.service,
            handshake: step,
            builder: self.builder,
            handshake_timeout: self.handshake_timeout,
            grace: self.grace,
        }
    }

    /// How long a client may take to send a request head before hyper closes
    /// the connection (HTTP/1; `None`: no limit). Default
    /// [`DEFAULT_HEADER_READ_TIMEOUT`].
    ///
    /// ```
    /// # weft::run(async {
    /// # let listener = weft::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// # let svc = hyper::service::service_fn(|_req: hyper::Request<hyper::body::Incoming>| async {
    /// #     Ok::<_, std::convert::Infallible>(hyper::Response::new(String::new()))
    /// # });
    /// let server = weft::hyper::serve(listener, svc)
    ///     .header_read_timeout(Some(std::time::Duration::from_secs(5)));
    /// # drop(server);
    /// # });
    /// ```
    pub fn header_read_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.builder.http1().header_read_timeout(timeout);
        self
    }

    /// How long the [`Handshake`] may take before the connection is dropped.
    /// Default [`DEFAULT_HANDSHAKE_TIMEOUT`].
    ///
    /// ```
    /// # weft::run(async {
    /// # let listener = weft::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// # let svc = hyper::service::service_fn(|_req: hyper::Request<hyper::body::Incoming>| async {
    /// #     Ok::<_, std::convert::Infallible>(hyper::Response::new(String::new()))
    /// # });
    /// let server = weft::hyper::serve(listener, svc)
    ///     .handshake_timeout(std::time::Duration::from_secs(2));
    /// # drop(server);
    /// # });
    /// ```
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// How long connections get to finish after the shutdown signal before
    /// they are cut off. Default [`DEFAULT_GRACE_PERIOD`].
    ///
    /// ```
    /// # weft::run(async {
    /// # let listener = weft::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// # let svc = hyper::service::service_fn(|_req: hyper::Request<hyper::body::Incoming>| async {
    /// #     Ok::<_, std::convert::Infallible>(hyper::Response::new(String::new()))
    /// # });
    /// let server = weft::hyper::serve(listener, svc)
    ///     .grace_period(std::time::Duration::from_secs(30));
    /// # drop(server);
    /// # });
    /// ```
    pub fn grace_period(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// hyper-util's builder, for every other setting (HTTP/2 only, keep-alive,
    /// limits). Its executor and timer are weft's; replacing the timer with
    /// none turns the header-read timeout off.
    ///
    /// ```
    /// # weft::run(async {
    /// # let listener = weft::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// # let svc = hyper::service::service_fn(|_req: hyper::Request<hyper::body::Incoming>| async {
    /// #     Ok::<_, std::convert::Infallible>(hyper::Response::new(String::new()))
    /// # });
    /// let mut server = weft::hyper::serve(listener, svc);
    /// server.builder_mut().http1().max_buf_size(16 * 1024);
    /// # drop(server);
    /// # });
    /// ```
    pub fn builder_mut(&mut self) -> &mut auto::Builder<WeftExecutor> {
        &mut self.builder
    }

    /// The address the listener is bound to.
    ///
    /// ```
    /// # weft::run(async {
    /// # let listener = weft::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// # let svc = hyper::service::service_fn(|_req: hyper::Request<hyper::body::Incoming>| async {
    /// #     Ok::<_, std::convert::Infallible>(hyper::Response::new(String::new()))
    /// # });
    /// let server = weft::hyper::serve(listener, svc);
    /// assert!(server.local_addr().unwrap().port() != 0);
    /// # });
    /// ```
    pub fn local_addr(&self) -> io::Result<L::Addr> {
        self.listener.local_addr()
    }
}

impl<L, S, H, B> Serve<L, S, H>
where
    L: Listener,
    H: Handshake<L::Io>,
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn StdError + Send + Sync>>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    /// Serves until the task running it is cancelled (which closes the
    /// listener; the connection tasks run on to their end).
    ///
    /// ```no_run
    /// # use std::convert::Infallible;
    /// weft::run(async {
    ///     let listener = weft::net::TcpListener::bind("127.0.0.1:8080").unwrap();
    ///     let svc = hyper::service::service_fn(|_req: hyper::Request<hyper::body::Incoming>| async {
    ///         Ok::<_, Infallible>(hyper::Response::new(String::from("hello")))
    ///     });
    ///     let never: Infallible = weft::hyper::serve(listener, svc).run().await;
    ///     match never {}
    /// });
    /// ```
    pub async fn run(self) -> Infallible {
        let (never, _) = self.serve_until(std::future::pending::<Infallible>()).await;
        never
    }

    /// Serves until `signal` resolves, then shuts down gracefully (see the
    /// [module docs](self)): stops accepting, asks every connection to
    /// finish, waits for them up to the grace period and cuts off the rest.
    ///
    /// ```
    /// # use std::convert::Infallible;
    /// weft::run(async {
    ///     let listener = weft::net::TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let svc = hyper::service::service_fn(|_req: hyper::Request<hyper::body::Incoming>| async {
    ///         Ok::<_, Infallible>(hyper::Response::new(String::from("hello")))
    ///     });
    ///     let report = weft::hyper::serve(listener, svc)
    ///         .with_graceful_shutdown(weft::sleep(std::time::Duration::from_millis(10)))
    ///         .await;
    ///     assert_eq!(report, weft::hyper::Shutdown::default());
    /// });
    /// ```
    pub async fn with_graceful_shutdown<F: Future>(self, signal: F) -> Shutdown {
        self.serve_until(signal).await.1
    }

    async fn serve_until<F: Future>(self, signal: F) -> (F::Output, Shutdown) {
        let Serve {
            mut listener,
            service,
            handshake,
            builder,
            handshake_timeout,
            grace,
        } = self;
        let builder = Arc::new(builder);
        let stop = Arc::new(Event::new());
        let mut connections = Connections::default();
        let mut signal = pin!(signal);

        let out = loop {
            let accepted = poll_fn(|cx| {
                if let Poll::Ready(out) = signal.as_mut().poll(cx) {
                    return Poll::Ready(Err(out));
                }
                listener.poll_accept(cx).map(Ok)
            })
            .await;
            match accepted {
                Err(out) => break out,
                Ok(Ok((io, peer))) => {
                    let task = weft_loop::spawn(serve_connection(
                        io,
                        handshake.clone(),
                        handshake_timeout,
                        service.clone(),
                        builder.clone(),
                        stop.clone(),
                    ));
                    tracing::trace!(?peer, task = ?task.id(), "weft-hyper: accepted");
                    connections.push(task);
                }
                Ok(Err(e)) => {
                    if is_connection_error(&e) {
                        tracing::debug!(error = %e, "weft-hyper: accept failed for one connection");
                        continue;
                    }
                    tracing::error!(
                        error = %e,
                        backoff = ?ACCEPT_ERROR_BACKOFF,
                        "weft-hyper: accept failed; pausing before the next accept"
                    );
                    let mut pause = pin!(weft_loop::sleep(ACCEPT_ERROR_BACKOFF));
                    let stopped = poll_fn(|cx| match signal.as_mut().poll(cx) {
                        Poll::Ready(out) => Poll::Ready(Some(out)),
                        Poll::Pending => pause.as_mut().poll(cx).map(|()| None),
                    })
                    .await;
                    if let Some(out) = stopped {
                        break out;
                    }
                }
            }
        };

        drop(listener);
        // Counted before the connections are told to stop: one that closes
        // on the signal (an idle keep-alive one, at once) was open at it.
        connections.prune();
        stop.set();
        let report = connections.drain(grace).await;
        tracing::debug!(?report, "weft-hyper: shut down");
        (out, report)
    }
}

/// Accept errors about one connection (the loop goes straight on); any other
/// error is about the listener or the process and earns a pause.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    ) || e.raw_os_error() == Some(libc::EPROTO)
}

/// One connection's task: the handshake (raced against the shutdown event,
/// bounded by the handshake timeout), then the hyper connection, asked to
/// shut down gracefully when the event is set.
async fn serve_connection<I, H, S, B>(
    io: I,
    handshake: H,
    handshake_timeout: Duration,
    service: S,
    builder: Arc<auto::Builder<WeftExecutor>>,
    stop: Arc<Event>,
) where
    I: Send + 'static,
    H: Handshake<I>,
    S: Service<Request<Incoming>, Response = Response<B>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn StdError + Send + Sync>>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    // One view of the shutdown event for the whole task: the handshake and
    // the connection both race against it.
    let wait = pin!(stop.wait());
    let mut stopped = StopWatch::new(&stop, wait);
    let stream = {
        let mut step_run = pin!(handshake.handshake(io));
        // A plain sleep, not a timeout scope: on expiry the step is simply
        // dropped, and a step done at once (no TLS) never arms the timer.
        let mut deadline = pin!(weft_loop::sleep(handshake_timeout));
        let outcome = poll_fn(|cx| {
            if stopped.poll_stopped(cx) {
                return Poll::Ready(None);
            }
            if let Poll::Ready(r) = step_run.as_mut().poll(cx) {
                return Poll::Ready(Some(Some(r)));
            }
            deadline.as_mut().poll(cx).map(|()| Some(None))
        })
        .await;
        match outcome {
            None => return,
            Some(Some(Ok(stream))) => stream,
            Some(Some(Err(e))) => {
                tracing::debug!(error = %e, "weft-hyper: handshake failed");
                return;
            }
            Some(None) => {
                tracing::debug!(timeout = ?handshake_timeout, "weft-hyper: handshake timed out");
                return;
            }
        }
    };

    let mut conn = pin!(builder.serve_connection_with_upgrades(WeftIo::new(stream), service));
    let mut asked = false;
    let result = poll_fn(|cx| {
        if !asked && stopped.poll_stopped(cx) {
            asked = true;
            conn.as_mut().graceful_shutdown();
        }
        conn.as_mut().poll(cx)
    })
    .await;
    if let Err(e) = result {
        tracing::debug!(error = %e, "weft-hyper: connection ended with an error");
    }
}

/// A connection task's view of the shutdown event. Polling an `EventWait`
/// that is queued takes the event's lock, and every connection shares the
/// event: doing that on each poll of each connection would serialise the
/// workers. So the wait is polled (and the waker stored) only on the first
/// poll and when the task's waker changes; otherwise a poll is one atomic
/// load of the flag. `Event::set` wakes the stored waker, and the woken
/// task's next poll sees the flag.
struct StopWatch<'a, 'w> {
    event: &'a Event,
    wait: Pin<&'w mut EventWait<'a>>,
    waker: Option<Waker>,
}

impl<'a, 'w> StopWatch<'a, 'w> {
    fn new(event: &'a Event, wait: Pin<&'w mut EventWait<'a>>) -> StopWatch<'a, 'w> {
        StopWatch {
            event,
            wait,
            waker: None,
        }
    }

    fn poll_stopped(&mut self, cx: &mut Context<'_>) -> bool {
        if self.event.is_set() {
            return true;
        }
        if matches!(&self.waker, Some(w) if w.will_wake(cx.waker())) {
            return false;
        }
        self.waker = Some(cx.waker().clone());
        self.wait.as_mut().poll(cx).is_ready()
    }
}

/// The live connection tasks, pruned of finished ones whenever the vector
/// doubles.
#[derive(Default)]
struct Connections {
    tasks: Vec<Task<()>>,
    prune_at: usize,
}

impl Connections {
    const MIN_PRUNE: usize = 64;

    fn push(&mut self, task: Task<()>) {
        if self.tasks.len() >= self.prune_at.max(Self::MIN_PRUNE) {
            self.prune();
        }
        self.tasks.push(task);
    }

    /// Drops the finished tasks.
    fn prune(&mut self) {
        self.tasks.retain(|t| !t.done());
        self.prune_at = self.tasks.len() * 2;
    }

    /// Waits for every task up to `grace` (a weft timeout scope), then
    /// cancels and awaits those still running. The tasks open at the
    /// signal are those left by the last [`prune`](Self::prune).
    async fn drain(mut self, grace: Duration) -> Shutdown {
        let open = self.tasks.len();
        let tasks = &mut self.tasks;
        let _ = weft_combinators::timeout(grace)
            .run(async {
                for task in tasks.iter_mut() {
                    poll_fn(|cx| task.poll_done(cx)).await;
                }
            })
            .await;
        let mut cut_off = 0;
        for task in &mut self.tasks {
            if !task.done() {
                task.cancel_with("weft-hyper: grace period over");
                cut_off += 1;
            }
        }
        for task in &mut self.tasks {
            poll_fn(|cx| task.poll_done(cx)).await;
        }
        Shutdown {
            finished: open - cut_off,
            cut_off,
        }
    }
}
