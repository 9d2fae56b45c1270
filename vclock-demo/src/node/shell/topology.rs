//! Who is who: this node's id, every node's address and where this node
//! listens, from the command line or a cluster description.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use anyhow::{Context as _, bail, ensure};

use crate::cli::NodeArgs;
use crate::cluster::Description;

/// Who is who: this node's id and every node's address.
#[derive(Debug, Clone)]
pub(crate) struct Topology {
    /// This node's id, 1..=n.
    pub(crate) id: u32,
    /// Node `i`'s address is `addrs[i - 1]`.
    pub(crate) addrs: Vec<SocketAddr>,
    /// Where this node listens.
    pub(crate) listen: SocketAddr,
    /// The cluster description, with `--cluster`.
    pub(crate) cluster: Option<Description>,
}

impl Topology {
    /// Builds the topology from the command line, resolving host names.
    pub(crate) fn from_args(args: &NodeArgs) -> anyhow::Result<Self> {
        let cluster = match &args.cluster {
            Some(path) => Some(Description::read(path, crate::network::resolve)?),
            None => None,
        };
        let addrs: Vec<SocketAddr> = if let Some(cluster) = &cluster {
            cluster.addrs()
        } else if args.peers.is_empty() {
            args.ports
                .iter()
                .map(|&port| SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port))
                .collect()
        } else {
            args.peers
                .iter()
                .enumerate()
                .map(|(i, peer)| {
                    crate::network::resolve(peer).with_context(|| format!("node {}", i + 1))
                })
                .collect::<anyhow::Result<_>>()?
        };
        if let Some(i) = addrs.iter().position(|a| a.port() == 0) {
            bail!(
                "node {}: \"{}\" has port 0; give the port that node listens on",
                i + 1,
                args.peers[i]
            );
        }
        let n = addrs.len();
        ensure!(
            n <= crate::network::MAX_NODES as usize,
            "{n} addresses given; at most {} nodes are supported",
            crate::network::MAX_NODES
        );
        ensure!(
            (1..=n).contains(&(args.id as usize)),
            "--id {} but there are only {n} addresses (ids run from 1 to {n})",
            args.id
        );
        // (A cluster description has checked this already.) One lookup per
        // address: every node of a large network does this at start.
        let mut seen = BTreeMap::new();
        for (i, a) in addrs.iter().enumerate() {
            if let Some(j) = seen.insert(*a, i) {
                bail!(
                    "node {} and node {} have the same address {a}",
                    j + 1,
                    i + 1
                );
            }
        }
        let own = addrs[args.id as usize - 1];
        // Loopback unless asked otherwise; the own entry's own loopback
        // address if it has one (so `[::1]:PORT` listens on IPv6).
        let listen = args.listen.unwrap_or_else(|| {
            if own.ip().is_loopback() {
                own
            } else {
                SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), own.port())
            }
        });
        Ok(Self {
            id: args.id,
            addrs,
            listen,
            cluster,
        })
    }

    /// The number of nodes.
    pub(crate) fn n(&self) -> u32 {
        self.addrs.len() as u32
    }

    pub(crate) fn addr(&self, id: u32) -> SocketAddr {
        self.addrs[id as usize - 1]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(id: u32, ports: &[u16], peers: &[&str]) -> NodeArgs {
        NodeArgs {
            id,
            ports: ports.to_vec(),
            peers: peers.iter().map(|p| (*p).to_owned()).collect(),
            listen: None,
            cluster: None,
            key: None,
            insecure: false,
            log_dir: None,
            no_help: false,
            pause_on_error: false,
            ready_file: None,
            ack_timeout_ms: None,
            fsync: false,
            log_max_bytes: None,
            sync: false,
            stall: false,
            causal: false,
            delay: None,
        }
    }

    #[test]
    fn topology_from_ports_and_peers() {
        let t = Topology::from_args(&args(2, &[5001, 5002], &[])).unwrap();
        assert_eq!(t.listen, "127.0.0.1:5002".parse().unwrap());
        assert_eq!(t.n(), 2);
        let t = Topology::from_args(&args(1, &[], &["10.0.0.5:7001", "10.0.0.6:7002"])).unwrap();
        assert_eq!(t.listen, "127.0.0.1:7001".parse().unwrap());
        assert_eq!(t.addr(2), "10.0.0.6:7002".parse().unwrap());
        assert!(Topology::from_args(&args(3, &[5001, 5002], &[])).is_err());
        assert!(Topology::from_args(&args(1, &[5001, 5001], &[])).is_err());
        assert!(Topology::from_args(&args(1, &[], &["nohostport"])).is_err());
        let zero = Topology::from_args(&args(1, &[], &["127.0.0.1:0", "127.0.0.1:5"]));
        assert!(
            zero.unwrap_err().to_string().contains("port 0"),
            "port 0 must be refused"
        );
        let zero = Topology::from_args(&args(1, &[], &["127.0.0.1:7001", "localhost:0"]));
        assert!(zero.unwrap_err().to_string().contains("node 2"));
        let t = Topology::from_args(&args(2, &[], &["localhost:7001", "[::1]:7002"])).unwrap();
        assert_eq!(t.addr(1), "127.0.0.1:7001".parse().unwrap());
        assert_eq!(t.listen, "[::1]:7002".parse().unwrap());
    }
}
