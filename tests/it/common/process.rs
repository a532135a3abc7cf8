//! The real `nbu-otel` binary as a child process, its output captured as it comes (a full
//! pipe would block the agent).

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::wait_for;

/// Path of the binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_nbu-otel");

/// Runs a one-shot command, `nbu-otel <args> --config <config>`, to its end: its exit
/// status and output.
pub async fn run_with_config(args: &[&str], config: &std::path::Path) -> std::process::Output {
    tokio::process::Command::new(BIN)
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .await
        .unwrap_or_else(|e| panic!("{BIN} {args:?} does not start: {e}"))
}

/// A running agent process.
pub struct AgentProcess {
    child: tokio::process::Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    readers: Vec<tokio::task::JoinHandle<()>>,
}

fn capture<R: tokio::io::AsyncRead + Unpin + Send + 'static>(
    pipe: Option<R>,
    into: Arc<Mutex<String>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let Some(mut pipe) = pipe else { return };
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n) = pipe.read(&mut buf).await {
            if n == 0 {
                break;
            }
            into.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    })
}

impl AgentProcess {
    /// Writes `yaml` to `dir/agent.yaml`, starts `nbu-otel run` on it with `env`, and waits for
    /// `/readyz` on `port` to answer 200.
    pub async fn start(
        dir: &std::path::Path,
        yaml: &str,
        port: u16,
        env: &[(&str, &str)],
    ) -> AgentProcess {
        let path = dir.join("agent.yaml");
        std::fs::write(&path, yaml).unwrap();
        AgentProcess::start_file(&path, port, env, &[]).await
    }

    /// Starts `nbu-otel run --config path args...` with `env` and waits for `/readyz` on `port`.
    pub async fn start_file(
        path: &std::path::Path,
        port: u16,
        env: &[(&str, &str)],
        args: &[&str],
    ) -> AgentProcess {
        let mut all: Vec<&std::ffi::OsStr> = vec!["run".as_ref(), "--config".as_ref()];
        all.push(path.as_os_str());
        all.extend(args.iter().map(|a| std::ffi::OsStr::new(*a)));
        let readyz = format!("http://127.0.0.1:{port}/readyz");
        AgentProcess::spawn(&all, env, &readyz).await
    }

    /// Starts `nbu-otel args...` with `env` and waits until `ready` answers 200.
    pub async fn spawn(
        args: &[&std::ffi::OsStr],
        env: &[(&str, &str)],
        ready: &str,
    ) -> AgentProcess {
        let client = reqwest::Client::new();
        AgentProcess::spawn_until(args, env, || async {
            let r = client.get(ready).send().await.ok()?;
            (r.status() == 200).then_some(())
        })
        .await
    }

    /// Starts `nbu-otel args...` with `env` and waits until `ready` returns `Some`.
    pub async fn spawn_until<F, Fut>(
        args: &[&std::ffi::OsStr],
        env: &[(&str, &str)],
        ready: F,
    ) -> AgentProcess
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<()>>,
    {
        let mut child = tokio::process::Command::new(BIN)
            .args(args)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let readers = vec![
            capture(child.stdout.take(), stdout.clone()),
            capture(child.stderr.take(), stderr.clone()),
        ];
        wait_for("the process to be ready", Duration::from_secs(60), ready).await;
        AgentProcess {
            child,
            stdout,
            stderr,
            readers,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id().unwrap()
    }

    /// Whether the process still runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Everything written to stdout so far.
    pub fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    /// Everything written to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Sends a signal (`"TERM"`, `"HUP"`, ...).
    pub fn signal(&self, name: &str) {
        let status = std::process::Command::new("kill")
            .args([format!("-{name}"), self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{name}");
    }

    /// Sends SIGTERM, asserts exit code 0 within 15 s, returns (stdout, stderr).
    pub async fn terminate(mut self) -> (String, String) {
        self.signal("TERM");
        let status = tokio::time::timeout(Duration::from_secs(15), self.child.wait())
            .await
            .expect("exits within the shutdown timeout")
            .unwrap();
        for r in self.readers {
            let _ = r.await;
        }
        let stdout = self.stdout.lock().unwrap().clone();
        let stderr = self.stderr.lock().unwrap().clone();
        assert_eq!(status.code(), Some(0), "exit status; stderr:\n{stderr}");
        (stdout, stderr)
    }
}

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Resident memory of a process, in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}
