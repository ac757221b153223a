//! A load of pings for sd-gate: CLIENTS threads, each on one kept-alive
//! connection (a new one when the gate closes it), sending
//! `GET /ping/UUID` until PINGS pings were answered OK in all. Prints
//! the pings answered, the time, and pings a second. With GATE_CLOSE set,
//! each ping on a connection of its own (`Connection: close`), as curl
//! from a crontab does.
//!
//! cargo run --release --example gate-load ADDR UUID PINGS CLIENTS

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, addr, uuid, pings, clients] = &args[..] else {
        eprintln!("usage: gate-load ADDR UUID PINGS CLIENTS");
        std::process::exit(2);
    };
    let total: usize = pings.parse().expect("PINGS");
    let clients: usize = clients.parse().expect("CLIENTS");
    let close = if std::env::var_os("GATE_CLOSE").is_some() {
        "Connection: close\r\n"
    } else {
        ""
    };
    let request = format!("GET /ping/{uuid} HTTP/1.1\r\nHost: {addr}\r\n{close}\r\n");
    let left = Arc::new(AtomicUsize::new(total));
    let refused = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let (left, refused, addr, request) =
                (left.clone(), refused.clone(), addr.clone(), request.clone());
            std::thread::spawn(move || {
                let mut conn: Option<BufReader<TcpStream>> = None;
                loop {
                    if left
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                        .is_err()
                    {
                        return;
                    }
                    loop {
                        let reader = conn.get_or_insert_with(|| {
                            BufReader::new(TcpStream::connect(&addr).expect("connecting"))
                        });
                        match ping(reader, &request) {
                            Some((200, keep)) => {
                                if !keep {
                                    conn = None;
                                }
                                break;
                            }
                            Some((_, keep)) => {
                                refused.fetch_add(1, Ordering::SeqCst);
                                if !keep {
                                    conn = None;
                                }
                            }
                            None => conn = None,
                        }
                    }
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{total} pings in {seconds:.3} s: {:.0} pings/s ({} refused and sent again)",
        total as f64 / seconds,
        refused.load(Ordering::SeqCst)
    );
}

/// One request and its answer: the status and whether the connection
/// stays open.
fn ping(reader: &mut BufReader<TcpStream>, request: &str) -> Option<(u16, bool)> {
    reader.get_mut().write_all(request.as_bytes()).ok()?;
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let status: u16 = line.split(' ').nth(1)?.parse().ok()?;
    let (mut length, mut keep) = (0usize, true);
    loop {
        line.clear();
        reader.read_line(&mut line).ok()?;
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        let lower = header.to_ascii_lowercase();
        if let Some(value) = lower.strip_prefix("content-length:") {
            length = value.trim().parse().ok()?;
        } else if lower.starts_with("connection:") && lower.contains("close") {
            keep = false;
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).ok()?;
    Some((status, keep))
}
