//! Streaming gzip decoding that loses nothing it decoded before damage.
//!
//! `flate2`'s gzip readers return an error from the `read` call that meets damaged data, and the
//! bytes that call had already decoded into the caller's buffer are not reported: a reader with
//! a 256 KiB buffer lost up to that much good text before the damage, and an object damaged in
//! its first piece could not be opened at all. [`GzStream`] drives zlib's own gzip mode (header,
//! CRC-32 and size checks included) through [`flate2::Decompress`], which counts its output even
//! when it fails: a `read` that meets damage returns what it decoded, and the next one the error.
//! Objects of several gzip members are read member after member, as `MultiGzDecoder` reads them.

use std::io::{self, BufRead, Read};

use flate2::{Decompress, FlushDecompress, Status};

/// The largest window gzip allows (2^15 bytes), which zlib's gzip mode needs.
const WINDOW_BITS: u8 = 15;

/// A gzip stream (one member or several) decoded from `R`.
pub(crate) struct GzStream<R> {
    inner: R,
    z: Decompress,
    /// A member ended: the next bytes start another member, or the stream ends.
    between: bool,
    /// An error met after the bytes last returned, for the next call.
    pending: Option<io::Error>,
    /// Nothing more to read (the end, or an error already returned).
    done: bool,
}

impl<R: BufRead> GzStream<R> {
    /// Decodes the gzip stream that `inner` holds.
    pub(crate) fn new(inner: R) -> Self {
        GzStream {
            inner,
            z: Decompress::new_gzip(WINDOW_BITS),
            between: false,
            pending: None,
            done: false,
        }
    }

    /// Fails the stream: the error now if nothing was decoded by this call, else after it.
    fn fail(&mut self, written: usize, error: io::Error) -> io::Result<usize> {
        if written > 0 {
            self.pending = Some(error);
            return Ok(written);
        }
        self.done = true;
        Err(error)
    }
}

impl<R: BufRead> Read for GzStream<R> {
    fn read(&mut self, dst: &mut [u8]) -> io::Result<usize> {
        if let Some(error) = self.pending.take() {
            self.done = true;
            return Err(error);
        }
        if self.done || dst.is_empty() {
            return Ok(0);
        }
        loop {
            let input = self.inner.fill_buf()?;
            if self.between {
                if input.is_empty() {
                    self.done = true;
                    return Ok(0);
                }
                // Another member follows; zlib's header check tells whether it is one.
                self.z = Decompress::new_gzip(WINDOW_BITS);
                self.between = false;
            }
            let eof = input.is_empty();
            let (in_before, out_before) = (self.z.total_in(), self.z.total_out());
            let result = self.z.decompress(input, dst, FlushDecompress::None);
            let consumed = usize::try_from(self.z.total_in() - in_before).unwrap_or(usize::MAX);
            let written = usize::try_from(self.z.total_out() - out_before).unwrap_or(usize::MAX);
            self.inner.consume(consumed);
            match result {
                Ok(Status::StreamEnd) => {
                    self.between = true;
                    if written > 0 {
                        return Ok(written);
                    }
                }
                Ok(_) if written > 0 => return Ok(written),
                Ok(_) if eof => {
                    let cut = io::Error::new(io::ErrorKind::UnexpectedEof, "gzip stream cut short");
                    return self.fail(written, cut);
                }
                // Input taken in (a header, the start of a block) with nothing out yet.
                Ok(_) if consumed > 0 => {}
                Ok(_) => {
                    let stuck = io::Error::other("gzip decoder made no progress");
                    return self.fail(written, stuck);
                }
                Err(e) => {
                    let corrupt = io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("corrupt gzip stream: {e}"),
                    );
                    return self.fail(written, corrupt);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufReader, Write};

    use flate2::write::GzEncoder;
    use flate2::Compression;

    use super::*;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).expect("compress");
        e.finish().expect("compress")
    }

    /// Lines of varied text, so that deflate makes several blocks of real codes.
    fn text(lines: usize) -> Vec<u8> {
        let mut rng = crate::testing::Rng(0x9E37_79B9_7F4A_7C15);
        let mut out = Vec::new();
        for i in 0..lines {
            let r = rng.next();
            writeln!(
                out,
                "5 111122223333 eni-{r:017x} 10.0.{}.{} 198.51.{}.{} {} {} 6 {} {} 1790000000 1790000060 ACCEPT OK",
                r % 7,
                (r >> 8) % 250,
                (r >> 16) % 250,
                (r >> 24) % 250,
                40000 + (r >> 32) % 20000,
                (r >> 40) % 1024,
                i % 97,
                (r >> 48) % 100_000,
            )
            .expect("write");
        }
        out
    }

    /// Everything `stream` yields with `chunk`-byte reads, and the error that ended it.
    fn drain(mut stream: impl Read, chunk: usize) -> (Vec<u8>, Option<io::Error>) {
        let mut out = Vec::new();
        let mut buf = vec![0u8; chunk];
        loop {
            match stream.read(&mut buf) {
                Ok(0) => return (out, None),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) => return (out, Some(e)),
            }
        }
    }

    fn stream(bytes: &[u8]) -> GzStream<BufReader<&[u8]>> {
        GzStream::new(BufReader::with_capacity(8 << 10, bytes))
    }

    #[test]
    fn decodes_one_member_and_several() {
        let (a, b) = (text(2000), text(300));
        let one = gz(&a);
        assert_eq!(drain(stream(&one), 256 << 10).0, a);
        let mut two = one.clone();
        two.extend_from_slice(&gz(&b));
        let (out, error) = drain(stream(&two), 1000);
        assert!(error.is_none(), "{error:?}");
        assert_eq!(out, [a, b].concat());
        assert!(drain(stream(&gz(b"")), 10).0.is_empty());
    }

    #[test]
    fn damage_costs_only_what_follows_it() {
        let original = text(4000);
        let good = gz(&original);
        let mut damaged_somewhere = 0;
        // One-byte damages across the compressed data: each must yield the same bytes a
        // decoder reading 1 KiB at a time yields before its error, and never lose them to a
        // large read.
        for at in (20..good.len() - 8).step_by(good.len() / 60) {
            let mut bad = good.clone();
            bad[at] ^= 0x5A;
            let (small, small_error) = drain(stream(&bad), 1 << 10);
            let (large, large_error) = drain(stream(&bad), 256 << 10);
            assert_eq!(large, small, "damage at {at}");
            assert_eq!(
                large_error.is_some(),
                small_error.is_some(),
                "damage at {at}"
            );
            if let Some(e) = large_error {
                damaged_somewhere += 1;
                assert!(
                    e.to_string().starts_with("corrupt gzip stream"),
                    "damage at {at}: {e}"
                );
            }
            // What came out before the damage is the original text.
            let same = large
                .iter()
                .zip(&original)
                .take_while(|(a, b)| a == b)
                .count();
            assert!(same > 0 || at < 40, "damage at {at}: nothing decoded");
        }
        assert!(damaged_somewhere > 10, "{damaged_somewhere} damages failed");
    }

    #[test]
    fn a_read_that_meets_damage_returns_its_bytes_then_the_error() {
        let original = text(4000);
        let good = gz(&original);
        // The first damage, from the middle on, that the decoder reports as an error.
        let (bad, decoded) = (good.len() / 2..good.len() - 8)
            .find_map(|at| {
                let mut bad = good.clone();
                bad[at] ^= 0xFF;
                let (out, error) = drain(stream(&bad), 1 << 10);
                (error.is_some() && out.len() > original.len() / 4).then_some((bad, out.len()))
            })
            .expect("a damage that fails");
        // One read as large as the whole text: it must hand out what it decoded.
        let mut s = stream(&bad);
        let mut buf = vec![0u8; original.len() * 2];
        let n = s.read(&mut buf).expect("the bytes before the damage");
        let mut total = n;
        loop {
            match s.read(&mut buf[total..]) {
                Ok(0) => panic!("the damage was not reported"),
                Ok(n) => total += n,
                Err(e) => {
                    assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{e}");
                    break;
                }
            }
        }
        assert_eq!(total, decoded);
        assert_eq!(s.read(&mut buf).expect("after the error"), 0);
    }

    #[test]
    fn a_cut_or_a_wrong_checksum_is_an_error_after_every_byte() {
        let original = text(3000);
        let good = gz(&original);
        let (out, error) = drain(stream(&good[..good.len() / 2]), 64 << 10);
        let error = error.expect("cut");
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof, "{error}");
        assert!(out.len() > original.len() / 3 && original.starts_with(&out));
        let mut crc = good.clone();
        let at = crc.len() - 8;
        crc[at] ^= 1;
        let (out, error) = drain(stream(&crc), 256 << 10);
        assert_eq!(out, original);
        assert!(error
            .expect("checksum")
            .to_string()
            .contains("corrupt gzip stream"));
    }

    #[test]
    fn bytes_after_the_last_member_that_are_not_gzip_are_an_error() {
        let original = text(10);
        let mut data = gz(&original);
        data.extend_from_slice(b"trailing junk");
        let (out, error) = drain(stream(&data), 4096);
        assert_eq!(out, original);
        assert!(error.is_some());
    }
}
