//! The `tcp_echo` / `unix_echo` benches' workload a fixed number of times,
//! for counting instructions with callgrind or system calls with `strace -c`
//! (repeatable, whatever else the machine is doing):
//!
//! ```sh
//! cargo build --release -p weft-benches --example echo
//! valgrind --tool=callgrind target/release/examples/echo weft unix 3 2
//! strace -f -c target/release/examples/echo tokio unix 3 2
//! ```
//!
//! Arguments: the runtime (`weft` or `tokio`), the transport (`tcp` or
//! `unix`), the number of iterations after the setup (default 1), the worker
//! count (default 2, as the benches run on this machine). An iteration is the
//! benches' (`weft_benches::io::CONNS` connections x `ROUND_TRIPS` round trips
//! of `MSG` bytes, each checked). Subtract a run of fewer iterations from one
//! of more to leave out start-up and connection set-up: what is left is the
//! cost of the extra iterations' round trips.

use weft_benches::io::{echo_iter, echo_setup, IoRt, Net, SocketDir, Tcp, Unix};
use weft_benches::{Tokio, Weft};

fn main() {
    let mut args = std::env::args().skip(1);
    let runtime = args.next().unwrap_or_else(|| "weft".into());
    let transport = args.next().unwrap_or_else(|| "unix".into());
    let iterations: usize = args.next().map_or(1, |s| s.parse().expect("iterations"));
    let workers: usize = args.next().map_or(2, |s| s.parse().expect("worker count"));
    let any_port = std::net::SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, 0));
    let dir = SocketDir::create();
    let path = dir.0.join("echo.sock");
    match (runtime.as_str(), transport.as_str()) {
        ("weft", "tcp") => run::<Tcp<Weft>>(any_port, iterations, workers),
        ("tokio", "tcp") => run::<Tcp<Tokio>>(any_port, iterations, workers),
        ("weft", "unix") => run::<Unix<Weft>>(path, iterations, workers),
        ("tokio", "unix") => run::<Unix<Tokio>>(path, iterations, workers),
        other => panic!("unknown runtime and transport {other:?}: weft or tokio, tcp or unix"),
    }
}

/// Sets the echo up over `N` at `addr` and runs `iterations` iterations.
fn run<N: Net>(addr: N::Addr, iterations: usize, workers: usize) {
    let rt = N::Rt::build_io(workers);
    let mut conns = echo_setup::<N>(&rt, addr);
    for _ in 0..iterations {
        echo_iter(&rt, &mut conns);
    }
    // The clients' close ends the server tasks; then the runtime goes.
    drop(conns);
    drop(rt);
}
