//! A cluster of authenticated members on loopback: key pairs, one bound
//! socket per member (so that the description names real addresses), and
//! each member's [`Config`].

use std::net::{SocketAddr, TcpListener};

use vclock_net::{Cluster, Config, KeyPair, Listener};

/// `n` members called `m0`, `m1`, ...; member `i` may listen on the
/// socket bound for it.
pub(crate) struct Members {
    keys: Vec<KeyPair>,
    sockets: Vec<Option<TcpListener>>,
    pub(crate) addrs: Vec<SocketAddr>,
    cluster: Cluster,
}

impl Members {
    pub(crate) fn new(n: usize) -> Self {
        let keys: Vec<KeyPair> = (0..n).map(|_| KeyPair::generate().unwrap()).collect();
        let sockets: Vec<TcpListener> = (0..n)
            .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
            .collect();
        let addrs: Vec<SocketAddr> = sockets.iter().map(|s| s.local_addr().unwrap()).collect();
        let cluster = Cluster::new(
            keys.iter()
                .zip(&addrs)
                .enumerate()
                .map(|(i, (key, addr))| (Self::id(i), *addr, key.public())),
        )
        .unwrap();
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
        let socket = self.sockets[i].take().expect("listening once");
        Listener::from_std(socket, self.config(i, config)).unwrap()
    }
}
