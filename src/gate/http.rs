//! One HTTP/1.1 exchange on a blocking connection, every part of it
//! bounded: the head's size and its number of headers, the body's size,
//! and the time a client may take to send each (a client that trickles a
//! byte a second is cut off at the deadline, not kept for ever). Parsing
//! is `httparse`'s; what this module adds is the limits and the answers.
//!
//! Only what pings need: a method, a target, a body with a
//! `Content-Length` (a chunked body is refused with 411: every ping
//! client sends the length), `Expect: 100-continue`, and keep-alive.

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

/// What one request may take.
#[derive(Clone, Debug)]
pub struct Limits {
    /// The request line and headers together.
    pub max_head: usize,
    pub max_headers: usize,
    pub max_body: usize,
    /// From the first byte of a request to the end of its body.
    pub request_time: Duration,
    /// How long a kept-alive connection may wait for its next request.
    pub idle_time: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_head: 16 * 1024,
            max_headers: 64,
            max_body: 1024 * 1024,
            request_time: Duration::from_secs(10),
            idle_time: Duration::from_secs(5),
        }
    }
}

/// A connection whose reads can be given a deadline.
pub trait Connection: Read + Write {
    fn set_read_timeout(&self, timeout: Duration) -> io::Result<()>;
}

impl Connection for std::net::TcpStream {
    fn set_read_timeout(&self, timeout: Duration) -> io::Result<()> {
        std::net::TcpStream::set_read_timeout(self, Some(timeout))
    }
}

impl Connection for rustls::StreamOwned<rustls::ServerConnection, std::net::TcpStream> {
    fn set_read_timeout(&self, timeout: Duration) -> io::Result<()> {
        self.sock.set_read_timeout(Some(timeout))
    }
}

#[derive(Debug)]
pub struct Request {
    pub method: String,
    /// The path and query as sent (`/ping/UUID/fail?rid=…`).
    pub target: String,
    pub body: Vec<u8>,
    pub keep_alive: bool,
}

impl Request {
    pub fn is_head(&self) -> bool {
        self.method == "HEAD"
    }
}

/// Why no request came.
#[derive(Debug)]
pub enum Refused {
    /// The client closed, or sent nothing in the idle time: close quietly.
    Gone,
    /// A bad or oversized request: answer this and close.
    Answer(Response),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

impl Response {
    pub fn text(status: u16, body: impl Into<String>) -> Response {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.into(),
        }
    }

    pub fn json(status: u16, body: impl Into<String>) -> Response {
        Response {
            status,
            content_type: "application/json",
            body: body.into(),
        }
    }
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// Reads the next request. `pending` holds what was read past the last
/// request (a pipelining client's next one) and is kept for the next call.
pub fn read_request(
    conn: &mut dyn Connection,
    pending: &mut Vec<u8>,
    limits: &Limits,
) -> Result<Request, Refused> {
    // The idle wait ends at the first byte; the request's own deadline
    // starts there.
    let mut deadline = None::<Instant>;
    let idle_until = Instant::now() + limits.idle_time;
    let mut chunk = [0u8; 8192];
    let head_len = loop {
        if !pending.is_empty() {
            deadline.get_or_insert_with(|| Instant::now() + limits.request_time);
            let mut headers = vec![httparse::EMPTY_HEADER; limits.max_headers];
            let mut parsed = httparse::Request::new(&mut headers);
            match parsed.parse(pending) {
                Ok(httparse::Status::Complete(len)) => break len,
                Ok(httparse::Status::Partial) => {}
                Err(httparse::Error::TooManyHeaders) => {
                    return Err(refuse(431, "too many headers"));
                }
                Err(err) => return Err(refuse(400, format!("not an HTTP request: {err}"))),
            }
            if pending.len() > limits.max_head {
                return Err(refuse(431, "request head too large"));
            }
        }
        let until = deadline.unwrap_or(idle_until);
        match read_some(conn, &mut chunk, until) {
            Ok(0) => return Err(Refused::Gone),
            Ok(n) => pending.extend_from_slice(&chunk[..n]),
            Err(err) if is_timeout(&err) && deadline.is_some() => {
                return Err(refuse(408, "request not received in time"));
            }
            Err(_) => return Err(Refused::Gone),
        }
    };
    let deadline = deadline.unwrap_or_else(|| Instant::now() + limits.request_time);

    let mut headers = vec![httparse::EMPTY_HEADER; limits.max_headers];
    let mut parsed = httparse::Request::new(&mut headers);
    parsed
        .parse(&pending[..head_len])
        .map_err(|err| refuse(400, format!("not an HTTP request: {err}")))?;
    let method = parsed.method.unwrap_or_default().to_string();
    let target = parsed.path.unwrap_or_default().to_string();
    let version = parsed.version.unwrap_or(1);
    let mut length = 0usize;
    let mut keep_alive = version >= 1;
    let mut expect_continue = false;
    for header in parsed.headers.iter() {
        let value = std::str::from_utf8(header.value).unwrap_or("").trim();
        if header.name.eq_ignore_ascii_case("content-length") {
            length = value
                .parse()
                .map_err(|_| refuse(400, "Content-Length is not a number"))?;
        } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(refuse(
                411,
                "a chunked body is not accepted: send it with Content-Length",
            ));
        } else if header.name.eq_ignore_ascii_case("connection") {
            let value = value.to_ascii_lowercase();
            if value.contains("close") {
                keep_alive = false;
            } else if value.contains("keep-alive") {
                keep_alive = true;
            }
        } else if header.name.eq_ignore_ascii_case("expect") {
            expect_continue = value.eq_ignore_ascii_case("100-continue");
        }
    }
    if length > limits.max_body {
        return Err(refuse(
            413,
            format!("the body is larger than {} bytes", limits.max_body),
        ));
    }
    pending.drain(..head_len);
    if expect_continue && pending.len() < length {
        let _ = conn.write_all(b"HTTP/1.1 100 Continue\r\n\r\n");
    }
    while pending.len() < length {
        let want = (length - pending.len()).min(chunk.len());
        match read_some(conn, &mut chunk[..want], deadline) {
            Ok(0) => return Err(Refused::Gone),
            Ok(n) => pending.extend_from_slice(&chunk[..n]),
            Err(err) if is_timeout(&err) => {
                return Err(refuse(408, "request body not received in time"));
            }
            Err(_) => return Err(Refused::Gone),
        }
    }
    let body: Vec<u8> = pending.drain(..length).collect();
    Ok(Request {
        method,
        target,
        body,
        keep_alive,
    })
}

fn refuse(status: u16, why: impl Into<String>) -> Refused {
    let mut why = why.into();
    why.push('\n');
    Refused::Answer(Response::text(status, why))
}

fn is_timeout(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// One read that returns by `until` (a timeout error past it).
fn read_some(conn: &mut dyn Connection, buf: &mut [u8], until: Instant) -> io::Result<usize> {
    let left = until.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(io::ErrorKind::TimedOut.into());
    }
    conn.set_read_timeout(left)?;
    loop {
        match conn.read(buf) {
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// Writes `response` (its headers only for HEAD).
pub fn write_response(
    conn: &mut dyn Connection,
    response: &Response,
    head_only: bool,
    keep_alive: bool,
) -> io::Result<()> {
    let mut out = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: {}\r\n\r\n",
        response.status,
        reason_phrase(response.status),
        response.content_type,
        response.body.len(),
        if keep_alive { "keep-alive" } else { "close" },
    )
    .into_bytes();
    if !head_only {
        out.extend_from_slice(response.body.as_bytes());
    }
    conn.write_all(&out)?;
    conn.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// A connection that reads from a buffer and keeps what is written.
    struct Fake {
        input: Cursor<Vec<u8>>,
        output: Vec<u8>,
    }

    impl Read for Fake {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.input.read(buf)
        }
    }
    impl Write for Fake {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.output.write(buf)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    impl Connection for Fake {
        fn set_read_timeout(&self, _: Duration) -> io::Result<()> {
            Ok(())
        }
    }

    fn fake(input: &[u8]) -> Fake {
        Fake {
            input: Cursor::new(input.to_vec()),
            output: Vec::new(),
        }
    }

    fn status_of(result: Result<Request, Refused>) -> u16 {
        match result {
            Ok(_) => 200,
            Err(Refused::Gone) => 0,
            Err(Refused::Answer(response)) => response.status,
        }
    }

    #[test]
    fn two_pipelined_requests_come_one_after_the_other() {
        let mut conn = fake(
            b"POST /ping/a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET /ping/b HTTP/1.1\r\n\r\n",
        );
        let mut pending = Vec::new();
        let limits = Limits::default();
        let first = read_request(&mut conn, &mut pending, &limits).unwrap();
        assert_eq!(
            (first.target.as_str(), &first.body[..]),
            ("/ping/a", &b"hello"[..])
        );
        assert!(first.keep_alive);
        let second = read_request(&mut conn, &mut pending, &limits).unwrap();
        assert_eq!(second.target, "/ping/b");
        assert!(matches!(
            read_request(&mut conn, &mut pending, &limits),
            Err(Refused::Gone)
        ));
    }

    #[test]
    fn oversized_and_malformed_requests_are_answered_not_read() {
        let limits = Limits {
            max_body: 10,
            ..Limits::default()
        };
        let mut pending = Vec::new();
        let big = b"POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n";
        assert_eq!(
            status_of(read_request(&mut fake(big), &mut pending, &limits)),
            413
        );
        let mut many = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..10_000 {
            many.extend_from_slice(format!("X-{i}: y\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        pending.clear();
        assert_eq!(
            status_of(read_request(&mut fake(&many), &mut pending, &limits)),
            431
        );
        let mut long = b"GET /".to_vec();
        long.extend(std::iter::repeat_n(b'a', 100_000));
        pending.clear();
        assert_eq!(
            status_of(read_request(&mut fake(&long), &mut pending, &limits)),
            431
        );
        pending.clear();
        let chunked = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(
            status_of(read_request(&mut fake(chunked), &mut pending, &limits)),
            411
        );
        pending.clear();
        assert_eq!(
            status_of(read_request(
                &mut fake(b"\x00\xff garbage\r\n\r\n"),
                &mut pending,
                &limits
            )),
            400
        );
    }

    #[test]
    fn a_head_answer_has_no_body_and_a_closing_client_is_told_close() {
        let mut conn = fake(b"");
        write_response(&mut conn, &Response::text(200, "OK"), true, false).unwrap();
        let written = String::from_utf8(conn.output).unwrap();
        assert!(written.starts_with("HTTP/1.1 200 OK\r\n"), "{written}");
        assert!(written.contains("Content-Length: 2\r\n"), "{written}");
        assert!(written.contains("Connection: close\r\n"), "{written}");
        assert!(written.ends_with("\r\n\r\n"), "{written}");
    }
}
