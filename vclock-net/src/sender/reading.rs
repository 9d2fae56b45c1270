//! A connection's reads, through the whole sender: answers arrive in
//! pieces of at most a read chunk.

use super::connection::READ_CHUNK;
use crate::config::Config;
use crate::envelope::Envelope;
use crate::listener::{Incoming, Listener};
use crate::sender::Sender;

/// Answers arrive in pieces of at most a read chunk: a reply many
/// chunks long is put together whole and in order, and the short
/// answers after it (acknowledgements, another reply) still parse.
#[test]
fn a_reply_longer_than_a_read_chunk_arrives_whole() {
    let server = Listener::bind_with_handler(
        "127.0.0.1:0".parse().unwrap(),
        Config::default(),
        |incoming: Incoming<u32, String>| {
            if let Incoming::Request {
                envelope, reply, ..
            } = incoming
            {
                let count: usize = envelope.payload.parse().unwrap();
                let text: String = (0..count).map(|i| format!("{i},")).collect();
                let _ = reply.send(&Envelope::new(2, envelope.clock, text));
            }
        },
    )
    .unwrap();
    let addr = server.local_addr();
    let mut client: Sender<u32, String> = Sender::new(1, Config::default());
    let request =
        |count: usize| Envelope::new(1, [(1, 1)].into_iter().collect(), count.to_string());
    let long = client.request(addr, &request(40_000)).unwrap().payload;
    assert!(long.len() > 10 * READ_CHUNK, "{} bytes", long.len());
    let expected: String = (0..40_000).map(|i| format!("{i},")).collect();
    assert!(long == expected, "the long reply came back altered");
    let mut last = 0;
    for n in 1..=50 {
        last = client.send(addr, &request(n)).unwrap();
    }
    let timeout = std::time::Duration::from_secs(10);
    assert!(client.wait_confirmed(addr, last, timeout).unwrap());
    assert_eq!(client.unconfirmed(addr), 0);
    assert_eq!(client.request(addr, &request(3)).unwrap().payload, "0,1,2,");
    server.shutdown();
}
