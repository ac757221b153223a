//! Bounded capture of a job's output: the first and the last bytes of a
//! stream are kept, the middle is counted and dropped, so sd-run's memory
//! stays the same whether a job prints a line or a terabyte.

/// Head and tail of one stream, at most `limit` bytes together.
pub struct Capture {
    head: Vec<u8>,
    head_limit: usize,
    /// A ring of the most recent bytes; `tail_start` is its oldest byte
    /// once it has filled.
    tail: Vec<u8>,
    tail_limit: usize,
    tail_start: usize,
    total: u64,
}

impl Capture {
    pub fn new(limit: usize) -> Self {
        let head_limit = limit / 2;
        let tail_limit = limit - head_limit;
        Capture {
            head: Vec::new(),
            head_limit,
            tail: Vec::new(),
            tail_limit,
            tail_start: 0,
            total: 0,
        }
    }

    pub fn push(&mut self, mut bytes: &[u8]) {
        self.total += bytes.len() as u64;
        let room = self.head_limit - self.head.len();
        if room > 0 {
            let take = room.min(bytes.len());
            self.head.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
        }
        if self.tail_limit == 0 || bytes.is_empty() {
            return;
        }
        if bytes.len() >= self.tail_limit {
            self.tail.clear();
            self.tail
                .extend_from_slice(&bytes[bytes.len() - self.tail_limit..]);
            self.tail_start = 0;
            return;
        }
        for &byte in bytes {
            if self.tail.len() < self.tail_limit {
                self.tail.push(byte);
            } else {
                self.tail[self.tail_start] = byte;
                self.tail_start = (self.tail_start + 1) % self.tail_limit;
            }
        }
    }

    /// Bytes seen but not kept.
    pub fn dropped(&self) -> u64 {
        self.total - (self.head.len() + self.tail.len()) as u64
    }

    /// The kept text: head, a marker where bytes were dropped, tail.
    /// Bytes that are not UTF-8 become U+FFFD.
    pub fn into_text(self) -> String {
        let dropped = self.dropped();
        let mut bytes = self.head;
        if dropped > 0 {
            bytes.extend_from_slice(
                format!("\n[... sd-run dropped {dropped} bytes here ...]\n").as_bytes(),
            );
        }
        bytes.extend_from_slice(&self.tail[self.tail_start..]);
        bytes.extend_from_slice(&self.tail[..self.tail_start]);
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_output_is_kept_whole() {
        let mut c = Capture::new(16);
        c.push(b"hello\n");
        assert_eq!(c.dropped(), 0);
        assert_eq!(c.into_text(), "hello\n");
    }

    #[test]
    fn long_output_keeps_head_and_tail() {
        let mut c = Capture::new(8);
        for chunk in [&b"0123"[..], b"45", b"6789abc", b"def"] {
            c.push(chunk);
        }
        assert_eq!(c.dropped(), 8);
        assert_eq!(
            c.into_text(),
            "0123\n[... sd-run dropped 8 bytes here ...]\ncdef"
        );
    }

    #[test]
    fn byte_by_byte_is_the_same_as_at_once() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
        let mut a = Capture::new(100);
        a.push(&data);
        let mut b = Capture::new(100);
        for byte in &data {
            b.push(std::slice::from_ref(byte));
        }
        assert_eq!(a.into_text(), b.into_text());
    }

    #[test]
    fn zero_limit_keeps_only_the_count() {
        let mut c = Capture::new(0);
        c.push(b"abc");
        assert_eq!(c.into_text(), "\n[... sd-run dropped 3 bytes here ...]\n");
    }
}
