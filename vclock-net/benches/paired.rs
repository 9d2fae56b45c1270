//! Round-trip latency of vclock-net request/reply, unauthenticated and
//! authenticated, against a plain socket ping-pong, measured in alternation
//! (one plain round trip, one of each vclock-net kind, and so on) so that
//! all see the machine in the same state, printing p50 and p90 of each and
//! their ratios.
//!
//! Run it pinned to one CPU:
//!
//! ```text
//! cargo bench -p vclock-net --bench paired --no-run
//! taskset -c 0 target/release/deps/paired-<hash> [round trips, default 20000]
//! ```
//!
//! On the project's 2-vCPU VM an unpinned loopback round trip is dominated
//! by where the scheduler puts the woken thread: waking a halted vCPU costs
//! 40-70 us, so unpinned criterion rows of the same code move by 20-30%
//! between runs, and in this interleaved loop unpinned the plain echo
//! thread kept landing on the slow path (plain 57 us against vclock-net's
//! 19 us, an artefact). Pinned, every thread shares one CPU, the spread is
//! a few percent, and what remains is the software's own cost.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use vclock_net::{Config, Sender};

mod common;
use common::{
    configs, echo_request_server, echo_request_server_on, envelope, frame_bytes, localhost,
    read_plain_frame,
};

fn main() {
    let round_trips: usize = std::env::args()
        .skip(1)
        .find_map(|arg| arg.parse().ok())
        .unwrap_or(20_000);
    let request = envelope(1);
    let frame = frame_bytes(&request);

    // vclock-net: a request answered by the listener's handler.
    let server = echo_request_server();
    let mut client: Sender<u32, String> = Sender::new(1, Config::default());
    // The same, authenticated.
    let socket = TcpListener::bind(localhost()).unwrap();
    let (client_config, server_config) = configs(true, socket.local_addr().unwrap());
    let secure_server = echo_request_server_on(socket, server_config);
    let mut secure_client: Sender<u32, String> = Sender::new(1, client_config);

    // Plain sockets: an echo thread, one write per frame, TCP_NODELAY.
    let echo_listener = TcpListener::bind(localhost()).unwrap();
    let echo_addr = echo_listener.local_addr().unwrap();
    let echo = thread::spawn(move || {
        let (mut stream, _) = echo_listener.accept().unwrap();
        stream.set_nodelay(true).unwrap();
        let mut buf = Vec::new();
        while read_plain_frame(&mut stream, &mut buf) {
            let mut out = u32::try_from(buf.len()).unwrap().to_be_bytes().to_vec();
            out.extend_from_slice(&buf);
            stream.write_all(&out).unwrap();
        }
    });
    let mut plain = TcpStream::connect(echo_addr).unwrap();
    plain.set_nodelay(true).unwrap();
    let mut buf = Vec::new();

    let mut vclock_net = Vec::with_capacity(round_trips);
    let mut secure = Vec::with_capacity(round_trips);
    let mut plain_std = Vec::with_capacity(round_trips);
    for i in 0..round_trips + 1000 {
        let start = Instant::now();
        plain.write_all(&frame).unwrap();
        assert!(read_plain_frame(&mut plain, &mut buf));
        let std = start.elapsed();
        let start = Instant::now();
        client.request(server.local_addr(), &request).unwrap();
        let net = start.elapsed();
        let start = Instant::now();
        secure_client
            .request(secure_server.local_addr(), &request)
            .unwrap();
        let authenticated = start.elapsed();
        // The first thousand of each warm up connections and caches.
        if i >= 1000 {
            vclock_net.push(net);
            secure.push(authenticated);
            plain_std.push(std);
        }
    }
    drop(plain);
    echo.join().unwrap();
    server.shutdown();
    secure_server.shutdown();

    let (net_p50, net_p90) = percentiles(&mut vclock_net);
    let (auth_p50, auth_p90) = percentiles(&mut secure);
    let (std_p50, std_p90) = percentiles(&mut plain_std);
    println!("{round_trips} round trips each, interleaved, 4-id clock and 64-byte payload");
    println!("vclock-net request/reply  p50 {net_p50:>9.2?}  p90 {net_p90:>9.2?}");
    println!("  authenticated           p50 {auth_p50:>9.2?}  p90 {auth_p90:>9.2?}");
    println!("plain std::net ping-pong  p50 {std_p50:>9.2?}  p90 {std_p90:>9.2?}");
    println!(
        "ratio                     p50 {:>8.2}x  p90 {:>8.2}x",
        net_p50.as_secs_f64() / std_p50.as_secs_f64(),
        net_p90.as_secs_f64() / std_p90.as_secs_f64()
    );
    println!(
        "authenticated/unauth.     p50 {:>8.2}x  p90 {:>8.2}x",
        auth_p50.as_secs_f64() / net_p50.as_secs_f64(),
        auth_p90.as_secs_f64() / net_p90.as_secs_f64()
    );
}

fn percentiles(samples: &mut [Duration]) -> (Duration, Duration) {
    samples.sort_unstable();
    (samples[samples.len() / 2], samples[samples.len() * 9 / 10])
}
