//! Test harness: real `keelson store` processes on loopback, each with its own data dir and
//! ports, that tests can kill (SIGKILL), pause (SIGSTOP/SIGCONT), restart and replace.
//! Everything started is killed when the [`Cluster`] is dropped.

#![allow(dead_code)]

pub mod kube;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// The keelson binary under test.
pub fn keelson_bin() -> &'static str {
    env!("CARGO_BIN_EXE_keelson")
}

/// A free loopback port, reserved for the life of this test process.
///
/// Ports come from 20000-32767, below Linux's ephemeral range (32768-60999), so an outgoing
/// connection can never take a port between the moment it is chosen and the moment the
/// server binds it. Tests run in parallel processes under nextest; each port is claimed with
/// an exclusive lock on `<tmp>/keelson-test-ports/<port>` held until this process exits, so two
/// tests never pick the same one.
pub fn free_port() -> u16 {
    use std::sync::Mutex;
    static HELD: Mutex<Vec<std::fs::File>> = Mutex::new(Vec::new());
    let dir = std::env::temp_dir().join("keelson-test-ports");
    std::fs::create_dir_all(&dir).expect("create the port lock dir");
    let seed = u64::from(std::process::id())
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
    let mut x = seed | 1;
    for _ in 0..10_000 {
        // xorshift: cheap, and different per process and per call.
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let port = 20000 + (x % 12768) as u16;
        let Ok(f) = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(port.to_string()))
        else {
            continue;
        };
        if f.try_lock().is_err() {
            continue;
        }
        if TcpListener::bind(("127.0.0.1", port)).is_err() {
            continue;
        }
        HELD.lock().unwrap_or_else(|e| e.into_inner()).push(f);
        return port;
    }
    panic!("no free port in 20000-32767")
}

/// One member process.
pub struct Member {
    pub name: String,
    pub client_port: u16,
    pub peer_port: u16,
    pub data_dir: PathBuf,
    pub log: PathBuf,
    pub child: Option<Child>,
    pub extra: Vec<String>,
}

impl Member {
    pub fn endpoint(&self) -> String {
        format!("127.0.0.1:{}", self.client_port)
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    pub fn peer_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.peer_port)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }
}

/// A cluster of store members.
pub struct Cluster {
    pub members: Vec<Member>,
    pub dir: tempfile::TempDir,
}

impl Cluster {
    /// Starts `n` members that bootstrap a new cluster, and waits for a leader.
    pub fn start(n: usize) -> Result<Cluster> {
        Cluster::start_with(n, &[])
    }

    /// Like [`Cluster::start`] with extra flags for every member.
    pub fn start_with(n: usize, extra: &[&str]) -> Result<Cluster> {
        let dir = tempfile::tempdir()?;
        let mut members = Vec::new();
        for i in 0..n {
            let name = format!("m{i}");
            members.push(Member {
                data_dir: dir.path().join(&name),
                log: dir.path().join(format!("{name}.log")),
                name,
                client_port: free_port(),
                peer_port: free_port(),
                child: None,
                extra: extra.iter().map(|s| s.to_string()).collect(),
            });
        }
        let mut c = Cluster { members, dir };
        let ic = c.initial_cluster();
        for i in 0..n {
            c.spawn(i, &ic, "new")?;
        }
        c.wait_leader(Duration::from_secs(20))?;
        c.wait_started(n, Duration::from_secs(20))?;
        Ok(c)
    }

    /// Waits until `member list` shows `n` members that have published their names (etcd's
    /// "started" members).
    pub fn wait_started(&self, n: usize, timeout: Duration) -> Result<()> {
        let eps = self.endpoints();
        poll(timeout, "every member to publish itself", || {
            let out = etcdctl_ok(&eps, &["member", "list", "-w", "json"]).ok()?;
            let v: serde_json::Value = serde_json::from_str(&out).ok()?;
            let ms = v["members"].as_array()?;
            let named = ms
                .iter()
                .filter(|m| m["name"].as_str().is_some_and(|s| !s.is_empty()))
                .count();
            (ms.len() == n && named == n).then_some(())
        })
    }

    /// `name=peer_url,...` for every member.
    pub fn initial_cluster(&self) -> String {
        self.members
            .iter()
            .map(|m| format!("{}={}", m.name, m.peer_url()))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Starts (or restarts) member `i`'s process.
    pub fn spawn(&mut self, i: usize, initial_cluster: &str, state: &str) -> Result<()> {
        let m = &mut self.members[i];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&m.log)?;
        let mut cmd = Command::new(keelson_bin());
        cmd.arg("store")
            .args(["--name", &m.name])
            .arg("--data-dir")
            .arg(&m.data_dir)
            .args(["--listen-client-urls", &m.url()])
            .args(["--listen-peer-urls", &m.peer_url()])
            .args(["--initial-cluster", initial_cluster])
            .args(["--initial-cluster-state", state])
            .args(&m.extra)
            .env("RUST_LOG", "info,openraft=error,openraft::replication=off")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        m.child = Some(cmd.spawn().context("spawn keelson store")?);
        Ok(())
    }

    /// Client endpoints (`127.0.0.1:port`) of the members that are running.
    pub fn endpoints(&self) -> Vec<String> {
        self.members
            .iter()
            .filter(|m| m.child.is_some())
            .map(|m| m.endpoint())
            .collect()
    }

    /// Client URLs of running members.
    pub fn urls(&self) -> Vec<String> {
        self.members
            .iter()
            .filter(|m| m.child.is_some())
            .map(|m| m.url())
            .collect()
    }

    /// SIGKILLs member `i`.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.members[i].child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGSTOPs member `i`.
    pub fn pause(&self, i: usize) {
        if let Some(pid) = self.members[i].pid() {
            signal(pid, "STOP");
        }
    }

    /// SIGCONTs member `i`.
    pub fn resume(&self, i: usize) {
        if let Some(pid) = self.members[i].pid() {
            signal(pid, "CONT");
        }
    }

    /// Restarts member `i` from its data dir.
    pub fn restart(&mut self, i: usize) -> Result<()> {
        self.kill(i);
        let ic = self.initial_cluster();
        self.spawn(i, &ic, "new")
    }

    /// The index of the member that reports itself leader, per `etcdctl endpoint status`.
    pub fn leader(&self) -> Option<usize> {
        for (i, m) in self.members.iter().enumerate() {
            if m.child.is_none() {
                continue;
            }
            if let Ok(s) = status(&m.endpoint())
                && s.leader != 0
                && s.leader == s.member_id
            {
                return Some(i);
            }
        }
        None
    }

    /// Waits until some member is leader and answers a linearizable read.
    pub fn wait_leader(&self, timeout: Duration) -> Result<usize> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(l) = self.leader() {
                let out = etcdctl(&[self.members[l].endpoint()], &["get", "health-probe"])?;
                if out.status.success() {
                    return Ok(l);
                }
            }
            if Instant::now() > deadline {
                bail!("no leader within {timeout:?}; logs:\n{}", self.logs());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Every member's log, for failure messages.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        for m in &self.members {
            let text = std::fs::read_to_string(&m.log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(30).collect();
            out.push_str(&format!("--- {} ---\n", m.name));
            for l in tail.into_iter().rev() {
                out.push_str(l);
                out.push('\n');
            }
        }
        out
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..self.members.len() {
            self.resume(i);
            self.kill(i);
        }
    }
}

fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status();
}

/// Runs `etcdctl` (API v3) against `endpoints` (written without a scheme: etcdctl 3.4 sends
/// a scheme-prefixed endpoint as the HTTP/2 `:authority`, which Rust's h2 refuses).
pub fn etcdctl(endpoints: &[String], args: &[&str]) -> Result<Output> {
    let out = Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .arg(format!("--endpoints={}", endpoints.join(",")))
        .args(["--command-timeout=10s", "--dial-timeout=3s"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .context("run etcdctl (Debian package etcd-client)")?;
    Ok(out)
}

/// `etcdctl` that must succeed; returns stdout.
pub fn etcdctl_ok(endpoints: &[String], args: &[&str]) -> Result<String> {
    let out = etcdctl(endpoints, args)?;
    if !out.status.success() {
        bail!(
            "etcdctl {:?} failed: {}",
            args,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The fields of `etcdctl endpoint status -w json` tests use.
#[derive(Debug)]
pub struct Status {
    pub member_id: u64,
    pub leader: u64,
    pub raft_index: u64,
    pub raft_term: u64,
    pub revision: i64,
}

/// One member's status.
pub fn status(endpoint: &str) -> Result<Status> {
    let out = etcdctl_ok(
        &[endpoint.to_string()],
        &["endpoint", "status", "-w", "json"],
    )?;
    let v: serde_json::Value = serde_json::from_str(&out)?;
    let s = &v[0]["Status"];
    Ok(Status {
        member_id: s["header"]["member_id"].as_u64().unwrap_or(0),
        leader: s["leader"].as_u64().unwrap_or(0),
        raft_index: s["raftIndex"].as_u64().unwrap_or(0),
        raft_term: s["raftTerm"].as_u64().unwrap_or(0),
        revision: s["header"]["revision"].as_i64().unwrap_or(0),
    })
}

/// Polls `f` until it returns `Some`, or fails after `timeout`.
pub fn poll<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> Result<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Ok(v);
        }
        if Instant::now() > deadline {
            bail!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// An `etcd-client` connection to `urls` whose requests time out after `timeout`.
pub async fn connect(urls: &[String], timeout: Duration) -> Result<etcd_client::Client> {
    let opts = etcd_client::ConnectOptions::new()
        .with_timeout(timeout)
        .with_connect_timeout(Duration::from_secs(1).min(timeout));
    Ok(etcd_client::Client::connect(urls, Some(opts)).await?)
}

/// Runs `etcdctl` like [`etcdctl`], feeding `input` on stdin (`txn`, `put` of a large value).
pub fn etcdctl_stdin(endpoints: &[String], args: &[&str], input: &[u8]) -> Result<Output> {
    use std::io::Write;
    let mut child = Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .arg(format!("--endpoints={}", endpoints.join(",")))
        .args(["--command-timeout=10s", "--dial-timeout=3s"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("run etcdctl (Debian package etcd-client)")?;
    let mut stdin = child.stdin.take().context("etcdctl stdin")?;
    let input = input.to_vec();
    // Written from a thread so a large input cannot deadlock against a full stdout pipe.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().context("wait for etcdctl")?;
    let _ = writer.join();
    Ok(out)
}

impl Cluster {
    /// Adds a member record (fresh ports, a data dir under the cluster's temp dir) without
    /// starting it; returns its index. Start it with [`Cluster::spawn`]; it is killed on drop.
    pub fn new_member(&mut self, name: &str) -> usize {
        self.members.push(Member {
            data_dir: self.dir.path().join(name),
            log: self.dir.path().join(format!("{name}.log")),
            name: name.to_string(),
            client_port: free_port(),
            peer_port: free_port(),
            child: None,
            extra: Vec::new(),
        });
        self.members.len() - 1
    }
}

/// Number of keys under `prefix` in one member's local state (serializable read).
pub fn count_keys(endpoints: &[String], prefix: &str) -> Option<i64> {
    let out = etcdctl_ok(
        endpoints,
        &[
            "get",
            prefix,
            "--prefix",
            "--consistency=s",
            "--limit=1",
            "-w",
            "json",
        ],
    )
    .ok()?;
    let v: serde_json::Value = serde_json::from_str(&out).ok()?;
    Some(v["count"].as_i64().unwrap_or(0))
}
