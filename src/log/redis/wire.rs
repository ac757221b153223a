//! Stream entries read straight from the broker's socket.
//!
//! Receiving, redis-rs built a tree of values for every XREADGROUP reply
//! (an allocation per entry, id, field name and value), walked it again
//! looking for errors, and sheepdog then moved the entries out of it:
//! half of sd-recv's time, a fifth of all the CPU of `sd-recv -- sd-store`
//! (bench/BENCHMARKS.md). Here the reply is read as it arrives, each
//! entry's id and the fields sheepdog knows going straight into an
//! [`Entry`], the rest skipped. It is a connection of its own, opened the
//! way redis-rs opens one (the same address, password, database and CA
//! file) and speaking RESP2, used only for XREAD and XREADGROUP; every
//! other command goes through redis-rs. Commands sheepdog writes itself
//! ([`write_command`], also the publisher's pipelined XADDs) and the
//! field names of an entry live here too.

use crate::log::Entry;
use redis::{ConnectionAddr, ConnectionInfo, RedisError};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

type Result<T> = std::result::Result<T, RedisError>;

/// The entry field that holds the event's JSON text.
pub const EVENT_FIELD: &str = "event";

/// Where the value of the entry field `name` goes, if sheepdog reads it.
pub fn slot<'e>(entry: &'e mut Entry, name: &[u8]) -> Option<&'e mut Option<String>> {
    match name {
        // An order's text stands where an event's does.
        n if n == EVENT_FIELD.as_bytes() || n == crate::log::orders::ORDER_FIELD.as_bytes() => {
            Some(&mut entry.text)
        }
        n if n == crate::event::signing::SIG_FIELD.as_bytes() => Some(&mut entry.sig),
        n if n == crate::log::orders::KEY_FIELD.as_bytes() => Some(&mut entry.key),
        _ => None,
    }
}

/// A connection used for reading streams. What the broker sends is not
/// trusted: an impersonated broker on a plain `redis://` path may say
/// anything, so every length, depth and wait it controls is bounded.
pub struct Wire {
    socket: BufReader<Deadlined>,
    /// The command being sent, reused.
    out: Vec<u8>,
    /// A header line being read, reused.
    line: Vec<u8>,
    /// The socket's timeouts now: set again only when they change, not
    /// at every read.
    timeout: Option<Duration>,
}

/// The socket, and when the reply under way must be complete: a read
/// timeout alone starts again at every byte, and a broker sending one
/// byte a second would hold the reader for ever.
struct Deadlined {
    socket: Socket,
    deadline: Option<Instant>,
}

/// A header line longer than this is no reply (Redis's longest are error
/// messages of a few hundred bytes).
const LONGEST_HEADER: u64 = 64 * 1024;
/// Arrays within arrays, at most: an XREAD reply is four deep.
const DEEPEST: usize = 16;
/// A bulk string is read this much at a time, so that what is allocated
/// follows what arrived, not what the header claimed.
const BULK_STEP: usize = 1 << 20;

enum Socket {
    Tcp(TcpStream),
    Unix(UnixStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Wire {
    /// Connects and logs in as `info` says (its password already set),
    /// trusting `ca_pem` over TLS when given, within `timeout`.
    pub fn connect(
        info: &ConnectionInfo,
        ca_pem: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<Wire> {
        let socket = match info.addr() {
            ConnectionAddr::Tcp(host, port) => Socket::Tcp(tcp(host, *port, timeout)?),
            ConnectionAddr::Unix(path) => Socket::Unix(UnixStream::connect(path)?),
            ConnectionAddr::TcpTls {
                host,
                port,
                insecure: false,
                ..
            } => Socket::Tls(Box::new(tls(host, *port, ca_pem, timeout)?)),
            _ => {
                return Err(protocol(
                    "TLS without verifying the broker is not supported",
                ));
            }
        };
        let mut wire = Wire {
            socket: BufReader::with_capacity(
                256 * 1024,
                Deadlined {
                    socket,
                    deadline: None,
                },
            ),
            out: Vec::new(),
            line: Vec::new(),
            timeout: None,
        };
        wire.set_timeout(timeout)?;
        // Logging in is one more reply the broker could trickle.
        wire.socket.get_mut().deadline = Some(Instant::now() + timeout);
        let settings = info.redis_settings();
        if let Some(password) = settings.password() {
            match settings.username() {
                Some(user) => wire.command(&["AUTH", user, password])?,
                None => wire.command(&["AUTH", password])?,
            }
            wire.skip_reply(0)?;
        }
        if settings.db() != 0 {
            wire.command(&["SELECT", &settings.db().to_string()])?;
            wire.skip_reply(0)?;
        }
        wire.socket.get_mut().deadline = None;
        Ok(wire)
    }

    /// How long a reply may take from now on.
    pub fn set_timeout(&mut self, limit: Duration) -> Result<()> {
        let limit = Some(limit.max(Duration::from_millis(1)));
        if self.timeout == limit {
            return Ok(());
        }
        match &self.socket.get_ref().socket {
            Socket::Tcp(s) => s.set_read_timeout(limit).and(s.set_write_timeout(limit))?,
            Socket::Unix(s) => s.set_read_timeout(limit).and(s.set_write_timeout(limit))?,
            Socket::Tls(s) => {
                let s = s.get_ref();
                s.set_read_timeout(limit).and(s.set_write_timeout(limit))?
            }
        }
        self.timeout = limit;
        Ok(())
    }

    /// Sends an XREAD or XREADGROUP and reads the entries of its reply,
    /// which must be all there within the timeout.
    pub fn read_entries(&mut self, args: &[&str]) -> Result<Vec<Entry>> {
        self.command(args)?;
        self.socket.get_mut().deadline = self.timeout.map(|limit| Instant::now() + limit);
        let entries = self.entries();
        self.socket.get_mut().deadline = None;
        entries
    }

    fn command(&mut self, args: &[&str]) -> Result<()> {
        self.out.clear();
        write_command(&mut self.out, args);
        let socket = &mut self.socket.get_mut().socket;
        socket.write_all(&self.out)?;
        socket.flush()?;
        Ok(())
    }

    /// Nil (nothing came), or per stream its name and its entries, each
    /// an id and its field/value pairs; the fields are nil for an entry
    /// deleted since it was delivered.
    fn entries(&mut self) -> Result<Vec<Entry>> {
        let Some(streams) = self.array()? else {
            return Ok(Vec::new());
        };
        let mut entries = Vec::new();
        for _ in 0..streams {
            if self.array()? != Some(2) {
                return Err(not_entries());
            }
            self.skip_reply(0)?;
            let count = self.array()?.ok_or_else(not_entries)?;
            // What the header claims is not reserved: entries come as
            // they are read.
            entries.reserve(count.min(1024));
            for _ in 0..count {
                entries.push(self.entry()?);
            }
        }
        Ok(entries)
    }

    fn entry(&mut self) -> Result<Entry> {
        if self.array()? != Some(2) {
            return Err(not_entries());
        }
        let id = self
            .bulk()?
            .and_then(|id| String::from_utf8(id).ok())
            .ok_or_else(not_entries)?;
        let mut entry = Entry::new(id, 1);
        let fields = self.array()?.unwrap_or(0);
        for _ in 0..fields / 2 {
            let name = self.bulk()?.unwrap_or_default();
            match slot(&mut entry, &name) {
                Some(slot) => *slot = self.bulk()?.and_then(|v| String::from_utf8(v).ok()),
                None => self.skip_reply(0)?,
            }
        }
        if fields % 2 == 1 {
            self.skip_reply(0)?;
        }
        Ok(entry)
    }

    /// The next reply's header line, without its `\r\n`; a server error
    /// becomes the error redis-rs would have made of it.
    fn header(&mut self) -> Result<(u8, &[u8])> {
        self.line.clear();
        (&mut self.socket)
            .take(LONGEST_HEADER)
            .read_until(b'\n', &mut self.line)?;
        if self.line.len() as u64 == LONGEST_HEADER && self.line.last() != Some(&b'\n') {
            return Err(protocol_error("a reply line longer than 64 KiB"));
        }
        if self.line.last() != Some(&b'\n') {
            return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
        }
        if self.line[0] == b'-' {
            return Err(match redis::parse_redis_value(&self.line) {
                Ok(error) => error.extract_error().err().unwrap_or_else(not_entries),
                Err(e) => e,
            });
        }
        let end = self.line.len() - if self.line.ends_with(b"\r\n") { 2 } else { 1 };
        Ok((self.line[0], &self.line[1..end]))
    }

    /// An array's length; None for nil.
    fn array(&mut self) -> Result<Option<usize>> {
        match self.header()? {
            (b'*', b"-1") | (b'_', _) => Ok(None),
            (b'*', n) => Ok(Some(number(n)?)),
            _ => Err(not_entries()),
        }
    }

    /// A bulk (or simple) string's bytes; None for nil or anything else,
    /// which is skipped.
    fn bulk(&mut self) -> Result<Option<Vec<u8>>> {
        let (kind, rest) = self.header()?;
        match (kind, rest) {
            (b'$', b"-1") => Ok(None),
            (b'$', n) => {
                let n = number(n)? + 2;
                // Read exactly, with the `\r\n` after it (reading to the
                // end of a `take` asked the socket once more each time),
                // a step at a time: memory follows what arrived.
                let mut bytes = Vec::with_capacity(n.min(BULK_STEP));
                while bytes.len() < n {
                    let at = bytes.len();
                    bytes.resize(n.min(at + BULK_STEP), 0);
                    self.socket.read_exact(&mut bytes[at..])?;
                }
                bytes.truncate(n - 2);
                Ok(Some(bytes))
            }
            (b'+', text) => Ok(Some(text.to_vec())),
            (b'*', n) if n != b"-1" => {
                for _ in 0..number(n)? {
                    self.skip_reply(1)?;
                }
                Ok(None)
            }
            _ => Ok(None),
        }
    }

    /// Reads one reply of any kind and forgets it; `depth` arrays are
    /// around it.
    fn skip_reply(&mut self, depth: usize) -> Result<()> {
        if depth > DEEPEST {
            return Err(protocol_error("arrays nested deeper than any reply"));
        }
        let (kind, rest) = self.header()?;
        match (kind, rest) {
            (b'$', n) if n != b"-1" => {
                let n = number(n)? as u64 + 2;
                let skipped = io::copy(&mut (&mut self.socket).take(n), &mut io::sink())?;
                if skipped != n {
                    return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
                }
            }
            (b'*', n) if n != b"-1" => {
                for _ in 0..number(n)? {
                    self.skip_reply(depth + 1)?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

impl Read for Deadlined {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the broker's reply did not arrive in time",
            ));
        }
        match self.socket.read(buf) {
            // A stop signal cuts a read short (sockets with a timeout are
            // not restarted); `read_exact` would simply read again.
            Err(e) if e.kind() == io::ErrorKind::Interrupted && crate::base::cli::stopping() => {
                Err(io::Error::other(
                    "stopped while the broker's reply was arriving",
                ))
            }
            other => other,
        }
    }
}

impl Read for Socket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Socket::Tcp(s) => s.read(buf),
            Socket::Unix(s) => s.read(buf),
            Socket::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Socket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Socket::Tcp(s) => s.write(buf),
            Socket::Unix(s) => s.write(buf),
            Socket::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Socket::Tcp(s) => s.flush(),
            Socket::Unix(s) => s.flush(),
            Socket::Tls(s) => s.flush(),
        }
    }
}

fn tcp(host: &str, port: u16, timeout: Duration) -> Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, format!("no address for {host}"));
    for addr in (host, port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(stream) => {
                stream.set_nodelay(true)?;
                return Ok(stream);
            }
            Err(e) => last = e,
        }
    }
    Err(last.into())
}

/// TLS as redis-rs makes it: the CA file's certificates when given, else
/// the system's, and the host name checked.
fn tls(
    host: &str,
    port: u16,
    ca_pem: Option<&[u8]>,
    timeout: Duration,
) -> Result<rustls::StreamOwned<rustls::ClientConnection, TcpStream>> {
    use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};
    let mut roots = rustls::RootCertStore::empty();
    match ca_pem {
        Some(pem) => {
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| protocol(&format!("the CA file: {e}")))?;
                roots
                    .add(cert)
                    .map_err(|e| protocol(&format!("the CA file: {e}")))?;
            }
        }
        None => {
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
        }
    }
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from(host.to_string())
        .map_err(|e| protocol(&format!("the host name {host}: {e}")))?;
    let session = rustls::ClientConnection::new(Arc::new(config), name)
        .map_err(|e| protocol(&format!("TLS: {e}")))?;
    let mut stream = rustls::StreamOwned::new(session, tcp(host, port, timeout)?);
    stream.get_ref().set_read_timeout(Some(timeout))?;
    stream.get_ref().set_write_timeout(Some(timeout))?;
    // The handshake now, so that a certificate refused is said here.
    while stream.conn.is_handshaking() {
        stream
            .conn
            .complete_io(&mut stream.sock)
            .map_err(RedisError::from)?;
    }
    Ok(stream)
}

/// The most a Redis string can hold (`proto-max-bulk-len`'s default): a
/// length past it is not a reply, and is not allocated.
const MOST_BYTES: usize = 512 << 20;

/// A length or a count in a header.
fn number(digits: &[u8]) -> Result<usize> {
    std::str::from_utf8(digits)
        .ok()
        .and_then(|d| d.parse().ok())
        .filter(|&n| n <= MOST_BYTES)
        .ok_or_else(not_entries)
}

/// A reply that breaks the protocol.
fn protocol_error(what: &str) -> RedisError {
    RedisError::from((
        redis::ErrorKind::Parse,
        "the broker does not speak the Redis protocol",
        what.to_string(),
    ))
}

fn protocol(what: &str) -> RedisError {
    RedisError::from((
        redis::ErrorKind::InvalidClientConfig,
        "cannot open the reading connection",
        what.to_string(),
    ))
}

fn not_entries() -> RedisError {
    RedisError::from((
        redis::ErrorKind::Parse,
        "an XREAD reply that is not a list of stream entries",
    ))
}

/// Appends a command in the Redis protocol (RESP): an array of bulk
/// strings.
pub fn write_command(out: &mut Vec<u8>, args: &[&str]) {
    write_header(out, b'*', args.len());
    for arg in args {
        write_header(out, b'$', arg.len());
        out.extend_from_slice(arg.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}

/// `*N\r\n` or `$N\r\n` (formatting machinery was a tenth of publishing).
pub fn write_header(out: &mut Vec<u8>, kind: u8, n: usize) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = n;
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.push(kind);
    out.extend_from_slice(&digits[at..]);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A wire whose broker is the other end of a socket pair, which has
    /// said `reply` (and hung up, if `hung_up`).
    fn answered(reply: &[u8], hung_up: bool) -> Wire {
        let (ours, mut theirs) = UnixStream::pair().unwrap();
        // From a thread: a long reply fills the socket's buffer.
        let reply = reply.to_vec();
        std::thread::spawn(move || {
            let _ = theirs.write_all(&reply);
            if !hung_up {
                std::mem::forget(theirs);
            }
        });
        over(ours)
    }

    /// A wire over our end of a socket pair.
    fn over(ours: UnixStream) -> Wire {
        Wire {
            socket: BufReader::new(Deadlined {
                socket: Socket::Unix(ours),
                deadline: None,
            }),
            out: Vec::new(),
            line: Vec::new(),
            timeout: None,
        }
    }

    #[test]
    fn entries_are_read_from_replies_with_other_fields_and_deleted_entries() {
        assert!(answered(b"*-1\r\n", false).entries().unwrap().is_empty());
        let reply: &[u8] = concat!(
            "*1\r\n*2\r\n$1\r\ns\r\n*4\r\n",
            "*2\r\n$3\r\n1-0\r\n*4\r\n$5\r\nevent\r\n$2\r\n{}\r\n$3\r\nsig\r\n$3\r\nabc\r\n",
            // A field sheepdog does not know, before the event, with a
            // line break in its value.
            "*2\r\n$3\r\n1-1\r\n*4\r\n$5\r\nother\r\n$3\r\nx\r\n\r\n$5\r\nevent\r\n$7\r\n{\"a\":1}\r\n",
            // Deleted since it was delivered.
            "*2\r\n$3\r\n1-2\r\n*-1\r\n",
            // Not text: one byte that is not UTF-8.
            "*2\r\n$3\r\n1-3\r\n*2\r\n$5\r\nevent\r\n$1\r\n",
        )
        .as_bytes();
        let mut bytes = reply.to_vec();
        bytes.extend_from_slice(b"\xff\r\n");
        let entries = answered(&bytes, false).entries().unwrap();
        let summary: Vec<(&str, Option<&str>, Option<&str>)> = entries
            .iter()
            .map(|e| (e.id.as_str(), e.text.as_deref(), e.sig.as_deref()))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("1-0", Some("{}"), Some("abc")),
                ("1-1", Some("{\"a\":1}"), None),
                ("1-2", None, None),
                ("1-3", None, None),
            ]
        );
    }

    #[test]
    fn errors_are_the_brokers_and_a_reply_cut_short_is_an_error() {
        let err = answered(b"-NOGROUP No such key 's' or consumer group 'g'\r\n", false)
            .entries()
            .unwrap_err();
        assert_eq!(err.code(), Some("NOGROUP"));
        assert!(answered(b":3\r\n", false).entries().is_err());
        // A length no Redis sends is refused, not allocated.
        let huge = b"*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$99999999999\r\n";
        assert!(answered(huge, false).entries().is_err());
        let cut = b"*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$5\r\nevent\r\n$9\r\n{}";
        assert!(answered(cut, true).entries().is_err());
    }

    /// What a hostile or impersonated broker sent the first reader.
    #[test]
    fn a_hostile_broker_is_an_error_not_a_crash_a_hang_or_a_heap() {
        // 30 bytes that claimed 512 Mi entries: reserved, they aborted.
        let claim = b"*1\r\n*2\r\n$1\r\ns\r\n*536870912\r\n";
        assert!(answered(claim, true).entries().is_err());
        // A bulk string claimed at 512 MiB, 10 bytes sent.
        let bulk = b"*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$5\r\nevent\r\n$536870910\r\n0123456789";
        assert!(answered(bulk, true).entries().is_err());
        // 200,000 arrays in one another overflowed the stack.
        let mut nested =
            b"*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$5\r\nother\r\n".to_vec();
        nested.extend(b"*1\r\n".repeat(200_000));
        let err = answered(&nested, true).entries().unwrap_err();
        assert!(err.to_string().contains("nested"), "{err}");
        // A header that never ends grew without bound.
        let mut endless =
            b"*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$5\r\nother\r\n+".to_vec();
        endless.extend(vec![b'a'; 1 << 20]);
        let err = answered(&endless, true).entries().unwrap_err();
        assert!(err.to_string().contains("64 KiB"), "{err}");
    }

    #[test]
    fn a_reply_that_trickles_in_ends_at_the_deadline() {
        let (ours, mut theirs) = UnixStream::pair().unwrap();
        let mut wire = over(ours);
        wire.set_timeout(Duration::from_millis(300)).unwrap();
        // A whole, valid reply, one byte every 50 ms (about 4 s): read
        // to its end, it was an answer; now the deadline ends it.
        let reply =
            b"*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$5\r\nevent\r\n$2\r\n{}\r\n";
        let trickler = std::thread::spawn(move || {
            for byte in reply {
                if theirs.write_all(&[*byte]).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            std::thread::sleep(Duration::from_secs(1));
        });
        let err = wire.read_entries(&["XREAD"]).unwrap_err();
        assert!(err.to_string().contains("did not arrive in time"), "{err}");
        drop(wire);
        trickler.join().unwrap();
    }
}
