//! Runs the real `hearth` binary against the fakes, capturing its log.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// The `hearth` binary, built on first use if `cargo test` has not built it.
/// `HEARTH_BINARY` points at another build instead (benchmarks compare two builds that
/// way, in one run).
pub fn hearth_binary() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        if let Some(path) = std::env::var_os("HEARTH_BINARY") {
            return PathBuf::from(path);
        }
        // target/<profile>/deps/<test binary> -> target/<profile>/hearth
        let exe = std::env::current_exe().expect("test binary path");
        let dir = exe
            .parent()
            .and_then(|deps| deps.parent())
            .expect("target dir")
            .to_path_buf();
        let path = dir.join("hearth");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let release = dir.file_name().is_some_and(|n| n == "release");
        let mut build = Command::new(cargo);
        // The same selection as scripts/test.sh, so features unify the same way and
        // this is a no-op when the binary is already up to date.
        build.args(["build", "--workspace", "--bins"]);
        if release {
            build.arg("--release");
        }
        let status = build
            .status()
            .expect("running cargo build for the hearth binary");
        assert!(status.success(), "building the hearth binary failed");
        path
    })
    .clone()
}

/// A running `hearth` process.
pub struct BotProcess {
    child: Child,
    /// The process runs under a tracer (`strace`): signals go to the tracer's child.
    traced: bool,
    log: Arc<Mutex<String>>,
    secrets: Vec<String>,
}

impl BotProcess {
    /// Starts `hearth ARGS` with exactly `env` (plus PATH), in `workdir`, so no
    /// `.env` or user environment leaks in. `secrets` must never show in the log.
    pub fn spawn(
        args: &[&str],
        env: &[(String, String)],
        workdir: &std::path::Path,
        secrets: &[&str],
    ) -> Self {
        Self::spawn_under(&[], args, env, workdir, secrets)
    }

    /// Like [`spawn`](Self::spawn), with every network connection the process (and any
    /// thread or child of it) opens written to `trace` by `strace -f -e trace=connect`.
    pub fn spawn_traced(
        trace: &std::path::Path,
        args: &[&str],
        env: &[(String, String)],
        workdir: &std::path::Path,
        secrets: &[&str],
    ) -> Self {
        let trace = trace.display().to_string();
        let wrapper = ["strace", "-f", "-qq", "-e", "trace=connect", "-o", &trace];
        Self::spawn_under(&wrapper, args, env, workdir, secrets)
    }

    fn spawn_under(
        wrapper: &[&str],
        args: &[&str],
        env: &[(String, String)],
        workdir: &std::path::Path,
        secrets: &[&str],
    ) -> Self {
        let mut command = match wrapper.split_first() {
            None => Command::new(hearth_binary()),
            Some((program, wrapper_args)) => {
                let mut command = Command::new(program);
                command.args(wrapper_args).arg(hearth_binary());
                command
            }
        };
        command
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .current_dir(workdir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("starting hearth");
        let log = Arc::new(Mutex::new(String::new()));
        for pipe in [
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
        ] {
            let log = Arc::clone(&log);
            let pipe = pipe.expect("piped output");
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    let mut log = log.lock().unwrap();
                    log.push_str(&line);
                    log.push('\n');
                }
            });
        }
        Self {
            child,
            traced: !wrapper.is_empty(),
            log,
            secrets: secrets.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    /// The process id (of `hearth`, not of a tracer it runs under).
    pub fn pid(&self) -> u32 {
        if !self.traced {
            return self.child.id();
        }
        let tracer = self.child.id();
        let children = format!("/proc/{tracer}/task/{tracer}/children");
        for _ in 0..200 {
            let listed = std::fs::read_to_string(&children).unwrap_or_default();
            if let Some(pid) = listed.split_whitespace().find_map(|p| p.parse().ok()) {
                return pid;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("the traced hearth process did not start");
    }

    /// Everything the process printed so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits until the log contains `needle`.
    pub async fn wait_for_log(&self, needle: &str, timeout: Duration) {
        let found = crate::eventually(timeout, || self.log().contains(needle).then_some(())).await;
        assert!(
            found.is_some(),
            "log never said {needle:?}; log:\n{}",
            self.log()
        );
    }

    /// Kills the process with SIGKILL: no shutdown, no flush.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM and waits for the exit; returns the exit code.
    pub async fn terminate(mut self) -> Option<i32> {
        let pid = self.pid().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        self.wait(Duration::from_secs(30)).await
    }

    /// Like [`terminate`](Self::terminate), and returns the whole log too.
    pub async fn terminate_with_log(mut self) -> (Option<i32>, String) {
        let pid = self.pid().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let code = self.wait(Duration::from_secs(30)).await;
        (code, self.log())
    }

    /// Waits up to `timeout` for the process to exit by itself; returns the exit code.
    pub async fn wait(&mut self, timeout: Duration) -> Option<i32> {
        let exited = crate::eventually(timeout, || self.child.try_wait().ok().flatten()).await;
        let status = exited.unwrap_or_else(|| {
            let _ = self.child.kill();
            panic!("hearth did not exit in {timeout:?}; log:\n{}", self.log())
        });
        // Let the reader threads catch the last lines.
        std::thread::sleep(Duration::from_millis(50));
        self.check_secrets();
        status.code()
    }

    fn check_secrets(&self) {
        let log = self.log();
        for secret in &self.secrets {
            assert!(
                !log.contains(secret.as_str()),
                "a secret appeared in the log:\n{log}"
            );
        }
    }
}

impl Drop for BotProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !std::thread::panicking() {
            self.check_secrets();
        }
    }
}
