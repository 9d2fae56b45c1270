//! Cluster descriptions and key files: what `vclock-demo cluster new`
//! writes, what `launch` writes for its nodes in a private directory, and
//! what `node --cluster FILE --key FILE` reads.
//!
//! A description is a TOML file naming every node (ids 1, 2, ... in
//! order), its address and its public key; the same file goes to every
//! node. Each node also gets a key file with its private key, created
//! readable and writable by its owner only, and refused when anyone else
//! may read it. Nothing here prints a private key.

use std::fmt::Write as _;
use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::Path;

use anyhow::{Context as _, bail, ensure};
use serde::Deserialize;
use tempfile::TempDir;
use vclock_net::{Cluster, KeyPair, Member, PublicKey};

use crate::cli::ClusterNewArgs;
use crate::network::MAX_NODES;

/// The description's file name in a directory written by [`write_new`].
pub(crate) const CLUSTER_FILE: &str = "cluster.toml";

/// Node `id`'s key file name in a directory written by [`write_new`].
pub(crate) fn key_file_name(id: u32) -> String {
    format!("node{id}.key")
}

/// A cluster description as read from its file: vclock-net's [`Cluster`]
/// of nodes 1, 2, ..., n in id order, so node `i` is member `i - 1`.
#[derive(Debug, Clone)]
pub(crate) struct Description {
    pub(crate) cluster: Cluster,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    node: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    id: u32,
    address: String,
    public_key: String,
}

impl Description {
    /// The description of nodes at `addrs` (node `i` at `addrs[i - 1]`)
    /// with `keys`.
    pub(crate) fn new(addrs: Vec<SocketAddr>, keys: Vec<PublicKey>) -> anyhow::Result<Self> {
        ensure!(addrs.len() == keys.len(), "one key per address");
        let cluster = Cluster::new(
            (1u32..)
                .zip(addrs)
                .zip(keys)
                .map(|((id, addr), key)| (id, addr, key)),
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(Self { cluster })
    }

    /// Every node's address, node 1 first.
    pub(crate) fn addrs(&self) -> Vec<SocketAddr> {
        self.cluster.members().iter().map(Member::addr).collect()
    }

    /// Node `id`'s public key.
    fn key(&self, id: u32) -> PublicKey {
        self.cluster.members()[id as usize - 1].key()
    }

    /// Reads and checks the description in `path`; host names in it are
    /// resolved with `resolve`.
    pub(crate) fn read(
        path: &Path,
        resolve: impl Fn(&str) -> anyhow::Result<SocketAddr>,
    ) -> anyhow::Result<Self> {
        let shown = path.display();
        let text = fs::read_to_string(path)
            .with_context(|| format!("cannot read the cluster description {shown}"))?;
        let file: File = toml::from_str(&text)
            .with_context(|| format!("{shown} is not a cluster description"))?;
        ensure!(!file.node.is_empty(), "{shown} names no node");
        ensure!(
            file.node.len() <= MAX_NODES as usize,
            "{shown} names {} nodes; at most {MAX_NODES} are supported",
            file.node.len()
        );
        let mut addrs = Vec::with_capacity(file.node.len());
        let mut keys = Vec::with_capacity(file.node.len());
        for (i, entry) in file.node.iter().enumerate() {
            let expected = i as u32 + 1;
            ensure!(
                entry.id == expected,
                "{shown}: entry {expected} has id {}; ids must run 1, 2, 3, ... in order",
                entry.id
            );
            let addr = resolve(&entry.address)
                .with_context(|| format!("{shown}: node {expected}'s address"))?;
            ensure!(
                addr.port() != 0,
                "{shown}: node {expected}'s address {addr} has port 0; give the port it listens on"
            );
            let key: PublicKey = entry
                .public_key
                .parse()
                .with_context(|| format!("{shown}: node {expected}'s public_key"))?;
            addrs.push(addr);
            keys.push(key);
        }
        Self::new(addrs, keys).with_context(|| format!("{shown}"))
    }

    /// The description as TOML, with a comment saying what it is.
    pub(crate) fn to_toml(&self) -> String {
        let mut out = format!(
            "# A vclock-demo cluster description: every node's id, address and public key\n\
             # (cluster fingerprint {}). Give this same file to every node; each node also\n\
             # needs its own key file, which stays on its machine.\n",
            self.cluster.fingerprint()
        );
        for (i, member) in self.cluster.members().iter().enumerate() {
            let _ = write!(
                out,
                "\n[[node]]\nid = {}\naddress = \"{}\"\npublic_key = \"{}\"\n",
                i + 1,
                member.addr(),
                member.key()
            );
        }
        out
    }

    /// The number of nodes.
    pub(crate) fn n(&self) -> u32 {
        self.cluster.members().len() as u32
    }
}

/// Writes a new cluster of nodes at `addrs` into `dir` (created if
/// missing): [`CLUSTER_FILE`] and one key file per node. Refuses to
/// replace any file that exists.
pub(crate) fn write_new(dir: &Path, addrs: Vec<SocketAddr>) -> anyhow::Result<Description> {
    let pairs: Vec<KeyPair> = (0..addrs.len())
        .map(|_| KeyPair::generate().map_err(|e| anyhow::anyhow!("{e}")))
        .collect::<anyhow::Result<_>>()?;
    let description = Description::new(addrs, pairs.iter().map(KeyPair::public).collect())?;
    create_private_dir(dir)?;
    let cluster_path = dir.join(CLUSTER_FILE);
    create_new(&cluster_path, description.to_toml().as_bytes(), false)?;
    for (i, pair) in pairs.iter().enumerate() {
        let id = i as u32 + 1;
        let text = format!(
            "# vclock-demo private key of node {id} (cluster {}). Keep it secret: it proves\n\
             # to the other nodes that this node is node {id}.\n{}\n",
            description.cluster.fingerprint(),
            pair.to_secret_hex()
        );
        create_new(&dir.join(key_file_name(id)), text.as_bytes(), true)?;
    }
    Ok(description)
}

/// `vclock-demo cluster new`: writes the files and says what to do with
/// them.
pub(crate) fn run_new(args: &ClusterNewArgs) -> anyhow::Result<()> {
    ensure!(
        args.addrs.len() <= MAX_NODES as usize,
        "{} addresses given; at most {MAX_NODES} nodes are supported",
        args.addrs.len()
    );
    let addrs: Vec<SocketAddr> = args
        .addrs
        .iter()
        .enumerate()
        .map(|(i, addr)| {
            let resolved =
                crate::network::resolve(addr).with_context(|| format!("node {}", i + 1))?;
            ensure!(
                resolved.port() != 0,
                "node {}: \"{addr}\" has port 0; give the port that node listens on",
                i + 1
            );
            Ok(resolved)
        })
        .collect::<anyhow::Result<_>>()?;
    let description = write_new(&args.dir, addrs)?;
    let dir = args.dir.display();
    println!(
        "Wrote {dir}/{CLUSTER_FILE} ({} nodes, cluster fingerprint {}) and a private key file per node:",
        description.n(),
        description.cluster.fingerprint()
    );
    for (i, addr) in description.addrs().iter().enumerate() {
        println!(
            "  {dir}/{}  node {} at {addr}",
            key_file_name(i as u32 + 1),
            i + 1
        );
    }
    println!(
        "Copy {CLUSTER_FILE} to every machine, and each key file only to its own node's machine (keep it readable by its owner only). Then, on node I's machine:"
    );
    println!(
        "  vclock-demo node --cluster {CLUSTER_FILE} --id I --key nodeI.key --listen 0.0.0.0:PORT"
    );
    Ok(())
}

/// Creates `dir` (readable by its owner only when it is new).
fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))
}

/// Writes `bytes` to a new file at `path`, never replacing one;
/// `private`: readable and writable by the owner only from the start.
fn create_new(path: &Path, bytes: &[u8], private: bool) -> anyhow::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, if private { 0o600 } else { 0o644 });
    let mut file = options.open(path).with_context(|| {
        if path.exists() {
            format!("{} exists already; not replacing it", path.display())
        } else {
            format!("cannot create {}", path.display())
        }
    })?;
    file.write_all(bytes)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Reads node `id`'s key file and checks it: readable by its owner only,
/// and the key `description` lists for node `id`. Errors name the file,
/// never the key.
pub(crate) fn read_key(path: &Path, id: u32, description: &Description) -> anyhow::Result<KeyPair> {
    let shown = path.display();
    let metadata =
        fs::metadata(path).with_context(|| format!("cannot read the key file {shown}"))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            bail!(
                "the key file {shown} may be read by others (mode {mode:03o}); make it readable by its owner only: chmod 600 {shown}"
            );
        }
    }
    #[cfg(not(unix))]
    let _ = metadata;
    let text =
        fs::read_to_string(path).with_context(|| format!("cannot read the key file {shown}"))?;
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .with_context(|| format!("the key file {shown} holds no key"))?;
    let pair = KeyPair::from_secret_hex(line)
        .map_err(|e| anyhow::anyhow!("the key file {shown} holds no valid key: {e}"))?;
    let listed = description.key(id);
    if pair.public() != listed {
        let owner = description
            .cluster
            .members()
            .iter()
            .position(|m| m.key() == pair.public());
        match owner {
            Some(i) => bail!("the key file {shown} is node {}'s, not node {id}'s", i + 1),
            None => bail!(
                "the key file {shown} holds no node's key: its public key {} is not node {id}'s ({listed}) in the cluster description",
                pair.public()
            ),
        }
    }
    Ok(pair)
}

/// A new directory, readable by its owner only (tempfile creates it with
/// mode 700), under the system's temporary directory and removed when
/// dropped: where `launch` keeps the cluster it makes for its nodes.
pub(crate) fn private_dir() -> anyhow::Result<TempDir> {
    tempfile::Builder::new()
        .prefix("vclock-demo-cluster-")
        .tempdir()
        .context("cannot create a private directory for the cluster's keys")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(n: u16) -> Vec<SocketAddr> {
        (1..=n)
            .map(|i| SocketAddr::from(([127, 0, 0, 1], 7000 + i)))
            .collect()
    }

    fn parse(text: &str) -> anyhow::Result<Description> {
        let dir = private_dir().unwrap();
        let path = dir.path().join("c.toml");
        fs::write(&path, text).unwrap();
        Description::read(&path, |a| a.parse().map_err(anyhow::Error::from))
    }

    #[test]
    fn a_new_cluster_reads_back_and_its_keys_are_private() {
        let dir = private_dir().unwrap();
        let written = write_new(dir.path(), addrs(3)).unwrap();
        let read = Description::read(&dir.path().join(CLUSTER_FILE), |a| {
            a.parse().map_err(anyhow::Error::from)
        })
        .unwrap();
        assert_eq!(read.cluster.fingerprint(), written.cluster.fingerprint());
        assert_eq!(read.addrs(), addrs(3));
        for id in 1..=3 {
            let path = dir.path().join(key_file_name(id));
            let pair = read_key(&path, id, &read).unwrap();
            assert_eq!(pair.public(), read.key(id));
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt as _;
                let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
                assert_eq!(mode, 0o600);
            }
        }
        // Node 2's key is not node 1's, and the error says whose it is.
        let error = read_key(&dir.path().join(key_file_name(2)), 1, &read).unwrap_err();
        assert!(
            error.to_string().contains("is node 2's, not node 1's"),
            "{error}"
        );
        // Nothing is replaced.
        let again = write_new(dir.path(), addrs(3)).unwrap_err();
        assert!(format!("{again:#}").contains("exists already"), "{again:#}");
    }

    #[cfg(unix)]
    #[test]
    fn a_key_file_others_may_read_is_refused_without_showing_the_key() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = private_dir().unwrap();
        let description = write_new(dir.path(), addrs(2)).unwrap();
        let path = dir.path().join(key_file_name(1));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let error = format!("{:#}", read_key(&path, 1, &description).unwrap_err());
        assert!(
            error.contains("mode 644") && error.contains("chmod 600"),
            "{error}"
        );
        let secret = fs::read_to_string(&path).unwrap();
        let secret = secret.lines().last().unwrap();
        assert!(!error.contains(secret));

        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        fs::write(&path, "# a comment\nnot a key\n").unwrap();
        let error = format!("{:#}", read_key(&path, 1, &description).unwrap_err());
        assert!(error.contains("holds no valid key"), "{error}");
    }

    #[test]
    fn bad_descriptions_name_what_is_wrong() {
        let key = KeyPair::generate().unwrap().public();
        let entry = |id: u32, address: &str| {
            format!("[[node]]\nid = {id}\naddress = \"{address}\"\npublic_key = \"{key}\"\n")
        };
        let error = format!("{:#}", parse(&entry(2, "127.0.0.1:1")).unwrap_err());
        assert!(error.contains("entry 1 has id 2"), "{error}");
        let error = format!("{:#}", parse(&entry(1, "127.0.0.1:0")).unwrap_err());
        assert!(error.contains("port 0"), "{error}");
        let two = entry(1, "127.0.0.1:1") + &entry(2, "127.0.0.1:2");
        let error = format!("{:#}", parse(&two).unwrap_err());
        assert!(error.contains("same public key"), "{error}");
        let error = format!("{:#}", parse("[[node]]\nid = 1\n").unwrap_err());
        assert!(error.contains("not a cluster description"), "{error}");
        let error = format!(
            "{:#}",
            parse(&entry(1, "127.0.0.1:1").replace(&key.to_string(), "zz")).unwrap_err()
        );
        assert!(error.contains("node 1's public_key"), "{error}");
    }
}
