//! Unix signals on the reactor (`weft::signal`): SIGUSR1, SIGTERM and SIGINT
//! (through `ctrl_c`) sent to ourselves and delivered; two listeners, on one
//! runtime and on two, each seeing one delivery; a delivery while nobody
//! awaits kept for an existing listener (and several coalescing into one);
//! the signals that cannot be handled; outside a runtime; the runtime's
//! reader closed with its last listener; `None` after the runtime is gone.
//!
//! Each test that sends a signal uses a signal no other test here sends (the
//! tests of this binary run in parallel and a signal goes to the whole
//! process), and listens before it sends: the first listener replaces the
//! default action, which would otherwise end the test process.

mod common;

use common::{block_on, flag_when_pending, io_sources, poll_once, wait_until, watchdog, Flag};
use futures_util::StreamExt;
use std::io::ErrorKind;
use std::task::Poll;
use weft::signal::{ctrl_c, signal, SignalKind};

/// Sends `sig` to this process.
fn raise(sig: libc::c_int) {
    // SAFETY: kill(2) takes plain integers; the callers listen to `sig`
    // first, so its default action (ending the process) is replaced.
    let rc = unsafe { libc::kill(libc::getpid(), sig) };
    assert_eq!(rc, 0, "kill failed");
}

/// Whether `signal` has a delivery ready right now, without waiting.
fn ready_now(signal: &mut weft::signal::Signal) -> bool {
    let mut recv = Box::pin(signal.recv());
    matches!(poll_once(&mut recv), Poll::Ready(Some(())))
}

#[test]
fn sigusr1_is_delivered_each_time() {
    block_on(2, |_| async {
        let mut usr1 = signal(SignalKind::user_defined1()).unwrap();
        assert_eq!(usr1.kind().as_raw(), libc::SIGUSR1);
        for _ in 0..3 {
            // A task waiting first, then the signal.
            let started = Flag::new();
            let waiter = weft::spawn(flag_when_pending(started.clone(), async move {
                assert_eq!(usr1.recv().await, Some(()));
                usr1
            }));
            wait_until("the listener to wait", || started.get()).await;
            raise(libc::SIGUSR1);
            usr1 = waiter.await.unwrap();
        }
    });
}

#[test]
fn sigterm_is_delivered_through_the_stream() {
    block_on(1, |_| async {
        let mut term = signal(SignalKind::terminate()).unwrap();
        raise(libc::SIGTERM);
        assert_eq!(term.next().await, Some(()));
    });
}

/// `ctrl_c` registers when first polled; a SIGINT after that resolves it.
#[test]
fn ctrl_c_resolves_on_sigint() {
    block_on(2, |_| async {
        let started = Flag::new();
        let waiter = weft::spawn(flag_when_pending(started.clone(), ctrl_c()));
        wait_until("ctrl_c to listen", || started.get()).await;
        raise(libc::SIGINT);
        waiter.await.unwrap().unwrap();
    });
}

/// Two listeners on this runtime and one on another each see the one
/// delivery, once: none of them sees a second.
#[test]
fn every_listener_sees_each_delivery_once() {
    let (other_ready_tx, other_ready_rx) = std::sync::mpsc::channel();
    let (raised_tx, raised_rx) = std::sync::mpsc::channel::<()>();
    // A second runtime, on its own thread, with its own reader.
    let other = std::thread::spawn(move || {
        block_on(1, move |_| async move {
            let mut usr2 = signal(SignalKind::user_defined2()).unwrap();
            other_ready_tx.send(()).unwrap();
            assert_eq!(usr2.recv().await, Some(()));
            // Only one delivery was sent.
            raised_rx.recv().unwrap();
            assert!(
                !ready_now(&mut usr2),
                "a second delivery on the other runtime"
            );
        })
    });
    block_on(2, move |_| async move {
        let mut first = signal(SignalKind::user_defined2()).unwrap();
        let mut second = signal(SignalKind::user_defined2()).unwrap();
        other_ready_rx.recv().unwrap();
        raise(libc::SIGUSR2);
        assert_eq!(first.recv().await, Some(()));
        assert_eq!(second.recv().await, Some(()));
        // Give a stray second fan-out time to show.
        weft::sleep(common::ms(50)).await;
        assert!(
            !ready_now(&mut first),
            "a second delivery for the first listener"
        );
        assert!(
            !ready_now(&mut second),
            "a second delivery for the second listener"
        );
        raised_tx.send(()).unwrap();
    });
    other.join().unwrap();
}

/// A signal that arrives while nobody awaits the listener is kept for its
/// next `recv`; three before one `recv` count once.
#[test]
fn a_delivery_before_anyone_awaits_is_not_lost() {
    block_on(1, |_| async {
        let mut hup = signal(SignalKind::hangup()).unwrap();
        raise(libc::SIGHUP);
        // The reader fans the delivery out with nobody waiting.
        weft::sleep(common::ms(50)).await;
        assert_eq!(hup.recv().await, Some(()));
        assert!(!ready_now(&mut hup));

        for _ in 0..3 {
            raise(libc::SIGHUP);
        }
        weft::sleep(common::ms(50)).await;
        assert_eq!(hup.recv().await, Some(()));
        assert!(
            !ready_now(&mut hup),
            "deliveries while away did not coalesce"
        );
    });
}

#[test]
fn signals_that_cannot_be_handled_are_errors() {
    block_on(1, |_| async {
        for sig in [
            libc::SIGKILL,
            libc::SIGSTOP,
            libc::SIGSEGV,
            libc::SIGILL,
            libc::SIGFPE,
        ] {
            let err = signal(SignalKind::from_raw(sig)).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{sig}: {err}");
            assert_eq!(err.to_string(), format!("signal {sig} cannot be handled"));
        }
        // Numbers that are no signal: the OS's error, not a panic.
        for sig in [0, -1, 100_000] {
            let err = signal(SignalKind::from_raw(sig)).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{sig}: {err}");
        }
    });
}

#[test]
fn outside_a_runtime_is_an_error() {
    watchdog(|| {
        let err = signal(SignalKind::alarm()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Other);
        assert_eq!(err.to_string(), "not inside a weft runtime");
        let mut waiting = Box::pin(ctrl_c());
        match poll_once(&mut waiting) {
            Poll::Ready(Err(e)) => assert_eq!(e.kind(), ErrorKind::Other),
            other => panic!("ctrl_c outside a runtime: {other:?}"),
        }
    });
}

/// The listeners of one runtime share one reader (one registration); the
/// last one to go closes it.
#[test]
fn the_last_listener_closes_the_runtimes_reader() {
    block_on(1, |_| async {
        let baseline = io_sources();
        let a = signal(SignalKind::alarm()).unwrap();
        assert_eq!(io_sources(), baseline + 1);
        let b = signal(SignalKind::window_change()).unwrap();
        assert_eq!(io_sources(), baseline + 1);
        drop(a);
        assert_eq!(io_sources(), baseline + 1);
        drop(b);
        assert_eq!(io_sources(), baseline, "the reader outlived its listeners");
        // A new listener gets a new reader.
        let _c = signal(SignalKind::alarm()).unwrap();
        assert_eq!(io_sources(), baseline + 1);
    });
}

/// A listener that outlives its runtime returns `None`: nothing will read
/// the pipe for it any more.
#[test]
fn recv_is_none_once_the_runtime_is_gone() {
    watchdog(|| {
        let rt = common::runtime(1);
        let mut quit = rt.block_on(async { signal(SignalKind::quit()).unwrap() });
        drop(rt);
        let mut recv = Box::pin(quit.recv());
        assert_eq!(poll_once(&mut recv), Poll::Ready(None));
    });
}
