//! A sender's progress hook (`Sender::on_progress`): it hears that a
//! connection was established, and that the peer's process answered, so a
//! caller can tell a running peer from a stopped one.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use vclock_net::{Config, Envelope, Listener, Progress, Sender, VectorClock};

/// A sender whose hook records every step.
fn recording(config: Config) -> (Sender<u32, String>, Arc<Mutex<Vec<Progress>>>) {
    let steps = Arc::new(Mutex::new(Vec::new()));
    let mut sender = Sender::new(1, config);
    let seen = Arc::clone(&steps);
    sender.on_progress(move |_, step| seen.lock().unwrap().push(step));
    (sender, steps)
}

fn envelope() -> Envelope<u32, String> {
    Envelope::new(1, VectorClock::from_iter([(1, 1)]), "x".into())
}

#[test]
fn a_peer_that_takes_the_connection_and_never_answers_is_connected_only() {
    // The kernel accepts (backlog); nobody reads or answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let config = Config::default().ack_timeout(Duration::from_millis(100));
    let (mut sender, steps) = recording(config);
    let error = sender
        .send(silent.local_addr().unwrap(), &envelope())
        .unwrap_err();
    assert!(error.is_timeout(), "{error}");
    assert_eq!(*steps.lock().unwrap(), [Progress::Connected]);
}

#[test]
fn a_running_peer_answers_and_a_refusing_address_is_not_connected() {
    let inbox: Listener<u32, String> =
        Listener::bind("127.0.0.1:0".parse().unwrap(), Config::default()).unwrap();
    let (mut sender, steps) = recording(Config::default());
    sender.send(inbox.local_addr(), &envelope()).unwrap();
    assert_eq!(
        *steps.lock().unwrap(),
        [Progress::Connected, Progress::Answered]
    );
    // Nothing listens there any more: refused, not connected.
    let gone = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = gone.local_addr().unwrap();
    drop(gone);
    steps.lock().unwrap().clear();
    let error = sender.send(addr, &envelope()).unwrap_err();
    assert!(error.is_peer_down(), "{error}");
    assert!(steps.lock().unwrap().is_empty());
}
