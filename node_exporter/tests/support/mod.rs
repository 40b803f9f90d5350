//! Shared by the node_exporter integration tests: start an exporter binary on a free loopback port, scrape it,
//! stop it even when an assertion fails.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Kills the child process when dropped.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// Starts `program` with `args` plus `--web.listen-address=127.0.0.1:<port>`, in `cwd` when given.
pub fn start(program: &str, args: &[String], port: u16, cwd: Option<&std::path::Path>) -> KillOnDrop {
    let mut cmd = Command::new(program);
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    let child = cmd
        .args(args)
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
    KillOnDrop(child)
}

/// `GET /metrics` over HTTP/1.0, retried until the exporter listens (15 s at most); the body of a 200 answer.
pub fn scrape(port: u16) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(mut s) => {
                s.write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")
                    .expect("send");
                let mut resp = String::new();
                s.read_to_string(&mut resp).expect("read");
                let (head, body) = resp.split_once("\r\n\r\n").expect("HTTP response");
                assert!(head.contains(" 200 "), "{head}");
                return body.to_string();
            }
            Err(e) if Instant::now() > deadline => panic!("no exporter listening on {port}: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}
