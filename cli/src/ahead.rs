//! The parts of reading files ahead of the scan, on threads of their own (`recon scan
//! --read-ahead`; the threads themselves are in `crate::scan`).
//!
//! The engine scans one object at a time, in the order the walk gives; most of an object's
//! cost is reading, inflating and (for CloudTrail) cutting it into records. Reader `r` of `n`
//! prepares files `r`, `r + n`, `r + 2n`, … and hands each over on its own channel, so the
//! scan takes them in order. What waits for the scan in memory is counted against the
//! reader's [`Budget`] by [`Ticket`]s. An object that is streamed rather than held (too large,
//! several gzip members, damaged) and is not CloudTrail is inflated by its reader into
//! [`CHUNK`]-byte pieces that the scan reads through a bounded channel ([`Chunks`]); its read
//! errors arrive where they happened, after the bytes before them.

use std::io::{self, BufRead, Read};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::sync::{Condvar, Mutex};

use recon_core::input::Content;

/// Bytes in one piece of a streamed object.
pub const CHUNK: usize = 256 * 1024;

/// Pieces that may wait between a reader and the scan (besides the one each is working on).
const QUEUED: usize = 2;

/// Most reading threads.
pub const MOST_READERS: u8 = 8;

/// Bytes one reader may have handed over that the scan has not taken up yet (besides one item
/// of any size, so that a large one still goes through).
pub const BUDGET_BYTES: usize = 16 << 20;

/// What one reader has handed over and the scan has not yet taken up, in bytes: the reader
/// waits before going over [`BUDGET_BYTES`]. Counted by [`Ticket`]s.
#[derive(Default)]
pub struct Budget {
    used: Mutex<usize>,
    freed: Condvar,
}

/// Bytes counted against a [`Budget`] while what they stand for waits for the scan: given back
/// when the ticket is dropped, however that happens (used, or dropped unused).
pub struct Ticket<'b> {
    budget: &'b Budget,
    bytes: usize,
}

impl Budget {
    /// Waits until `bytes` more fit, or nothing is outstanding, and counts them.
    pub fn take(&self, bytes: usize) -> Ticket<'_> {
        let Ok(mut used) = self.used.lock() else {
            // A thread panicked holding the lock; the scope raises that panic.
            return Ticket {
                budget: self,
                bytes: 0,
            };
        };
        while *used > 0 && *used + bytes > BUDGET_BYTES {
            used = match self.freed.wait(used) {
                Ok(used) => used,
                Err(_) => {
                    return Ticket {
                        budget: self,
                        bytes: 0,
                    }
                }
            };
        }
        *used += bytes;
        Ticket {
            budget: self,
            bytes,
        }
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if let Ok(mut used) = self.budget.used.lock() {
            *used -= self.bytes;
        }
        self.budget.freed.notify_all();
    }
}

/// Content that can be handed to the scan now, and the inflating left for the reader to do
/// (for a streamed object: run [`Pump::run`] after handing the content over).
pub fn hand_over(content: Content) -> (Content, Option<Pump>) {
    match content {
        Content::Bytes(bytes) => (Content::Bytes(bytes), None),
        Content::Stream(source) => {
            let (pieces, received) = mpsc::sync_channel(QUEUED);
            let (returned, spare) = mpsc::sync_channel(QUEUED + 2);
            let chunks = Chunks {
                received,
                returned,
                piece: Vec::new(),
                pos: 0,
                end: 0,
                done: false,
            };
            let pump = Pump {
                source,
                pieces,
                spare,
            };
            (Content::Stream(Box::new(chunks)), Some(pump))
        }
    }
}

/// A piece of a stream (its buffer and how much of it is filled), or the error that ended it.
type Piece = io::Result<(Vec<u8>, usize)>;

/// The reader's side of a streamed object: reads the source and sends it on in pieces.
pub struct Pump {
    source: Box<dyn BufRead + Send>,
    pieces: SyncSender<Piece>,
    /// Buffers the scan has finished with, to fill again.
    spare: Receiver<Vec<u8>>,
}

impl Pump {
    /// Sends the whole source, then returns; stops early when the source fails (the error is
    /// sent after the bytes before it) or when the scan drops the stream.
    pub fn run(mut self) {
        loop {
            let mut buf = match self.spare.try_recv() {
                Ok(buf) => buf,
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => vec![0; CHUNK],
            };
            let (filled, failure) = fill(&mut self.source, &mut buf);
            if filled > 0 && self.pieces.send(Ok((buf, filled))).is_err() {
                return;
            }
            match failure {
                Some(e) => {
                    // The scan may be gone already: nothing is left to tell.
                    let _ = self.pieces.send(Err(e));
                    return;
                }
                None if filled < CHUNK => return,
                None => {}
            }
        }
    }
}

/// Reads from `source` until `buf` is full or the source ends or fails: how much was read,
/// and the failure if there was one.
fn fill(source: &mut dyn Read, buf: &mut [u8]) -> (usize, Option<io::Error>) {
    let mut filled = 0;
    while filled < buf.len() {
        match source.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return (filled, Some(e)),
        }
    }
    (filled, None)
}

/// The scan's side of a streamed object: the pieces a [`Pump`] sends, read as one stream.
pub struct Chunks {
    received: Receiver<Piece>,
    returned: SyncSender<Vec<u8>>,
    piece: Vec<u8>,
    pos: usize,
    end: usize,
    /// The stream ended or failed: what comes after reads as its end.
    done: bool,
}

impl BufRead for Chunks {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.pos == self.end && !self.done {
            match self.received.recv() {
                Ok(Ok((next, end))) => {
                    let used = std::mem::replace(&mut self.piece, next);
                    (self.pos, self.end) = (0, end);
                    if !used.is_empty() {
                        // A full queue of spares, or a finished reader: the buffer is dropped.
                        let _ = self.returned.try_send(used);
                    }
                }
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Err(mpsc::RecvError) => self.done = true,
            }
        }
        Ok(&self.piece[self.pos..self.end])
    }

    fn consume(&mut self, amount: usize) {
        self.pos = (self.pos + amount).min(self.end);
    }
}

impl Read for Chunks {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A source that yields `data` in pieces of the given sizes (cycled), then `failure`.
    struct Uneven {
        data: Vec<u8>,
        pos: usize,
        sizes: Vec<usize>,
        turn: usize,
        failure: Option<io::ErrorKind>,
    }

    impl Read for Uneven {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            if self.pos == self.data.len() {
                return match self.failure.take() {
                    Some(kind) => Err(io::Error::new(kind, "broken at the end")),
                    None => Ok(0),
                };
            }
            let size = self.sizes[self.turn % self.sizes.len()];
            self.turn += 1;
            if size == 0 {
                return Err(io::Error::new(io::ErrorKind::Interrupted, "again"));
            }
            let n = size.min(out.len()).min(self.data.len() - self.pos);
            out[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }

    fn source(len: usize, sizes: &[usize], failure: Option<io::ErrorKind>) -> Content {
        let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
        let uneven = Uneven {
            data,
            pos: 0,
            sizes: sizes.to_vec(),
            turn: 0,
            failure,
        };
        Content::Stream(Box::new(io::BufReader::with_capacity(1000, uneven)))
    }

    fn expected(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 % 251) as u8).collect()
    }

    /// Everything the stream gives through `read`, and the error that ended it.
    fn drain(mut content: Content) -> (Vec<u8>, Option<String>) {
        let Content::Stream(stream) = &mut content else {
            panic!("not a stream");
        };
        let mut out = Vec::new();
        let mut buf = vec![0u8; 77_777];
        loop {
            match stream.read(&mut buf) {
                Ok(0) => return (out, None),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) => {
                    assert_eq!(stream.read(&mut buf).ok(), Some(0), "ends after its error");
                    return (out, Some(e.to_string()));
                }
            }
        }
    }

    fn through_a_reader(content: Content) -> (Vec<u8>, Option<String>) {
        let (handed, pump) = hand_over(content);
        std::thread::scope(|s| {
            if let Some(pump) = pump {
                s.spawn(move || pump.run());
            }
            drain(handed)
        })
    }

    #[test]
    fn a_stream_arrives_whole_and_in_order() {
        // Lengths around the piece size, read by the source in uneven and interrupted steps.
        for len in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 12_345] {
            let (bytes, failure) = through_a_reader(source(len, &[4096, 0, 333, 65_536], None));
            assert_eq!(failure, None, "len {len}");
            assert!(bytes == expected(len), "len {len}: {} bytes", bytes.len());
        }
    }

    #[test]
    fn a_read_error_arrives_after_the_bytes_before_it() {
        let len = 2 * CHUNK + 999;
        let (bytes, failure) =
            through_a_reader(source(len, &[10_000], Some(io::ErrorKind::InvalidData)));
        assert_eq!(failure.as_deref(), Some("broken at the end"));
        assert!(bytes == expected(len), "{} bytes", bytes.len());
    }

    #[test]
    fn buf_read_serves_what_read_would() {
        let len = CHUNK + 5000;
        let (mut handed, pump) = hand_over(source(len, &[70_000], None));
        let lines = std::thread::scope(|s| {
            if let Some(pump) = pump {
                s.spawn(move || pump.run());
            }
            let Content::Stream(stream) = &mut handed else {
                panic!("not a stream");
            };
            let mut out = Vec::new();
            loop {
                let mut piece = Vec::new();
                let n = stream.read_until(200, &mut piece).unwrap_or(0);
                if n == 0 {
                    return out;
                }
                out.push(piece);
            }
        });
        assert!(lines.len() > 1000);
        assert!(lines.concat() == expected(len));
    }

    #[test]
    fn the_reader_stops_when_the_scan_drops_the_stream() {
        // Far more than the queue holds: a reader that did not stop would wait for ever.
        let (mut handed, pump) = hand_over(source(64 * CHUNK, &[CHUNK], None));
        let (finished, stopped) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            if let Some(pump) = pump {
                pump.run();
            }
            let _ = finished.send(());
        });
        let Content::Stream(stream) = &mut handed else {
            panic!("not a stream");
        };
        let mut some = [0u8; 10];
        assert_eq!(stream.read(&mut some).ok(), Some(10));
        assert!(
            stopped
                .recv_timeout(std::time::Duration::from_millis(200))
                .is_err(),
            "the reader waits while the scan holds the stream"
        );
        drop(handed);
        let waited = stopped.recv_timeout(std::time::Duration::from_secs(30));
        assert!(waited.is_ok(), "the reader did not stop");
        assert!(reader.join().is_ok());
    }

    #[test]
    fn a_budget_holds_a_reader_back_until_tickets_come_back() {
        let budget = Budget::default();
        // One item larger than the whole budget still goes through when nothing is out.
        let large = budget.take(BUDGET_BYTES * 2);
        drop(large);
        let first = budget.take(BUDGET_BYTES / 2);
        let second = budget.take(BUDGET_BYTES / 2);
        let (taken, waited) = mpsc::channel();
        std::thread::scope(|s| {
            let budget = &budget;
            s.spawn(move || {
                let third = budget.take(1);
                let _ = taken.send(third.bytes);
            });
            let wait = std::time::Duration::from_millis(200);
            assert!(waited.recv_timeout(wait).is_err(), "over the budget: waits");
            drop(first);
            let got = waited.recv_timeout(std::time::Duration::from_secs(30));
            assert_eq!(got.ok(), Some(1), "goes on once a ticket comes back");
        });
        drop(second);
        assert_eq!(
            budget.used.lock().map(|u| *u).ok(),
            Some(0),
            "all given back"
        );
    }

    #[test]
    fn bytes_are_handed_over_as_they_are() {
        let (handed, pump) = hand_over(Content::Bytes(vec![1, 2, 3]));
        assert!(pump.is_none());
        assert!(matches!(handed, Content::Bytes(b) if b == [1, 2, 3]));
    }
}
