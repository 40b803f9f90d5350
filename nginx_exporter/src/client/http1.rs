//! A minimal HTTP/1.1 GET: `Content-Length`, chunked and read-to-end bodies, bounded header and body sizes. The
//! response is framed by [`parse_response`], which looks only at the bytes received so far, so the same parser
//! serves the asynchronous exchange ([`get`], on the exporter's runtime thread) and a plain reader
//! ([`read_response`]). A connection is reusable after a `Content-Length` response of HTTP/1.1 without
//! `Connection: close` (what nginx sends for stub_status), so the caller can keep it for the next scrape as Go's
//! HTTP client does.

use std::io::{self, Read};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Largest response head accepted.
const MAX_HEAD: usize = 64 * 1024;
/// Largest body accepted (a stub_status page is about 100 bytes).
pub const MAX_BODY: usize = 1024 * 1024;
/// Largest raw response kept while framing it (head, body and chunk framing together).
const MAX_RAW: usize = MAX_HEAD + 2 * MAX_BODY;

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

/// The request bytes of a `GET path` with upstream's headers (built once per target).
pub fn request(path: &str, host: &str, user_agent: &str, authorization: Option<&str>) -> Vec<u8> {
    let mut request =
        format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {user_agent}\r\nAccept-Encoding: identity\r\n");
    if let Some(auth) = authorization {
        request.push_str("Authorization: ");
        request.push_str(auth);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    request.into_bytes()
}

/// Sends `request` on `stream` and reads the response. The caller bounds it in time.
pub async fn get<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S, request: &[u8]) -> Result<Response, HttpError> {
    stream.write_all(request).await?;
    stream.flush().await?;
    let mut buf = Vec::with_capacity(1024);
    loop {
        if buf.len() == buf.capacity() {
            buf.reserve(buf.len().clamp(1024, 64 * 1024));
        }
        let n = stream.read_buf(&mut buf).await?;
        if let Some(response) = parse_response(&buf, n == 0)? {
            return Ok(response);
        }
    }
}

/// Reads one response from `r` (a whole response in memory, for tests and the fuzz target).
pub fn read_response(r: &mut dyn Read) -> Result<Response, HttpError> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        let n = loop {
            match r.read(&mut chunk) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other?,
            }
        };
        buf.extend_from_slice(&chunk[..n]);
        if let Some(response) = parse_response(&buf, n == 0)? {
            return Ok(response);
        }
    }
}

/// Frames the response in `buf`, all bytes received so far; `eof`: the peer has closed the connection. `None`:
/// more bytes are needed (never when `eof`). Errors as soon as the bytes cannot become a valid response or exceed
/// the size limits.
pub fn parse_response(buf: &[u8], eof: bool) -> Result<Option<Response>, HttpError> {
    if buf.len() > MAX_RAW {
        return Err(HttpError::BodyTooLarge);
    }
    let Some(head_end) = find(buf, b"\r\n\r\n").map(|i| i + 4) else {
        if buf.len() > MAX_HEAD {
            return Err(HttpError::HeadTooLarge);
        }
        if eof {
            return Err(HttpError::Io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed before the response header was complete",
            )));
        }
        return Ok(None);
    };
    if head_end > MAX_HEAD + 4 {
        return Err(HttpError::HeadTooLarge);
    }
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
    let rest = &buf[head_end..];
    let done = |body: Vec<u8>, keep_alive: bool| {
        Ok(Some(Response {
            status,
            body,
            keep_alive,
        }))
    };
    if chunked {
        return match parse_chunked(rest)? {
            Some(body) => done(body, false),
            None if eof => Err(HttpError::Truncated),
            None => Ok(None),
        };
    }
    if let Some(n) = length {
        if n > MAX_BODY {
            return Err(HttpError::BodyTooLarge);
        }
        if rest.len() < n {
            return if eof { Err(HttpError::Truncated) } else { Ok(None) };
        }
        // Only an exactly framed Content-Length body leaves the connection in a known state.
        return done(rest[..n].to_vec(), !close && rest.len() == n);
    }
    if rest.len() > MAX_BODY {
        return Err(HttpError::BodyTooLarge);
    }
    if eof { done(rest.to_vec(), false) } else { Ok(None) }
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

/// The decoded body of the chunked encoding in `raw`, or `None` while it is incomplete.
fn parse_chunked(raw: &[u8]) -> Result<Option<Vec<u8>>, HttpError> {
    let mut body = Vec::new();
    let mut pos = 0;
    loop {
        // The chunk size line.
        let Some(line_end) = find(&raw[pos..], b"\r\n").map(|i| pos + i) else {
            if raw.len() - pos > 1024 {
                return Err(HttpError::Chunk(
                    String::from_utf8_lossy(&raw[pos..pos + 40]).into_owned(),
                ));
            }
            return Ok(None);
        };
        let line = String::from_utf8_lossy(&raw[pos..line_end]).into_owned();
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| HttpError::Chunk(line.clone()))?;
        pos = line_end + 2;
        if size == 0 {
            return Ok(Some(body));
        }
        if body.len().saturating_add(size) > MAX_BODY {
            return Err(HttpError::BodyTooLarge);
        }
        let need = pos + size + 2;
        if raw.len() < need {
            return Ok(None);
        }
        body.extend_from_slice(&raw[pos..pos + size]);
        if &raw[pos + size..need] != b"\r\n" {
            return Err(HttpError::Chunk(line));
        }
        pos = need;
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

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

    /// A reader that hands out one byte per read.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let Some((first, rest)) = self.0.split_first() else {
                return Ok(0);
            };
            match buf.first_mut() {
                Some(b) => *b = *first,
                None => return Ok(0),
            }
            self.0 = rest;
            Ok(1)
        }
    }

    #[test]
    fn byte_by_byte_reads_frame_like_whole_ones() {
        let cases: &[&[u8]] = &[
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
            b"HTTP/1.0 404 Not Found\r\nServer: x\r\n\r\nnope",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab0\r\n\r\n",
        ];
        for raw in cases {
            let whole = format!("{:?}", read(raw));
            let trickled = format!("{:?}", read_response(&mut Trickle(raw)));
            assert_eq!(trickled, whole, "{}", String::from_utf8_lossy(raw));
        }
    }

    #[tokio::test]
    async fn get_sends_the_request_and_reads_the_response() {
        let (mut ours, mut theirs) = tokio::io::duplex(64);
        let server = tokio::spawn(async move {
            let mut req = Vec::new();
            while !req.ends_with(b"\r\n\r\n") {
                let mut b = [0u8; 1];
                theirs.read_exact(&mut b).await.expect("request byte");
                req.push(b[0]);
            }
            // Written in two pieces, so the client has to read more than once.
            theirs.write_all(b"HTTP/1.1 200 OK\r\nContent-Le").await.expect("write");
            tokio::task::yield_now().await;
            theirs.write_all(b"ngth: 2\r\n\r\nok").await.expect("write");
            String::from_utf8(req).expect("utf-8")
        });
        let req = request("/s", "h:1", "UA/1", Some("Basic eA=="));
        let resp = get(&mut ours, &req).await.expect("response");
        assert_eq!(
            (resp.status, resp.body.as_slice(), resp.keep_alive),
            (200, &b"ok"[..], true)
        );
        assert_eq!(
            server.await.expect("server"),
            "GET /s HTTP/1.1\r\nHost: h:1\r\nUser-Agent: UA/1\r\nAccept-Encoding: identity\r\n\
             Authorization: Basic eA==\r\n\r\n"
        );
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
