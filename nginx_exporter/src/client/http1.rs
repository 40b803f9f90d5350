//! A minimal blocking HTTP/1.1 GET: an overall deadline, `Content-Length`, chunked and read-to-end bodies, bounded
//! header and body sizes. A connection is reusable after a `Content-Length` response of HTTP/1.1 without
//! `Connection: close` (what nginx sends for stub_status), so the caller can keep it for the next scrape as Go's
//! HTTP client does.

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

/// Largest response head accepted.
const MAX_HEAD: usize = 64 * 1024;
/// Largest body accepted (a stub_status page is about 100 bytes).
pub const MAX_BODY: usize = 1024 * 1024;

/// A response: status code and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The decoded body.
    pub body: Vec<u8>,
    /// The connection may carry another request.
    pub keep_alive: bool,
}

/// Why a response could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// Reading or writing the connection failed (including the deadline passing).
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The status line is not `HTTP/1.x NNN ...`.
    #[error("malformed status line {0:?}")]
    StatusLine(String),
    /// A header line has no colon or the head is not valid UTF-8.
    #[error("malformed response header {0:?}")]
    Header(String),
    /// The head is larger than 64 KiB.
    #[error("response header larger than {MAX_HEAD} bytes")]
    HeadTooLarge,
    /// The body is larger than [`MAX_BODY`].
    #[error("response body larger than {MAX_BODY} bytes")]
    BodyTooLarge,
    /// `Content-Length` is not a number.
    #[error("invalid Content-Length {0:?}")]
    ContentLength(String),
    /// A chunk size line is malformed.
    #[error("invalid chunk size line {0:?}")]
    Chunk(String),
    /// The connection closed before the body was complete.
    #[error("unexpected end of response body")]
    Truncated,
}

/// A byte stream whose read and write timeouts can be set (TCP, TLS over TCP, unix socket).
pub trait Timed: Read + Write + Send {
    /// Sets both the read and the write timeout.
    fn set_timeouts(&self, timeout: Duration) -> io::Result<()>;
}

/// A connection with the socket timeout last applied to it, so a kept connection scraped again with the same
/// budget needs no system call to set it.
pub struct Conn {
    stream: Box<dyn Timed>,
    timeout: Option<Duration>,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Conn {
    /// A connection with no timeout applied yet.
    pub fn new(stream: Box<dyn Timed>) -> Conn {
        Conn { stream, timeout: None }
    }
}

/// Socket timeouts are applied in whole steps of this length (see [`Deadline`]).
const TIMEOUT_STEP: Duration = Duration::from_millis(10);

/// Sends `GET path` and reads the response before `deadline`.
pub fn get(
    conn: &mut Conn,
    deadline: Instant,
    path: &str,
    host: &str,
    user_agent: &str,
    authorization: Option<&str>,
) -> Result<Response, HttpError> {
    let mut request =
        format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {user_agent}\r\nAccept-Encoding: identity\r\n");
    if let Some(auth) = authorization {
        request.push_str("Authorization: ");
        request.push_str(auth);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    let mut stream = Deadline { conn, deadline };
    stream.write_all(request.as_bytes())?;
    stream.flush()?;
    read_response(&mut stream)
}

/// Reads one response from `r`.
pub fn read_response(r: &mut dyn Read) -> Result<Response, HttpError> {
    let mut buf = Vec::with_capacity(1024);
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > MAX_HEAD {
            return Err(HttpError::HeadTooLarge);
        }
        let mut chunk = [0u8; 4096];
        let n = read_some(r, &mut chunk)?;
        if n == 0 {
            return Err(HttpError::Io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed before the response header was complete",
            )));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = std::str::from_utf8(&buf[..head_end - 4])
        .map_err(|_| HttpError::Header(String::from_utf8_lossy(&buf[..head_end.min(200)]).into_owned()))?;
    let mut lines = head.split("\r\n");
    let (http11, status) = parse_status_line(lines.next().unwrap_or(""))?;
    let mut length = None;
    let mut chunked = false;
    let mut close = !http11;
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| HttpError::Header(line.chars().take(200).collect()))?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            let n: usize = value
                .parse()
                .map_err(|_| HttpError::ContentLength(value.chars().take(40).collect()))?;
            length = Some(n);
        } else if name.eq_ignore_ascii_case("connection") {
            close |= value.split(',').any(|v| v.trim().eq_ignore_ascii_case("close"));
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value
                .rsplit(',')
                .next()
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("chunked"));
        }
    }
    let rest = buf.split_off(head_end);
    // Only an exactly framed Content-Length body leaves the connection in a known state.
    let mut keep_alive = false;
    let body = if chunked {
        read_chunked(r, rest)?
    } else if let Some(n) = length {
        if n > MAX_BODY {
            return Err(HttpError::BodyTooLarge);
        }
        let mut body = rest;
        read_until(r, &mut body, n)?;
        if body.len() < n {
            return Err(HttpError::Truncated);
        }
        keep_alive = !close && body.len() == n;
        body.truncate(n);
        body
    } else {
        let mut body = rest;
        read_until(r, &mut body, MAX_BODY + 1)?;
        if body.len() > MAX_BODY {
            return Err(HttpError::BodyTooLarge);
        }
        body
    };
    Ok(Response {
        status,
        body,
        keep_alive,
    })
}

/// `(is HTTP/1.1 or later, status code)`.
fn parse_status_line(line: &str) -> Result<(bool, u16), HttpError> {
    let bad = || HttpError::StatusLine(line.chars().take(200).collect());
    let mut parts = line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    let code = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/1.") || code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    Ok((version != "HTTP/1.0", code.parse().map_err(|_| bad())?))
}

/// Reads from `r` into `buf` until it holds `want` bytes or the stream ends.
fn read_until(r: &mut dyn Read, buf: &mut Vec<u8>, want: usize) -> Result<(), HttpError> {
    let mut chunk = [0u8; 4096];
    while buf.len() < want {
        let n = read_some(r, &mut chunk)?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(())
}

fn read_chunked(r: &mut dyn Read, mut raw: Vec<u8>) -> Result<Vec<u8>, HttpError> {
    let mut body = Vec::new();
    let mut pos = 0;
    loop {
        // The chunk size line.
        let line_end = loop {
            if let Some(i) = find(&raw[pos..], b"\r\n") {
                break pos + i;
            }
            if raw.len() - pos > 1024 {
                return Err(HttpError::Chunk(
                    String::from_utf8_lossy(&raw[pos..pos + 40]).into_owned(),
                ));
            }
            let before = raw.len();
            read_until(r, &mut raw, before + 1)?;
            if raw.len() == before {
                return Err(HttpError::Truncated);
            }
        };
        let line = String::from_utf8_lossy(&raw[pos..line_end]).into_owned();
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| HttpError::Chunk(line.clone()))?;
        pos = line_end + 2;
        if size == 0 {
            return Ok(body);
        }
        if body.len().saturating_add(size) > MAX_BODY {
            return Err(HttpError::BodyTooLarge);
        }
        let need = pos + size + 2;
        read_until(r, &mut raw, need)?;
        if raw.len() < need {
            return Err(HttpError::Truncated);
        }
        body.extend_from_slice(&raw[pos..pos + size]);
        if &raw[pos + size..need] != b"\r\n" {
            return Err(HttpError::Chunk(line));
        }
        pos = need;
    }
}

fn read_some(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match r.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Applies the time left before the deadline as the socket timeout of each read and write: rounded down to a
/// whole [`TIMEOUT_STEP`] (the time left itself when less than one step), and only when that differs from what
/// the socket has. No call waits past the deadline; one may give up at most a step early.
struct Deadline<'a> {
    conn: &'a mut Conn,
    deadline: Instant,
}

impl Deadline<'_> {
    fn arm(&mut self) -> io::Result<()> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "timeout exceeded"));
        }
        let timeout = step_down(left);
        if self.conn.timeout != Some(timeout) {
            // Forget the old value first: a failed call may have applied one direction only.
            self.conn.timeout = None;
            self.conn.stream.set_timeouts(timeout)?;
            self.conn.timeout = Some(timeout);
        }
        Ok(())
    }
}

/// `left` rounded down to a whole [`TIMEOUT_STEP`]; `left` itself when it is less than one step.
fn step_down(left: Duration) -> Duration {
    let step = TIMEOUT_STEP.as_nanos();
    if left.as_nanos() < step {
        return left;
    }
    let whole = left.as_nanos() / step * step;
    Duration::from_nanos(u64::try_from(whole).unwrap_or(u64::MAX))
}

impl Read for Deadline<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.arm()?;
        self.conn.stream.read(buf).map_err(timeout_message)
    }
}

impl Write for Deadline<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.arm()?;
        self.conn.stream.write(buf).map_err(timeout_message)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.arm()?;
        self.conn.stream.flush().map_err(timeout_message)
    }
}

/// Socket timeouts surface as `WouldBlock` on Linux; name them.
fn timeout_message(e: io::Error) -> io::Error {
    if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) {
        io::Error::new(io::ErrorKind::TimedOut, "timeout exceeded while awaiting response")
    } else {
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_step_down() {
        let ms = Duration::from_millis;
        let cases = [
            (ms(5000), ms(5000)),
            (ms(4999) + Duration::from_micros(990), ms(4990)),
            (ms(10), ms(10)),
            (ms(9) + Duration::from_micros(5), ms(9) + Duration::from_micros(5)),
            (Duration::from_nanos(1), Duration::from_nanos(1)),
        ];
        for (left, want) in cases {
            assert_eq!(step_down(left), want, "{left:?}");
        }
    }
    use proptest::prelude::*;

    fn read(raw: &[u8]) -> Result<Response, HttpError> {
        read_response(&mut &raw[..])
    }

    #[test]
    fn bodies() {
        /// Name, raw response, expected status and body (`None`: an error).
        type Case = (&'static str, &'static [u8], Option<(u16, &'static [u8])>);
        let cases: &[Case] = &[
            (
                "content-length",
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloEXTRA",
                Some((200, b"hello")),
            ),
            (
                "to eof",
                b"HTTP/1.0 404 Not Found\r\nServer: x\r\n\r\nnope",
                Some((404, b"nope")),
            ),
            (
                "chunked",
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
                Some((200, b"abcde")),
            ),
            ("no reason", b"HTTP/1.1 204\r\n\r\n", Some((204, b""))),
            ("short", b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc", None),
            ("bad status", b"HTTP/2 200\r\n\r\n", None),
            ("garbage", b"SSH-2.0-OpenSSH\r\n\r\n", None),
            ("no head end", b"HTTP/1.1 200 OK\r\n", None),
            ("bad length", b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", None),
            (
                "bad chunk",
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                None,
            ),
            (
                "chunk no crlf",
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab0\r\n\r\n",
                None,
            ),
            ("header no colon", b"HTTP/1.1 200 OK\r\nfoo\r\n\r\n", None),
        ];
        for (name, raw, want) in cases {
            let got = read(raw);
            match (want, &got) {
                (Some((code, body)), Ok(r)) => {
                    assert_eq!(r.status, *code, "{name}");
                    assert_eq!(r.body, *body, "{name}");
                }
                (None, Err(_)) => {}
                _ => panic!("{name}: got {got:?}"),
            }
        }
    }

    #[test]
    fn keep_alive() {
        let cases: &[(&[u8], bool)] = &[
            (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", true),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok",
                true,
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                false,
            ),
            (b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", false),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokX", false),
            (b"HTTP/1.1 200 OK\r\n\r\nok", false),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
                false,
            ),
        ];
        for (raw, want) in cases {
            let r = read(raw).expect("valid response");
            assert_eq!(r.keep_alive, *want, "{}", String::from_utf8_lossy(raw));
        }
    }

    #[test]
    fn too_large() {
        let mut raw = b"HTTP/1.1 200 OK\r\nContent-Length: 2000000\r\n\r\n".to_vec();
        assert!(matches!(read(&raw), Err(HttpError::BodyTooLarge)));
        raw = b"HTTP/1.1 200 OK\r\n\r\n".to_vec();
        raw.resize(raw.len() + MAX_BODY + 10, b'a');
        assert!(matches!(read(&raw), Err(HttpError::BodyTooLarge)));
        let head = vec![b'a'; MAX_HEAD + 10];
        assert!(matches!(read(&head), Err(HttpError::HeadTooLarge)));
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = read(&bytes);
            let mut with_head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
            with_head.extend_from_slice(&bytes);
            let _ = read(&with_head);
        }
    }
}
