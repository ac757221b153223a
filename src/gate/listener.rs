//! Connections in, answers out: one thread accepts, a fixed pool of
//! workers serves (so a thousand slow clients hold a thousand sockets at
//! most until they are answered 503, never a thousand threads), and one
//! address may hold only so many connections at once. A connection is
//! kept alive while nobody waits for a worker. TLS, when configured, is
//! rustls on the worker's thread: a slow handshake holds one worker, not
//! the accepting thread.

use super::http::{self, Connection, Limits, Refused, Request, Response};
use crate::base::cli;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use std::collections::HashMap;
use std::io::Write;
use std::net::{IpAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};

/// Requests one kept-alive connection may make before it is closed.
const REQUESTS_PER_CONNECTION: usize = 1000;

pub type Handler = dyn Fn(&Request, IpAddr) -> Response + Send + Sync;

pub struct Pool {
    pub workers: usize,
    pub per_address: usize,
    pub limits: Limits,
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

/// Connections per address, counted down when each one closes.
#[derive(Default)]
struct Open(Mutex<HashMap<IpAddr, usize>>);

struct Slot {
    open: Arc<Open>,
    address: IpAddr,
}

impl Open {
    fn take(self: &Arc<Open>, address: IpAddr, at_most: usize) -> Option<Slot> {
        let mut open = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(address).or_insert(0);
        if *count >= at_most {
            return None;
        }
        *count += 1;
        Some(Slot {
            open: self.clone(),
            address,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.open.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.address) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.address);
            }
        }
    }
}

/// Serves until `stop` is set, then lets the workers finish what they
/// hold.
pub fn serve(listener: TcpListener, pool: Pool, handler: Arc<Handler>, stop: &AtomicBool) {
    let pool = Arc::new(pool);
    let open = Arc::new(Open::default());
    let waiting = Arc::new(AtomicUsize::new(0));
    let (queue, taken) = mpsc::sync_channel::<(TcpStream, Slot)>(pool.workers);
    let taken = Arc::new(Mutex::new(taken));
    let workers: Vec<_> = (0..pool.workers)
        .map(|_| {
            let (taken, pool, handler, waiting) = (
                taken.clone(),
                pool.clone(),
                handler.clone(),
                waiting.clone(),
            );
            std::thread::spawn(move || work(&taken, &pool, &*handler, &waiting))
        })
        .collect();
    while !stop.load(Ordering::SeqCst) {
        let mut fds = [PollFd::new(listener.as_fd(), PollFlags::POLLIN)];
        if !matches!(poll(&mut fds, PollTimeout::from(200u16)), Ok(n) if n > 0) {
            continue;
        }
        let Ok((stream, peer)) = listener.accept() else {
            continue;
        };
        let address = canonical(peer.ip());
        let Some(slot) = open.take(address, pool.per_address) else {
            refuse(stream, "too many connections from your address");
            continue;
        };
        waiting.fetch_add(1, Ordering::SeqCst);
        match queue.try_send((stream, slot)) {
            Ok(()) => {}
            Err(TrySendError::Full((stream, _)) | TrySendError::Disconnected((stream, _))) => {
                waiting.fetch_sub(1, Ordering::SeqCst);
                refuse(stream, "every worker is busy; try again");
            }
        }
    }
    drop(queue);
    for worker in workers {
        let _ = worker.join();
    }
}

/// An IPv4 client seen through an IPv6 socket is the IPv4 address.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    }
}

/// A 503 written without waiting on the client.
fn refuse(mut stream: TcpStream, why: &str) {
    let _ = stream.set_nonblocking(true);
    let body = format!("{why}\n");
    let _ = write!(
        stream,
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

fn work(
    taken: &Mutex<Receiver<(TcpStream, Slot)>>,
    pool: &Pool,
    handler: &Handler,
    waiting: &AtomicUsize,
) {
    loop {
        let next = taken.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let Ok((stream, slot)) = next else {
            return;
        };
        waiting.fetch_sub(1, Ordering::SeqCst);
        let _ = stream.set_write_timeout(Some(pool.limits.request_time));
        let _ = stream.set_nodelay(true);
        match &pool.tls {
            None => {
                let mut stream = stream;
                converse(&mut stream, slot.address, pool, handler, waiting);
            }
            Some(config) => match rustls::ServerConnection::new(config.clone()) {
                Ok(tls) => {
                    let mut stream = rustls::StreamOwned::new(tls, stream);
                    converse(&mut stream, slot.address, pool, handler, waiting);
                }
                Err(err) => cli::warn(format!("TLS: {err}")),
            },
        }
        drop(slot);
    }
}

/// Requests on one connection, answered in turn.
fn converse(
    conn: &mut dyn Connection,
    address: IpAddr,
    pool: &Pool,
    handler: &Handler,
    waiting: &AtomicUsize,
) {
    let mut pending = Vec::new();
    for served in 1..=REQUESTS_PER_CONNECTION {
        let request = match http::read_request(conn, &mut pending, &pool.limits) {
            Ok(request) => request,
            Err(Refused::Gone) => return,
            Err(Refused::Answer(response)) => {
                let _ = http::write_response(conn, &response, false, false);
                return;
            }
        };
        let response = handler(&request, address);
        let keep_alive = request.keep_alive
            && served < REQUESTS_PER_CONNECTION
            && waiting.load(Ordering::SeqCst) == 0;
        if http::write_response(conn, &response, request.is_head(), keep_alive).is_err()
            || !keep_alive
        {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_holds_so_many_connections_and_gets_them_back() {
        let open = Arc::new(Open::default());
        let here: IpAddr = "127.0.0.1".parse().unwrap();
        let a = open.take(here, 2).unwrap();
        let _b = open.take(here, 2).unwrap();
        assert!(open.take(here, 2).is_none());
        assert!(open.take("127.0.0.2".parse().unwrap(), 2).is_some());
        drop(a);
        assert!(open.take(here, 2).is_some());
    }

    #[test]
    fn a_mapped_ipv4_address_counts_as_itself() {
        assert_eq!(
            canonical("::ffff:10.0.0.1".parse().unwrap()),
            "10.0.0.1".parse::<IpAddr>().unwrap()
        );
    }
}
