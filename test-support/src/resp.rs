//! A minimal RESP (2 and 3) reader and writer: enough for the admin connection of
//! [`crate::RedisServer`] and for the fault suite's proxy to count whole replies.

use std::io::{Read, Write};

/// One RESP value.
#[derive(Debug, Clone, PartialEq)]
pub enum Resp {
    /// `+OK`.
    Simple(String),
    /// `-ERR …` (and a RESP3 blob error).
    Error(String),
    /// `:1`.
    Int(i64),
    /// `$n` (None for `$-1`).
    Bulk(Option<Vec<u8>>),
    /// `*n`, and the RESP3 aggregates (None for `*-1`).
    Array(Option<Vec<Resp>>),
    /// RESP3 scalars we do not need to tell apart (double, boolean, big number, null).
    Other(String),
}

impl Resp {
    /// The value as text (simple string, bulk string, integer, error).
    pub fn text(&self) -> String {
        match self {
            Resp::Simple(s) | Resp::Error(s) | Resp::Other(s) => s.clone(),
            Resp::Int(i) => i.to_string(),
            Resp::Bulk(Some(b)) => String::from_utf8_lossy(b).into_owned(),
            Resp::Bulk(None) | Resp::Array(None) => String::new(),
            Resp::Array(Some(items)) => items.iter().map(Resp::text).collect::<Vec<_>>().join("\n"),
        }
    }

    /// The value as an integer (an integer reply, or text that parses as one).
    pub fn int(&self) -> Option<i64> {
        match self {
            Resp::Int(i) => Some(*i),
            other => other.text().trim().parse().ok(),
        }
    }
}

/// A command as a RESP array of bulk strings.
pub fn encode_command(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Parses one value from the front of `buf`: `Ok(Some((value, bytes used)))`, `Ok(None)`
/// when more bytes are needed, `Err` on bytes that are not RESP.
pub fn parse(buf: &[u8]) -> Result<Option<(Resp, usize)>, String> {
    let Some(line_end) = buf.windows(2).position(|w| w == b"\r\n") else {
        return Ok(None);
    };
    if line_end == 0 {
        return Err("empty RESP line".into());
    }
    let line = String::from_utf8_lossy(&buf[1..line_end]).into_owned();
    let rest = line_end + 2;
    let int = |s: &str| {
        s.parse::<i64>()
            .map_err(|e| format!("bad length {s:?}: {e}"))
    };
    match buf[0] {
        b'+' => Ok(Some((Resp::Simple(line), rest))),
        b'-' => Ok(Some((Resp::Error(line), rest))),
        b':' => Ok(Some((Resp::Int(int(&line)?), rest))),
        b'_' | b',' | b'#' | b'(' => Ok(Some((Resp::Other(line), rest))),
        b'$' | b'=' | b'!' => {
            let n = int(&line)?;
            if n < 0 {
                return Ok(Some((Resp::Bulk(None), rest)));
            }
            let n = n as usize;
            if buf.len() < rest + n + 2 {
                return Ok(None);
            }
            let data = buf[rest..rest + n].to_vec();
            if buf[0] == b'!' {
                return Ok(Some((
                    Resp::Error(String::from_utf8_lossy(&data).into_owned()),
                    rest + n + 2,
                )));
            }
            Ok(Some((Resp::Bulk(Some(data)), rest + n + 2)))
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n = int(&line)?;
            if n < 0 {
                return Ok(Some((Resp::Array(None), rest)));
            }
            // Maps and attributes hold key/value pairs.
            let count = if matches!(buf[0], b'%' | b'|') {
                n as usize * 2
            } else {
                n as usize
            };
            let mut items = Vec::with_capacity(count.min(1024));
            let mut at = rest;
            for _ in 0..count {
                match parse(&buf[at..])? {
                    Some((v, used)) => {
                        items.push(v);
                        at += used;
                    }
                    None => return Ok(None),
                }
            }
            if buf[0] == b'|' {
                // An attribute precedes the real reply.
                return match parse(&buf[at..])? {
                    Some((v, used)) => Ok(Some((v, at + used))),
                    None => Ok(None),
                };
            }
            Ok(Some((Resp::Array(Some(items)), at)))
        }
        other => Err(format!("not RESP: first byte {other:#x}")),
    }
}

/// Counts whole replies in a byte stream that arrives in chunks.
#[derive(Default)]
pub struct ReplyCounter {
    pending: Vec<u8>,
}

impl ReplyCounter {
    /// Feeds a chunk; returns the end offsets (within `chunk`) of each reply completed by it.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<usize> {
        let before = self.pending.len();
        self.pending.extend_from_slice(chunk);
        let mut ends = Vec::new();
        let mut at = 0;
        while let Ok(Some((_, used))) = parse(&self.pending[at..]) {
            at += used;
            ends.push(at - before);
        }
        self.pending.drain(..at);
        ends
    }
}

/// Sends one command on a blocking stream and reads its reply.
pub fn call<S: Read + Write>(stream: &mut S, args: &[&str]) -> Result<Resp, String> {
    let raw: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    stream
        .write_all(&encode_command(&raw))
        .map_err(|e| format!("write: {e}"))?;
    call_read(stream)
}

/// Reads one reply from a blocking stream.
pub fn call_read<S: Read>(stream: &mut S) -> Result<Resp, String> {
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 256 * 1024];
    // Parse again only when a read came up short or the buffer doubled, so a huge reply
    // is not re-parsed from its start after every chunk.
    let mut parse_at = 0;
    loop {
        if buf.len() >= parse_at {
            if let Some((v, _)) = parse(&buf)? {
                return Ok(v);
            }
            parse_at = buf.len() * 2;
        }
        let n = stream.read(&mut chunk).map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err("connection closed".into());
        }
        buf.extend_from_slice(&chunk[..n]);
        if n < chunk.len() {
            parse_at = parse_at.min(buf.len());
        }
    }
}
