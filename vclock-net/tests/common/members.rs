//! A cluster of authenticated members on loopback: key pairs, one bound
//! socket per member (so that the description names real addresses), and
//! each member's [`Config`].

use std::net::{SocketAddr, TcpListener};

use vclock_net::{Cluster, Config, KeyPair, Listener, Sender};

/// `n` members called `m0`, `m1`, ...; member `i` may listen on the
/// socket bound for it.
pub(crate) struct Members {
    pub(crate) keys: Vec<KeyPair>,
    sockets: Vec<Option<TcpListener>>,
    pub(crate) addrs: Vec<SocketAddr>,
    pub(crate) cluster: Cluster,
}

/// The description of members `m0`, `m1`, ... with `keys` at `addrs`.
pub(crate) fn describe(keys: &[KeyPair], addrs: &[SocketAddr]) -> Cluster {
    Cluster::new(
        keys.iter()
            .zip(addrs)
            .enumerate()
            .map(|(i, (key, addr))| (Members::id(i), *addr, key.public())),
    )
    .unwrap()
}

impl Members {
    pub(crate) fn new(n: usize) -> Self {
        let keys: Vec<KeyPair> = (0..n).map(|_| KeyPair::generate().unwrap()).collect();
        let sockets: Vec<TcpListener> = (0..n)
            .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
            .collect();
        let addrs: Vec<SocketAddr> = sockets.iter().map(|s| s.local_addr().unwrap()).collect();
        let cluster = describe(&keys, &addrs);
        Self {
            keys,
            sockets: sockets.into_iter().map(Some).collect(),
            addrs,
            cluster,
        }
    }

    /// Member `i`'s id.
    pub(crate) fn id(i: usize) -> String {
        format!("m{i}")
    }

    /// `base` made member `i`'s.
    pub(crate) fn config(&self, i: usize, base: Config) -> Config {
        base.authenticated(self.keys[i].clone(), self.cluster.clone())
    }

    /// Member `i`'s listener, with `config` made member `i`'s.
    pub(crate) fn listen(&mut self, i: usize, config: Config) -> Listener<String, String> {
        let config = self.config(i, config);
        self.listen_as(i, config)
    }

    /// A listener on member `i`'s socket with `config` as it is (another
    /// member's, or none: an impostor at member `i`'s address).
    pub(crate) fn listen_as(&mut self, i: usize, config: Config) -> Listener<String, String> {
        Listener::from_std(self.take_socket(i), config).unwrap()
    }

    /// Member `i`'s bound socket, for a listener made by the caller.
    pub(crate) fn take_socket(&mut self, i: usize) -> TcpListener {
        self.sockets[i].take().expect("listening once")
    }

    /// Member `i`'s sender.
    pub(crate) fn sender(&self, i: usize) -> Sender<String, String> {
        Sender::new(Self::id(i), self.config(i, Config::default()))
    }
}
