//! Configuration of a store member, with flags named after etcd's so operators feel at home,
//! and a YAML config file whose keys are the flag names.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::StoreError;

/// Flags of `keelson store` (and the store part of `keelson server`).
#[derive(Debug, Clone, clap::Args, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct StoreConfig {
    /// Human-readable name of this member.
    #[arg(long, default_value = "default")]
    pub name: String,
    /// Path to the data directory (default: `<name>.keelson`).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Comma-separated URLs to serve the etcd API on.
    #[arg(long, default_value = "http://127.0.0.1:2379")]
    pub listen_client_urls: String,
    /// Comma-separated client URLs to advertise (default: the listen URLs).
    #[arg(long)]
    pub advertise_client_urls: Option<String>,
    /// Comma-separated URLs to listen on for peer traffic.
    #[arg(long, default_value = "http://127.0.0.1:2380")]
    pub listen_peer_urls: String,
    /// Comma-separated peer URLs to advertise (default: the listen peer URLs).
    #[arg(long)]
    pub initial_advertise_peer_urls: Option<String>,
    /// Initial cluster, `name=url,name=url` (default: this member alone).
    #[arg(long)]
    pub initial_cluster: Option<String>,
    /// `new` to bootstrap a cluster, `existing` to join one (after `member add`).
    #[arg(long, default_value = "new")]
    pub initial_cluster_state: String,
    /// Token that makes member and cluster ids unique to this cluster.
    #[arg(long, default_value = "keelson-cluster")]
    pub initial_cluster_token: String,
    /// Backend size in bytes past which the NOSPACE alarm is raised (0 = no quota).
    #[arg(long, default_value_t = 2 * 1024 * 1024 * 1024)]
    pub quota_backend_bytes: u64,
    /// Largest client request in bytes.
    #[arg(long, default_value_t = 1536 * 1024)]
    pub max_request_bytes: usize,
    /// Most operations in one txn.
    #[arg(long, default_value_t = 128)]
    pub max_txn_ops: usize,
    /// Raft heartbeat interval in milliseconds.
    #[arg(long, default_value_t = 100)]
    pub heartbeat_interval: u64,
    /// Raft election timeout in milliseconds.
    #[arg(long, default_value_t = 1000)]
    pub election_timeout: u64,
    /// Applied entries between Raft snapshots (the log before a snapshot is purged).
    #[arg(long, default_value_t = 10_000)]
    pub snapshot_count: u64,
    /// Comma-separated Raft groups (shards) this member hosts; the first serves plain etcd
    /// clients, the others are reached with the `keelson-group` gRPC metadata key.
    #[arg(long, default_value = "default")]
    pub groups: String,
    /// Interval of watch progress notifications (etcd's
    /// `--experimental-watch-progress-notify-interval`).
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
    #[serde(with = "humantime_serde_compat")]
    pub watch_progress_notify_interval: Duration,
    /// etcd version reported by Status (clients gate features on it).
    #[arg(long, default_value = "3.5.13")]
    pub emulated_etcd_version: String,
}

mod humantime_serde_compat {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_duration(&s).map_err(serde::de::Error::custom)
    }
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            name: "default".into(),
            data_dir: None,
            listen_client_urls: "http://127.0.0.1:2379".into(),
            advertise_client_urls: None,
            listen_peer_urls: "http://127.0.0.1:2380".into(),
            initial_advertise_peer_urls: None,
            initial_cluster: None,
            initial_cluster_state: "new".into(),
            initial_cluster_token: "keelson-cluster".into(),
            quota_backend_bytes: 2 * 1024 * 1024 * 1024,
            max_request_bytes: 1536 * 1024,
            max_txn_ops: 128,
            heartbeat_interval: 100,
            election_timeout: 1000,
            snapshot_count: 10_000,
            groups: "default".into(),
            watch_progress_notify_interval: Duration::from_secs(600),
            emulated_etcd_version: "3.5.13".into(),
        }
    }
}

/// A validated configuration, in the types the code uses.
#[derive(Debug, Clone)]
pub struct ValidConfig {
    /// Member name.
    pub name: String,
    /// Data directory.
    pub data_dir: PathBuf,
    /// Client listen addresses.
    pub listen_client: Vec<std::net::SocketAddr>,
    /// Advertised client URLs.
    pub advertise_client_urls: Vec<String>,
    /// Peer listen addresses.
    pub listen_peer: Vec<std::net::SocketAddr>,
    /// Advertised peer URLs.
    pub advertise_peer_urls: Vec<String>,
    /// Initial cluster as (name, peer URLs).
    pub initial_cluster: Vec<(String, Vec<String>)>,
    /// Join an existing cluster instead of bootstrapping.
    pub join_existing: bool,
    /// Cluster token.
    pub token: String,
    /// Quota.
    pub quota_bytes: u64,
    /// Request size limit.
    pub max_request_bytes: usize,
    /// Txn op limit.
    pub max_txn_ops: usize,
    /// Heartbeat.
    pub heartbeat: Duration,
    /// Election timeout.
    pub election_timeout: Duration,
    /// Snapshot interval in entries.
    pub snapshot_count: u64,
    /// Groups, default first.
    pub groups: Vec<String>,
    /// Watch progress interval.
    pub progress_notify_interval: Duration,
    /// Reported version.
    pub version: String,
}

fn split(s: &str) -> Vec<String> {
    s.split(',')
        .map(|x| x.trim().to_string())
        .filter(|x| !x.is_empty())
        .collect()
}

/// Parses `http://host:port` into a socket address (names resolved once).
pub fn url_addr(url: &str) -> Result<std::net::SocketAddr, StoreError> {
    use std::net::ToSocketAddrs;
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| {
            StoreError::Config(format!("URL {url:?} must start with http:// or https://"))
        })?;
    let hostport = rest.trim_end_matches('/');
    hostport
        .to_socket_addrs()
        .map_err(|e| StoreError::Config(format!("URL {url:?}: {e}")))?
        .next()
        .ok_or_else(|| StoreError::Config(format!("URL {url:?} resolves to nothing")))
}

impl StoreConfig {
    /// Reads a YAML config file whose keys are the flag names.
    pub fn from_file(path: &std::path::Path) -> Result<StoreConfig, StoreError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| StoreError::Config(format!("{}: {e}", path.display())))?;
        serde_yaml::from_str(&text)
            .map_err(|e| StoreError::Config(format!("{}: {e}", path.display())))
    }

    /// Checks the configuration once and turns it into the types the code uses.
    pub fn validate(&self) -> Result<ValidConfig, StoreError> {
        if self.name.is_empty() {
            return Err(StoreError::Config("--name must not be empty".into()));
        }
        let listen_client_urls = split(&self.listen_client_urls);
        let listen_peer_urls = split(&self.listen_peer_urls);
        let listen_client = listen_client_urls
            .iter()
            .map(|u| url_addr(u))
            .collect::<Result<Vec<_>, _>>()?;
        let listen_peer = listen_peer_urls
            .iter()
            .map(|u| url_addr(u))
            .collect::<Result<Vec<_>, _>>()?;
        let advertise_client_urls = self
            .advertise_client_urls
            .as_deref()
            .map(split)
            .unwrap_or(listen_client_urls);
        let advertise_peer_urls = self
            .initial_advertise_peer_urls
            .as_deref()
            .map(split)
            .unwrap_or(listen_peer_urls);
        for u in advertise_client_urls
            .iter()
            .chain(advertise_peer_urls.iter())
        {
            url_addr(u)?;
        }
        let initial_cluster = match &self.initial_cluster {
            Some(ic) => {
                let mut by_name: Vec<(String, Vec<String>)> = Vec::new();
                for part in split(ic) {
                    let (n, u) = part.split_once('=').ok_or_else(|| {
                        StoreError::Config(format!(
                            "--initial-cluster entry {part:?} is not name=url"
                        ))
                    })?;
                    url_addr(u)?;
                    match by_name.iter_mut().find(|(x, _)| x == n) {
                        Some((_, urls)) => urls.push(u.to_string()),
                        None => by_name.push((n.to_string(), vec![u.to_string()])),
                    }
                }
                by_name
            }
            None => vec![(self.name.clone(), advertise_peer_urls.clone())],
        };
        let mine = initial_cluster
            .iter()
            .find(|(n, _)| *n == self.name)
            .ok_or_else(|| {
                StoreError::Config(format!(
                    "--initial-cluster has no entry for --name {:?}",
                    self.name
                ))
            })?;
        if !mine.1.iter().all(|u| advertise_peer_urls.contains(u)) {
            return Err(StoreError::Config(format!(
                "--initial-cluster lists {:?} for {:?} but its advertised peer URLs are {:?}",
                mine.1, self.name, advertise_peer_urls
            )));
        }
        let join_existing = match self.initial_cluster_state.as_str() {
            "new" => false,
            "existing" => true,
            other => {
                return Err(StoreError::Config(format!(
                    "--initial-cluster-state must be new or existing, not {other:?}"
                )));
            }
        };
        if self.election_timeout < 5 * self.heartbeat_interval {
            return Err(StoreError::Config(
                "--election-timeout must be at least 5 × --heartbeat-interval".into(),
            ));
        }
        let groups = split(&self.groups);
        if groups.is_empty() {
            return Err(StoreError::Config(
                "--groups must name at least one group".into(),
            ));
        }
        if self.max_request_bytes == 0 || self.max_txn_ops == 0 {
            return Err(StoreError::Config(
                "--max-request-bytes and --max-txn-ops must be positive".into(),
            ));
        }
        Ok(ValidConfig {
            name: self.name.clone(),
            data_dir: self
                .data_dir
                .clone()
                .unwrap_or_else(|| PathBuf::from(format!("{}.keelson", self.name))),
            listen_client,
            advertise_client_urls,
            listen_peer,
            advertise_peer_urls,
            initial_cluster,
            join_existing,
            token: self.initial_cluster_token.clone(),
            quota_bytes: self.quota_backend_bytes,
            max_request_bytes: self.max_request_bytes,
            max_txn_ops: self.max_txn_ops,
            heartbeat: Duration::from_millis(self.heartbeat_interval),
            election_timeout: Duration::from_millis(self.election_timeout),
            snapshot_count: self.snapshot_count.max(1),
            groups,
            progress_notify_interval: self.watch_progress_notify_interval,
            version: self.emulated_etcd_version.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_to_a_single_member() {
        let v = StoreConfig::default().validate().unwrap();
        assert_eq!(
            v.initial_cluster,
            vec![(
                "default".to_string(),
                vec!["http://127.0.0.1:2380".to_string()]
            )]
        );
        assert_eq!(v.data_dir, PathBuf::from("default.keelson"));
        assert!(!v.join_existing);
    }

    #[test]
    fn initial_cluster_must_name_this_member() {
        let c = StoreConfig {
            initial_cluster: Some("a=http://127.0.0.1:1,b=http://127.0.0.1:2".into()),
            ..Default::default()
        };
        assert!(matches!(c.validate(), Err(StoreError::Config(_))));
    }

    #[test]
    fn bad_state_and_urls_are_refused() {
        let c = StoreConfig {
            initial_cluster_state: "maybe".into(),
            ..Default::default()
        };
        assert!(c.validate().is_err());
        let c = StoreConfig {
            listen_client_urls: "127.0.0.1:2379".into(),
            ..Default::default()
        };
        assert!(c.validate().is_err());
    }

    #[test]
    fn config_file_keys_are_flag_names() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("store.yaml");
        std::fs::write(&p, "# a member\nname: m1\nheartbeat-interval: 50\nelection-timeout: 500\nwatch-progress-notify-interval: 5s\n").unwrap();
        let c = StoreConfig::from_file(&p).unwrap();
        assert_eq!(c.name, "m1");
        assert_eq!(c.heartbeat_interval, 50);
        assert_eq!(c.watch_progress_notify_interval, Duration::from_secs(5));
        std::fs::write(&p, "no-such-flag: 1\n").unwrap();
        assert!(StoreConfig::from_file(&p).is_err());
    }
}
