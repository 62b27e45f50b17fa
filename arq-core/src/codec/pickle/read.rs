//! The pickle reader: a small stack machine that knows pickle's opcodes (protocols 0-5) but
//! never imports a module or calls a function.
//!
//! The machine builds an arena of [`Node`]s; the stack and the memo hold [`Item`]s, which are
//! small scalars or references into the arena, so an object put in the memo and fetched again
//! is the same object (and sees later `APPENDS`/`SETITEMS`/`BUILD`), as in Python. Globals are
//! only names. `REDUCE`/`NEWOBJ` on a class the codec knows (see [`super::classes`]) build that
//! object's value right away; any other class becomes a [`Node::Object`] that fails the decode,
//! naming the class, if it ends up in the result. The arena is turned into a [`Value`] at the
//! end, which also catches recursive structures and bounds the size of the result.

use super::classes::{self, Date, Time, Tz, DAY_US};
use crate::{Value, ValueError, EXCEPTION_KEY};
use std::collections::HashMap;

/// Most items the stack may hold at once (Python writes containers in batches of 1000).
const MAX_STACK: usize = 1 << 20;
/// Most `MARK`s open at once.
const MAX_MARKS: usize = 1 << 16;
/// Most objects (text, bytes, containers, instances) one pickle may create.
const MAX_OBJECTS: usize = 1 << 22;
/// Most memo entries.
const MAX_MEMO: usize = 1 << 22;
/// Deepest nesting of containers in a decoded value.
pub(crate) const MAX_DEPTH: usize = 256;
/// What one value costs in the output budget, besides the length of its text or bytes.
const VALUE_COST: usize = 16;
/// The output budget is this plus [`BUDGET_PER_INPUT_BYTE`] times the input length. It only
/// matters for pickles that refer to the same object many times (the memo), which could
/// otherwise expand exponentially when turned into a tree.
const BUDGET_BASE: usize = 1 << 20;
/// See [`BUDGET_BASE`].
const BUDGET_PER_INPUT_BYTE: usize = 64;

/// The message of the error for an object of a class the codec does not map.
pub(crate) fn unsupported(path: &str) -> ValueError {
    ValueError::new(format!(
        "unsupported Python object in pickle: {path} (only plain data, exceptions, datetime, \
         Decimal and UUID are supported)"
    ))
}

/// Decodes one pickle into a [`Value`].
pub(crate) fn decode(data: &[u8]) -> Result<Value, ValueError> {
    let mut vm = Vm {
        data,
        pos: 0,
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
        nodes: Vec::new(),
    };
    let root = vm.run()?;
    let mut conv = Converter {
        nodes: &vm.nodes,
        budget: BUDGET_BASE.saturating_add(data.len().saturating_mul(BUDGET_PER_INPUT_BYTE)),
        active: vec![false; vm.nodes.len()],
    };
    conv.value(root, 0, false)
}

/// A stack or memo entry: a scalar, or a reference to an arena node.
#[derive(Debug, Clone, Copy)]
enum Item {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Obj(u32),
}

/// An object in the arena.
#[derive(Debug)]
enum Node {
    Str(String),
    Bytes(Vec<u8>),
    /// An integer outside `i64`; `magnitude` is `None` beyond 128 bits.
    BigInt {
        negative: bool,
        magnitude: Option<u128>,
    },
    List(Vec<Item>),
    Tuple(Vec<Item>),
    Dict(Vec<(Item, Item)>),
    Set(Vec<Item>),
    /// A class or function, by name only: `"<module>.<qualname>"`.
    Global(String),
    /// An exception object: its class and `args`.
    Exception {
        path: String,
        args: Vec<Item>,
    },
    /// An instance of a class the codec does not map. `reduced` is true when it was built by
    /// calling the class with arguments (`REDUCE`), as Python pickles exceptions.
    Object {
        path: String,
        args: Vec<Item>,
        reduced: bool,
    },
    /// A `uuid.UUID` waiting for its `BUILD` state.
    PendingUuid,
    /// A `datetime.timedelta`, in microseconds.
    TimeDelta(i128),
    /// A `tzinfo`.
    Tz(Tz),
}

impl Node {
    /// A short description for error messages.
    fn kind(&self) -> String {
        match self {
            Node::Str(_) => "str".into(),
            Node::Bytes(_) => "bytes".into(),
            Node::BigInt { .. } => "int".into(),
            Node::List(_) => "list".into(),
            Node::Tuple(_) => "tuple".into(),
            Node::Dict(_) => "dict".into(),
            Node::Set(_) => "set".into(),
            Node::Global(p) => format!("reference to {p}"),
            Node::Exception { path, .. } | Node::Object { path, .. } => path.clone(),
            Node::PendingUuid => "uuid.UUID".into(),
            Node::TimeDelta(_) => "datetime.timedelta".into(),
            Node::Tz(_) => "tzinfo".into(),
        }
    }
}

/// The opcode's name, for error messages.
fn op_name(op: u8) -> &'static str {
    match op {
        b'(' => "MARK",
        b'.' => "STOP",
        b'0' => "POP",
        b'1' => "POP_MARK",
        b'2' => "DUP",
        b'F' => "FLOAT",
        b'I' => "INT",
        b'J' => "BININT",
        b'K' => "BININT1",
        b'L' => "LONG",
        b'M' => "BININT2",
        b'N' => "NONE",
        b'P' => "PERSID",
        b'Q' => "BINPERSID",
        b'R' => "REDUCE",
        b'S' => "STRING",
        b'T' => "BINSTRING",
        b'U' => "SHORT_BINSTRING",
        b'V' => "UNICODE",
        b'X' => "BINUNICODE",
        b'a' => "APPEND",
        b'b' => "BUILD",
        b'c' => "GLOBAL",
        b'd' => "DICT",
        b'}' => "EMPTY_DICT",
        b'e' => "APPENDS",
        b'g' => "GET",
        b'h' => "BINGET",
        b'i' => "INST",
        b'j' => "LONG_BINGET",
        b'l' => "LIST",
        b']' => "EMPTY_LIST",
        b'o' => "OBJ",
        b'p' => "PUT",
        b'q' => "BINPUT",
        b'r' => "LONG_BINPUT",
        b's' => "SETITEM",
        b't' => "TUPLE",
        b')' => "EMPTY_TUPLE",
        b'u' => "SETITEMS",
        b'G' => "BINFLOAT",
        0x80 => "PROTO",
        0x81 => "NEWOBJ",
        0x82 => "EXT1",
        0x83 => "EXT2",
        0x84 => "EXT4",
        0x85 => "TUPLE1",
        0x86 => "TUPLE2",
        0x87 => "TUPLE3",
        0x88 => "NEWTRUE",
        0x89 => "NEWFALSE",
        0x8a => "LONG1",
        0x8b => "LONG4",
        b'B' => "BINBYTES",
        b'C' => "SHORT_BINBYTES",
        0x8c => "SHORT_BINUNICODE",
        0x8d => "BINUNICODE8",
        0x8e => "BINBYTES8",
        0x8f => "EMPTY_SET",
        0x90 => "ADDITEMS",
        0x91 => "FROZENSET",
        0x92 => "NEWOBJ_EX",
        0x93 => "STACK_GLOBAL",
        0x94 => "MEMOIZE",
        0x95 => "FRAME",
        0x96 => "BYTEARRAY8",
        0x97 => "NEXT_BUFFER",
        0x98 => "READONLY_BUFFER",
        _ => "unknown opcode",
    }
}

/// Text from pickled UTF-8; invalid sequences (Python writes lone surrogates with
/// `surrogatepass`) become U+FFFD.
fn utf8(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Text from a protocol 0/1 byte string: UTF-8 if valid, else Latin-1.
fn bytes_to_text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes)
        .unwrap_or_else(|e| e.into_bytes().iter().map(|&b| char::from(b)).collect())
}

/// Text as Latin-1 bytes, if every character fits.
fn latin1(s: &str) -> Option<Vec<u8>> {
    s.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect()
}

/// Decodes Python's `raw-unicode-escape`: bytes are Latin-1 except `\uXXXX` and
/// `\UXXXXXXXX` after an odd number of backslashes.
fn raw_unicode_escape(b: &[u8]) -> Result<String, String> {
    let mut out = String::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(char::from(b[i]));
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && b[i] == b'\\' {
            i += 1;
        }
        let run = i - start;
        let width = match b.get(i) {
            Some(b'u') if run % 2 == 1 => 4,
            Some(b'U') if run % 2 == 1 => 8,
            _ => 0,
        };
        if width == 0 {
            out.extend(std::iter::repeat_n('\\', run));
            continue;
        }
        out.extend(std::iter::repeat_n('\\', run - 1));
        let hex = b
            .get(i + 1..i + 1 + width)
            .and_then(|h| std::str::from_utf8(h).ok())
            .filter(|h| h.bytes().all(|c| c.is_ascii_hexdigit()))
            .ok_or("truncated \\uXXXX escape")?;
        let code = u32::from_str_radix(hex, 16).map_err(|e| e.to_string())?;
        if code > 0x10ffff {
            return Err(format!("\\U{hex} is not a Unicode code point"));
        }
        out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
        i += 1 + width;
    }
    Ok(out)
}

/// Decodes the quoted `repr` of a Python 2 byte string, as written by the `STRING` opcode
/// (Python's `codecs.escape_decode`).
fn string_literal(line: &[u8]) -> Result<Vec<u8>, String> {
    let quoted = match line {
        [q, inner @ .., q2] if (*q == b'\'' || *q == b'"') && q == q2 => inner,
        _ => return Err("the STRING opcode argument must be quoted".into()),
    };
    let mut out = Vec::with_capacity(quoted.len());
    let mut i = 0;
    while i < quoted.len() {
        let c = quoted[i];
        i += 1;
        if c != b'\\' {
            out.push(c);
            continue;
        }
        let Some(&e) = quoted.get(i) else {
            return Err("trailing backslash in STRING".into());
        };
        i += 1;
        match e {
            b'\n' => {}
            b'\\' | b'\'' | b'"' => out.push(e),
            b'a' => out.push(7),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(11),
            b'x' => {
                let hex = quoted
                    .get(i..i + 2)
                    .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                    .ok_or("invalid \\x escape in STRING")?;
                let text = std::str::from_utf8(hex).map_err(|e| e.to_string())?;
                out.push(u8::from_str_radix(text, 16).map_err(|e| e.to_string())?);
                i += 2;
            }
            b'0'..=b'7' => {
                let mut code = u32::from(e - b'0');
                for _ in 0..2 {
                    match quoted.get(i) {
                        Some(&d @ b'0'..=b'7') => {
                            code = code * 8 + u32::from(d - b'0');
                            i += 1;
                        }
                        _ => break,
                    }
                }
                out.push((code & 0xff) as u8);
            }
            other => {
                out.push(b'\\');
                out.push(other);
            }
        }
    }
    Ok(out)
}

/// Parses a decimal integer (optional sign, optional trailing `L` already removed) into a
/// sign and a magnitude (`None` beyond 128 bits).
fn parse_int_text(text: &str) -> Result<(bool, Option<u128>), String> {
    let t = text.trim();
    let (negative, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return Err(format!("invalid integer literal {text:?}"));
    }
    let mut magnitude = Some(0u128);
    for d in digits.bytes() {
        magnitude = magnitude
            .and_then(|m| m.checked_mul(10))
            .and_then(|m| m.checked_add(u128::from(d - b'0')));
    }
    Ok((negative, magnitude))
}

/// Reads a little-endian two's complement integer of any length (`LONG1`/`LONG4`).
fn int_from_le(bytes: &[u8]) -> (bool, Option<u128>) {
    let negative = bytes.last().is_some_and(|b| b & 0x80 != 0);
    let mut mag: Vec<u8> = bytes.to_vec();
    if negative {
        // Two's complement negation: invert, add one.
        let mut carry = true;
        for b in &mut mag {
            let (v, c) = (!*b).overflowing_add(u8::from(carry));
            *b = v;
            carry = c;
        }
    }
    let significant = mag.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
    if significant > 16 {
        return (negative, None);
    }
    let mut m = 0u128;
    for &b in mag[..significant].iter().rev() {
        m = (m << 8) | u128::from(b);
    }
    (negative, Some(m))
}

/// Why an opcode failed: the message, completed by the loop with the opcode and offset.
type OpResult<T> = Result<T, String>;

struct Vm<'a> {
    data: &'a [u8],
    pos: usize,
    stack: Vec<Item>,
    marks: Vec<usize>,
    memo: HashMap<u32, Item>,
    nodes: Vec<Node>,
}

impl Vm<'_> {
    fn run(&mut self) -> Result<Item, ValueError> {
        if self.data.is_empty() {
            return Err(ValueError::new("pickle: empty input"));
        }
        loop {
            let at = self.pos;
            let Some(&op) = self.data.get(at) else {
                return Err(ValueError::new(format!(
                    "pickle: data ends at byte {at} without a STOP opcode"
                )));
            };
            self.pos += 1;
            match self.step(op) {
                Ok(Some(result)) => {
                    if self.pos != self.data.len() {
                        return Err(ValueError::new(format!(
                            "pickle: {} trailing bytes after STOP",
                            self.data.len() - self.pos
                        )));
                    }
                    return Ok(result);
                }
                Ok(None) => {}
                Err(msg) => {
                    return Err(ValueError::new(format!(
                        "pickle: {msg} (opcode {} 0x{op:02x} at byte {at})",
                        op_name(op)
                    )))
                }
            }
        }
    }

    // ---- input -------------------------------------------------------------------------

    fn take(&mut self, n: u64) -> OpResult<&[u8]> {
        let left = self.data.len() - self.pos;
        if n > left as u64 {
            return Err(format!(
                "needs {n} bytes but only {left} are left (truncated or corrupt data)"
            ));
        }
        let start = self.pos;
        self.pos += n as usize;
        Ok(&self.data[start..self.pos])
    }

    fn array<const N: usize>(&mut self) -> OpResult<[u8; N]> {
        let b = self.take(N as u64)?;
        let mut out = [0u8; N];
        out.copy_from_slice(b);
        Ok(out)
    }

    fn u8(&mut self) -> OpResult<u8> {
        Ok(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> OpResult<u16> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    fn u32(&mut self) -> OpResult<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn i32(&mut self) -> OpResult<i32> {
        Ok(i32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> OpResult<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// A length given as a signed 32-bit number (`BINSTRING`, `LONG4`).
    fn len_i32(&mut self) -> OpResult<u64> {
        let n = self.i32()?;
        u64::try_from(n).map_err(|_| format!("negative length {n}"))
    }

    /// One `\n`-terminated line, without the newline.
    fn line(&mut self) -> OpResult<&[u8]> {
        let rest = &self.data[self.pos..];
        let n = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or("line has no terminating newline (truncated data)")?;
        self.pos += n + 1;
        Ok(&rest[..n])
    }

    fn line_text(&mut self) -> OpResult<String> {
        let line = self.line()?;
        std::str::from_utf8(line)
            .map(str::to_owned)
            .map_err(|_| "line is not UTF-8".to_owned())
    }

    fn line_u32(&mut self) -> OpResult<u32> {
        let text = self.line_text()?;
        text.trim()
            .parse()
            .map_err(|_| format!("invalid memo index {text:?}"))
    }

    // ---- stack, marks, memo, arena -----------------------------------------------------

    fn base(&self) -> usize {
        self.marks.last().copied().unwrap_or(0)
    }

    fn push(&mut self, item: Item) -> OpResult<()> {
        if self.stack.len() >= MAX_STACK {
            return Err(format!("more than {MAX_STACK} items on the stack"));
        }
        self.stack.push(item);
        Ok(())
    }

    fn pop(&mut self) -> OpResult<Item> {
        if self.stack.len() <= self.base() {
            return Err("stack underflow (corrupt data)".into());
        }
        Ok(self.stack.pop().unwrap_or(Item::Nil))
    }

    fn peek(&self) -> OpResult<Item> {
        if self.stack.len() <= self.base() {
            return Err("stack underflow (corrupt data)".into());
        }
        Ok(self.stack.last().copied().unwrap_or(Item::Nil))
    }

    fn pop_mark(&mut self) -> OpResult<Vec<Item>> {
        let mark = self.marks.pop().ok_or("no MARK to pop to (corrupt data)")?;
        Ok(self.stack.split_off(mark.min(self.stack.len())))
    }

    fn alloc(&mut self, node: Node) -> OpResult<Item> {
        if self.nodes.len() >= MAX_OBJECTS {
            return Err(format!("more than {MAX_OBJECTS} objects"));
        }
        let id = self.nodes.len() as u32;
        self.nodes.push(node);
        Ok(Item::Obj(id))
    }

    fn push_node(&mut self, node: Node) -> OpResult<()> {
        let item = self.alloc(node)?;
        self.push(item)
    }

    fn node(&self, item: Item) -> Option<&Node> {
        match item {
            Item::Obj(id) => self.nodes.get(id as usize),
            _ => None,
        }
    }

    fn node_mut(&mut self, item: Item) -> Option<&mut Node> {
        match item {
            Item::Obj(id) => self.nodes.get_mut(id as usize),
            _ => None,
        }
    }

    fn memo_put(&mut self, index: u32) -> OpResult<()> {
        let top = self.peek()?;
        if self.memo.len() >= MAX_MEMO && !self.memo.contains_key(&index) {
            return Err(format!("more than {MAX_MEMO} memo entries"));
        }
        self.memo.insert(index, top);
        Ok(())
    }

    fn memo_get(&mut self, index: u32) -> OpResult<()> {
        let item = *self
            .memo
            .get(&index)
            .ok_or_else(|| format!("memo has no entry {index} (corrupt data)"))?;
        self.push(item)
    }

    fn int(&mut self, negative: bool, magnitude: Option<u128>) -> OpResult<Item> {
        match magnitude {
            Some(m) if !negative && m <= i64::MAX as u128 => Ok(Item::Int(m as i64)),
            Some(m) if negative && m <= 1u128 << 63 => Ok(Item::Int((-(m as i128)) as i64)),
            _ => self.alloc(Node::BigInt {
                negative,
                magnitude,
            }),
        }
    }

    fn str_of(&self, item: Item) -> Option<&str> {
        match self.node(item) {
            Some(Node::Str(s)) => Some(s),
            _ => None,
        }
    }

    fn describe(&self, item: Item) -> String {
        match item {
            Item::Nil => "None".into(),
            Item::Bool(_) => "bool".into(),
            Item::Int(_) => "int".into(),
            Item::Float(_) => "float".into(),
            Item::Obj(_) => self.node(item).map_or("?".into(), Node::kind),
        }
    }

    /// The items of a tuple (or list) of arguments.
    fn seq_items(&self, item: Item) -> OpResult<Vec<Item>> {
        match self.node(item) {
            Some(Node::Tuple(items) | Node::List(items) | Node::Set(items)) => Ok(items.clone()),
            _ => Err(format!(
                "expected a tuple of arguments, found {}",
                self.describe(item)
            )),
        }
    }

    // ---- the opcodes -------------------------------------------------------------------

    /// Runs one opcode; returns the result at `STOP`.
    fn step(&mut self, op: u8) -> OpResult<Option<Item>> {
        match op {
            0x80 => {
                let proto = self.u8()?;
                if proto > 5 {
                    return Err(format!("unsupported pickle protocol {proto}"));
                }
            }
            0x95 => {
                let n = self.u64()?;
                let left = self.data.len() - self.pos;
                if n > left as u64 {
                    return Err(format!("frame of {n} bytes but only {left} are left"));
                }
            }
            b'.' => return self.pop().map(Some),

            // stack and marks
            b'(' => {
                if self.marks.len() >= MAX_MARKS {
                    return Err(format!("more than {MAX_MARKS} open MARKs"));
                }
                self.marks.push(self.stack.len());
            }
            b'0' => {
                if self.stack.len() > self.base() {
                    self.pop()?;
                } else {
                    self.pop_mark()?;
                }
            }
            b'1' => {
                self.pop_mark()?;
            }
            b'2' => {
                let top = self.peek()?;
                self.push(top)?;
            }

            // memo
            b'p' => {
                let i = self.line_u32()?;
                self.memo_put(i)?;
            }
            b'q' => {
                let i = self.u8()?;
                self.memo_put(u32::from(i))?;
            }
            b'r' => {
                let i = self.u32()?;
                self.memo_put(i)?;
            }
            0x94 => {
                let i = u32::try_from(self.memo.len()).map_err(|e| e.to_string())?;
                self.memo_put(i)?;
            }
            b'g' => {
                let i = self.line_u32()?;
                self.memo_get(i)?;
            }
            b'h' => {
                let i = self.u8()?;
                self.memo_get(u32::from(i))?;
            }
            b'j' => {
                let i = self.u32()?;
                self.memo_get(i)?;
            }

            // scalars
            b'N' => self.push(Item::Nil)?,
            0x88 => self.push(Item::Bool(true))?,
            0x89 => self.push(Item::Bool(false))?,
            b'I' => {
                let text = self.line_text()?;
                let item = match text.as_str() {
                    "00" => Item::Bool(false),
                    "01" => Item::Bool(true),
                    t => {
                        let (neg, mag) = parse_int_text(t)?;
                        self.int(neg, mag)?
                    }
                };
                self.push(item)?;
            }
            b'L' => {
                let text = self.line_text()?;
                let (neg, mag) = parse_int_text(text.strip_suffix('L').unwrap_or(&text))?;
                let item = self.int(neg, mag)?;
                self.push(item)?;
            }
            b'J' => {
                let v = self.i32()?;
                self.push(Item::Int(i64::from(v)))?;
            }
            b'K' => {
                let v = self.u8()?;
                self.push(Item::Int(i64::from(v)))?;
            }
            b'M' => {
                let v = self.u16()?;
                self.push(Item::Int(i64::from(v)))?;
            }
            0x8a => {
                let n = self.u8()?;
                let (neg, mag) = int_from_le(self.take(u64::from(n))?);
                let item = self.int(neg, mag)?;
                self.push(item)?;
            }
            0x8b => {
                let n = self.len_i32()?;
                let (neg, mag) = int_from_le(self.take(n)?);
                let item = self.int(neg, mag)?;
                self.push(item)?;
            }
            b'G' => {
                let v = f64::from_be_bytes(self.array()?);
                self.push(Item::Float(v))?;
            }
            b'F' => {
                let text = self.line_text()?;
                let v: f64 = text
                    .trim()
                    .parse()
                    .map_err(|_| format!("invalid float literal {text:?}"))?;
                self.push(Item::Float(v))?;
            }

            // text
            0x8c => {
                let n = self.u8()?;
                let s = utf8(self.take(u64::from(n))?);
                self.push_node(Node::Str(s))?;
            }
            b'X' => {
                let n = self.u32()?;
                let s = utf8(self.take(u64::from(n))?);
                self.push_node(Node::Str(s))?;
            }
            0x8d => {
                let n = self.u64()?;
                let s = utf8(self.take(n)?);
                self.push_node(Node::Str(s))?;
            }
            b'V' => {
                let s = raw_unicode_escape(self.line()?)?;
                self.push_node(Node::Str(s))?;
            }
            b'S' => {
                let bytes = string_literal(self.line()?)?;
                self.push_node(Node::Str(bytes_to_text(bytes)))?;
            }
            b'T' => {
                let n = self.len_i32()?;
                let bytes = self.take(n)?.to_vec();
                self.push_node(Node::Str(bytes_to_text(bytes)))?;
            }
            b'U' => {
                let n = self.u8()?;
                let bytes = self.take(u64::from(n))?.to_vec();
                self.push_node(Node::Str(bytes_to_text(bytes)))?;
            }

            // bytes
            b'C' => {
                let n = self.u8()?;
                let b = self.take(u64::from(n))?.to_vec();
                self.push_node(Node::Bytes(b))?;
            }
            b'B' => {
                let n = self.u32()?;
                let b = self.take(u64::from(n))?.to_vec();
                self.push_node(Node::Bytes(b))?;
            }
            0x8e | 0x96 => {
                let n = self.u64()?;
                let b = self.take(n)?.to_vec();
                self.push_node(Node::Bytes(b))?;
            }
            0x97 | 0x98 => {
                return Err(
                    "out-of-band buffers (pickle protocol 5 with buffer_callback) \
                            are not supported"
                        .into(),
                )
            }

            // tuples
            b')' => self.push_node(Node::Tuple(Vec::new()))?,
            0x85..=0x87 => {
                let n = usize::from(op - 0x84);
                if self.stack.len() < self.base() + n {
                    return Err("stack underflow (corrupt data)".into());
                }
                let items = self.stack.split_off(self.stack.len() - n);
                self.push_node(Node::Tuple(items))?;
            }
            b't' => {
                let items = self.pop_mark()?;
                self.push_node(Node::Tuple(items))?;
            }

            // lists
            b']' => self.push_node(Node::List(Vec::new()))?,
            b'l' => {
                let items = self.pop_mark()?;
                self.push_node(Node::List(items))?;
            }
            b'a' => {
                let v = self.pop()?;
                self.extend_list(vec![v])?;
            }
            b'e' => {
                let items = self.pop_mark()?;
                self.extend_list(items)?;
            }

            // dicts
            b'}' => self.push_node(Node::Dict(Vec::new()))?,
            b'd' => {
                let items = self.pop_mark()?;
                let pairs = pairs(items)?;
                self.push_node(Node::Dict(pairs))?;
            }
            b's' => {
                let v = self.pop()?;
                let k = self.pop()?;
                self.extend_dict(vec![(k, v)])?;
            }
            b'u' => {
                let items = self.pop_mark()?;
                let pairs = pairs(items)?;
                self.extend_dict(pairs)?;
            }

            // sets
            0x8f => self.push_node(Node::Set(Vec::new()))?,
            0x90 => {
                let items = self.pop_mark()?;
                let top = self.peek()?;
                match self.node_mut(top) {
                    Some(Node::Set(set)) => set.extend(items),
                    Some(Node::Object { .. }) => {}
                    _ => return Err(format!("ADDITEMS to a {}", self.describe(top))),
                }
            }
            0x91 => {
                let items = self.pop_mark()?;
                self.push_node(Node::Set(items))?;
            }

            // classes and objects
            b'c' => {
                let module = self.line_text()?;
                let name = self.line_text()?;
                self.push_global(&module, &name)?;
            }
            0x93 => {
                let name = self.pop()?;
                let module = self.pop()?;
                let (Some(module), Some(name)) = (self.str_of(module), self.str_of(name)) else {
                    return Err("STACK_GLOBAL needs two strings".into());
                };
                let (module, name) = (module.to_owned(), name.to_owned());
                self.push_global(&module, &name)?;
            }
            b'R' => {
                let args = self.pop()?;
                let callable = self.pop()?;
                let item = self.call(callable, args)?;
                self.push(item)?;
            }
            0x81 => {
                let args = self.pop()?;
                let cls = self.pop()?;
                let args = self.seq_items(args)?;
                let item = self.new_object(cls, args)?;
                self.push(item)?;
            }
            0x92 => {
                let _kwargs = self.pop()?;
                let args = self.pop()?;
                let cls = self.pop()?;
                let args = self.seq_items(args)?;
                let item = self.new_object(cls, args)?;
                self.push(item)?;
            }
            b'i' => {
                let module = self.line_text()?;
                let name = self.line_text()?;
                let args = self.pop_mark()?;
                let (module, name) = classes::normalize_global(&module, &name);
                let item = self.instantiate(&format!("{module}.{name}"), args, true)?;
                self.push(item)?;
            }
            b'o' => {
                let mut items = self.pop_mark()?;
                if items.is_empty() {
                    return Err("OBJ without a class".into());
                }
                let cls = items.remove(0);
                let path = self.global_path(cls)?;
                let item = self.instantiate(&path, items, true)?;
                self.push(item)?;
            }
            b'b' => {
                let state = self.pop()?;
                let obj = self.peek()?;
                self.build(obj, state)?;
            }
            0x82..=0x84 => {
                return Err(
                    "extension registry codes (copyreg.add_extension) are not supported".into(),
                )
            }
            b'P' | b'Q' => return Err("persistent ids are not supported".into()),
            _ => return Err("unknown opcode (not a pickle, or corrupt data)".into()),
        }
        Ok(None)
    }

    fn extend_list(&mut self, items: Vec<Item>) -> OpResult<()> {
        let top = self.peek()?;
        match self.node_mut(top) {
            Some(Node::List(list)) => list.extend(items),
            // A list subclass of an unsupported class: its content does not matter.
            Some(Node::Object { .. }) => {}
            _ => return Err(format!("APPEND to a {}", self.describe(top))),
        }
        Ok(())
    }

    fn extend_dict(&mut self, pairs: Vec<(Item, Item)>) -> OpResult<()> {
        let top = self.peek()?;
        match self.node_mut(top) {
            Some(Node::Dict(dict)) => dict.extend(pairs),
            Some(Node::Object { .. }) => {}
            _ => return Err(format!("SETITEM on a {}", self.describe(top))),
        }
        Ok(())
    }

    fn push_global(&mut self, module: &str, name: &str) -> OpResult<()> {
        let (module, name) = classes::normalize_global(module, name);
        self.push_node(Node::Global(format!("{module}.{name}")))
    }

    fn global_path(&self, item: Item) -> OpResult<String> {
        match self.node(item) {
            Some(Node::Global(path)) => Ok(path.clone()),
            _ => Err(format!("expected a class, found {}", self.describe(item))),
        }
    }

    /// `NEWOBJ`: `cls.__new__(cls, *args)`.
    fn new_object(&mut self, cls: Item, args: Vec<Item>) -> OpResult<Item> {
        let path = self.global_path(cls)?;
        self.instantiate(&path, args, false)
    }

    /// `REDUCE`: `callable(*args)`.
    fn call(&mut self, callable: Item, args: Item) -> OpResult<Item> {
        let path = match self.node(callable) {
            Some(Node::Global(path)) => path.clone(),
            // A method of an unsupported object (`getattr(obj, name)` reduced): still that.
            Some(Node::Object { path, .. }) => {
                let path = path.clone();
                return self.alloc(Node::Object {
                    path,
                    args: Vec::new(),
                    reduced: false,
                });
            }
            _ => {
                return Err(format!(
                    "REDUCE calls a {}, not a class or function",
                    self.describe(callable)
                ))
            }
        };
        let args = self.seq_items(args)?;
        match path.as_str() {
            "builtins.getattr" => match args.as_slice() {
                [target, name] if self.str_of(*name).is_some() => {
                    let attr = self.str_of(*name).unwrap_or_default().to_owned();
                    match self.node(*target) {
                        Some(Node::Global(p)) => {
                            let p = format!("{p}.{attr}");
                            self.alloc(Node::Global(p))
                        }
                        Some(Node::Object { path, .. }) => {
                            let path = format!("{path}.{attr}");
                            self.alloc(Node::Object {
                                path,
                                args: Vec::new(),
                                reduced: false,
                            })
                        }
                        _ => Err(format!("getattr on a {}", self.describe(*target))),
                    }
                }
                _ => Err("bad arguments for builtins.getattr".into()),
            },
            "copyreg._reconstructor" => {
                let cls = *args.first().ok_or("copyreg._reconstructor needs a class")?;
                self.new_object(cls, Vec::new())
            }
            "copyreg.__newobj__" => {
                let (cls, rest) = args
                    .split_first()
                    .ok_or("copyreg.__newobj__ needs a class")?;
                self.new_object(*cls, rest.to_vec())
            }
            "copyreg.__newobj_ex__" => match args.as_slice() {
                [cls, cls_args, ..] => {
                    let cls_args = self.seq_items(*cls_args)?;
                    self.new_object(*cls, cls_args)
                }
                _ => Err("bad arguments for copyreg.__newobj_ex__".into()),
            },
            "_codecs.encode" => {
                let bytes = self.encode_text(&args)?;
                self.alloc(Node::Bytes(bytes))
            }
            _ => self.instantiate(&path, args, true),
        }
    }

    /// `_codecs.encode(text, encoding)`, which protocols 0-2 use to write `bytes`.
    fn encode_text(&self, args: &[Item]) -> OpResult<Vec<u8>> {
        let text = args
            .first()
            .and_then(|a| self.str_of(*a))
            .ok_or("_codecs.encode needs a str")?;
        let encoding = match args.get(1) {
            Some(e) => self
                .str_of(*e)
                .ok_or("_codecs.encode: the encoding must be a str")?
                .to_ascii_lowercase()
                .replace('_', "-"),
            None => "utf-8".to_owned(),
        };
        match encoding.as_str() {
            "latin1" | "latin-1" | "iso-8859-1" | "iso8859-1" | "l1" => {
                latin1(text).ok_or_else(|| "_codecs.encode: text is not Latin-1".into())
            }
            "utf-8" | "utf8" => Ok(text.as_bytes().to_vec()),
            "ascii" if text.is_ascii() => Ok(text.as_bytes().to_vec()),
            _ => Err(format!("_codecs.encode: unsupported encoding {encoding:?}")),
        }
    }

    /// Creates an instance of `path` from `args`: the known classes get their value, exception
    /// classes an exception node, anything else an [`Node::Object`].
    fn instantiate(&mut self, path: &str, args: Vec<Item>, reduced: bool) -> OpResult<Item> {
        if classes::is_exception_class(path) {
            return self.alloc(Node::Exception {
                path: path.to_owned(),
                args,
            });
        }
        let bad = |detail: &str| format!("bad arguments for {path}: {detail}");
        let node = match path {
            "builtins.set" | "builtins.frozenset" => match args.as_slice() {
                [] => Node::Set(Vec::new()),
                [items] => Node::Set(self.seq_items(*items)?),
                _ => return Err(bad("expected one iterable")),
            },
            "builtins.bytes" | "builtins.bytearray" => match args.as_slice() {
                [] => Node::Bytes(Vec::new()),
                [b] => match self.node(*b) {
                    Some(Node::Bytes(b)) => Node::Bytes(b.clone()),
                    _ => return Err(bad("expected bytes")),
                },
                _ => Node::Bytes(self.encode_text(&args)?),
            },
            "collections.OrderedDict" if args.is_empty() => Node::Dict(Vec::new()),
            "collections.defaultdict" if args.len() <= 1 => Node::Dict(Vec::new()),
            "datetime.datetime" => Node::Str(self.datetime(&args).map_err(|e| bad(&e))?),
            "datetime.date" => Node::Str(self.date(&args).map_err(|e| bad(&e))?),
            "datetime.time" => Node::Str(self.time(&args).map_err(|e| bad(&e))?),
            "datetime.timedelta" => {
                let mut parts = [0i128; 3];
                if args.len() > 3 {
                    return Err(bad("expected (days, seconds, microseconds)"));
                }
                for (slot, a) in parts.iter_mut().zip(&args) {
                    match a {
                        Item::Int(i) => *slot = i128::from(*i),
                        _ => return Err(bad("expected integers")),
                    }
                }
                Node::TimeDelta(parts[0] * i128::from(DAY_US) + parts[1] * 1_000_000 + parts[2])
            }
            "datetime.timezone" => {
                let offset = match args.first().and_then(|a| self.node(*a)) {
                    Some(Node::TimeDelta(us)) if us.abs() < i128::from(DAY_US) => *us as i64,
                    _ => return Err(bad("expected a timedelta offset within a day")),
                };
                let name = match args.get(1) {
                    None => None,
                    Some(n) => Some(self.str_of(*n).ok_or_else(|| bad("name"))?.to_owned()),
                };
                Node::Tz(Tz::Fixed {
                    offset_us: offset,
                    name,
                })
            }
            "zoneinfo.ZoneInfo"
            | "zoneinfo.ZoneInfo._unpickle"
            | "backports.zoneinfo.ZoneInfo"
            | "backports.zoneinfo.ZoneInfo._unpickle" => {
                let key = args.first().and_then(|a| self.str_of(*a));
                Node::Tz(Tz::Zone {
                    key: key.ok_or_else(|| bad("expected a zone key"))?.to_owned(),
                    offset_us: None,
                })
            }
            "pytz._UTC" => Node::Tz(Tz::Fixed {
                offset_us: 0,
                name: Some("UTC".to_owned()),
            }),
            "pytz._p" => {
                let key = args.first().and_then(|a| self.str_of(*a));
                let key = key.ok_or_else(|| bad("expected a zone name"))?.to_owned();
                let offset_us = match args.get(1) {
                    Some(Item::Int(secs)) if secs.unsigned_abs() < 86_400 => Some(secs * 1_000_000),
                    Some(Item::Nil) | None => None,
                    Some(_) => return Err(bad("expected an offset in seconds")),
                };
                Node::Tz(Tz::Zone { key, offset_us })
            }
            "decimal.Decimal" | "_pydecimal.Decimal" => {
                let text = args.first().and_then(|a| self.str_of(*a));
                Node::Str(text.ok_or_else(|| bad("expected a str"))?.to_owned())
            }
            "uuid.UUID" if !reduced && args.is_empty() => Node::PendingUuid,
            "uuid.UUID" => return Err(bad("expected NEWOBJ and BUILD with {'int': n}")),
            _ => Node::Object {
                path: path.to_owned(),
                args,
                reduced,
            },
        };
        self.alloc(node)
    }

    /// The bytes of a date/time payload: `bytes`, or Latin-1 text (Python 2 pickles).
    fn payload(&self, item: Item) -> Option<Vec<u8>> {
        match self.node(item)? {
            Node::Bytes(b) => Some(b.clone()),
            Node::Str(s) => latin1(s),
            _ => None,
        }
    }

    fn tzinfo(&self, item: Option<&Item>) -> Result<Option<Tz>, String> {
        match item {
            None | Some(Item::Nil) => Ok(None),
            Some(item) => match self.node(*item) {
                Some(Node::Tz(tz)) => Ok(Some(tz.clone())),
                _ => Err(format!(
                    "unsupported tzinfo {} (supported: datetime.timezone, zoneinfo, pytz)",
                    self.describe(*item)
                )),
            },
        }
    }

    /// Integer arguments of a constructor call, with defaults for missing trailing ones.
    fn ints<const N: usize>(args: &[Item], required: usize) -> Result<[i64; N], String> {
        if args.len() < required || args.len() > N {
            return Err(format!("expected {required} to {N} integers"));
        }
        let mut out = [0i64; N];
        for (slot, a) in out.iter_mut().zip(args) {
            match a {
                Item::Int(i) => *slot = *i,
                _ => return Err("expected integers".into()),
            }
        }
        Ok(out)
    }

    fn datetime(&self, args: &[Item]) -> Result<String, String> {
        if let Some(b) = args.first().and_then(|a| self.payload(*a)) {
            if b.len() != 10 || args.len() > 2 {
                return Err("expected a 10-byte payload and a tzinfo".into());
            }
            let date = Date::from_payload(&b)?;
            let time = Time::from_payload(&b[4..])?;
            let tz = self.tzinfo(args.get(1))?;
            return Ok(classes::datetime_iso(date, time, tz.as_ref()));
        }
        let n = args.len().min(7);
        let [y, mo, d, h, mi, s, us] = Self::ints::<7>(&args[..n], 3)?;
        let tz = self.tzinfo(args.get(7))?;
        Ok(classes::datetime_iso(
            Date::new(y, mo, d)?,
            Time::new(h, mi, s, us)?,
            tz.as_ref(),
        ))
    }

    fn date(&self, args: &[Item]) -> Result<String, String> {
        if let Some(b) = args.first().and_then(|a| self.payload(*a)) {
            if b.len() != 4 || args.len() > 1 {
                return Err("expected a 4-byte payload".into());
            }
            return Ok(Date::from_payload(&b)?.iso());
        }
        let [y, m, d] = Self::ints::<3>(args, 3)?;
        Ok(Date::new(y, m, d)?.iso())
    }

    fn time(&self, args: &[Item]) -> Result<String, String> {
        if let Some(b) = args.first().and_then(|a| self.payload(*a)) {
            if b.len() != 6 || args.len() > 2 {
                return Err("expected a 6-byte payload and a tzinfo".into());
            }
            let tz = self.tzinfo(args.get(1))?;
            return Ok(classes::time_iso(Time::from_payload(&b)?, tz.as_ref()));
        }
        let n = args.len().min(4);
        let [h, mi, s, us] = Self::ints::<4>(&args[..n], 0)?;
        let tz = self.tzinfo(args.get(4))?;
        Ok(classes::time_iso(Time::new(h, mi, s, us)?, tz.as_ref()))
    }

    /// `BUILD`: sets an object's state. Exceptions and unsupported objects ignore it; a
    /// `uuid.UUID` takes its `int`.
    fn build(&mut self, obj: Item, state: Item) -> OpResult<()> {
        match self.node(obj) {
            Some(Node::Exception { .. } | Node::Object { .. }) => Ok(()),
            Some(Node::PendingUuid) => {
                let n = self.uuid_int(state)?;
                if let Some(node) = self.node_mut(obj) {
                    *node = Node::Str(classes::uuid_string(n));
                }
                Ok(())
            }
            _ => Err(format!("BUILD on a {}", self.describe(obj))),
        }
    }

    /// The `int` of a pickled UUID's state: `{'int': n}` (or `({'int': n}, slots)`).
    fn uuid_int(&self, state: Item) -> OpResult<u128> {
        let dicts: Vec<Item> = match self.node(state) {
            Some(Node::Dict(_)) => vec![state],
            Some(Node::Tuple(items)) => items.clone(),
            _ => Vec::new(),
        };
        for d in dicts {
            let Some(Node::Dict(entries)) = self.node(d) else {
                continue;
            };
            for (k, v) in entries {
                if self.str_of(*k) != Some("int") {
                    continue;
                }
                return match (v, self.node(*v)) {
                    (Item::Int(i), _) if *i >= 0 => Ok(*i as u128),
                    (
                        _,
                        Some(Node::BigInt {
                            negative: false,
                            magnitude: Some(m),
                        }),
                    ) => Ok(*m),
                    _ => Err("uuid.UUID state: int out of range".into()),
                };
            }
        }
        Err("uuid.UUID state without an int".into())
    }
}

/// Pairs up the items of `DICT`/`SETITEMS`.
fn pairs(items: Vec<Item>) -> OpResult<Vec<(Item, Item)>> {
    if items.len() % 2 != 0 {
        return Err("odd number of items for a dict".into());
    }
    let mut it = items.into_iter();
    let mut out = Vec::with_capacity(it.len() / 2);
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        out.push((k, v));
    }
    Ok(out)
}

/// Turns the arena into a [`Value`] tree.
struct Converter<'a> {
    nodes: &'a [Node],
    budget: usize,
    active: Vec<bool>,
}

impl Converter<'_> {
    fn charge(&mut self, cost: usize) -> Result<(), ValueError> {
        self.budget = self.budget.checked_sub(cost).ok_or_else(|| {
            ValueError::new(
                "pickle: the data expands to too large a value (an object referred to too \
                 many times)",
            )
        })?;
        Ok(())
    }

    fn enter(&mut self, id: usize, depth: usize) -> Result<(), ValueError> {
        if depth >= MAX_DEPTH {
            return Err(ValueError::new(format!(
                "pickle: containers nested more than {MAX_DEPTH} levels deep"
            )));
        }
        if std::mem::replace(&mut self.active[id], true) {
            return Err(ValueError::new(
                "pickle: recursive data structure (an object that contains itself)",
            ));
        }
        Ok(())
    }

    fn items(&mut self, items: &[Item], depth: usize) -> Result<Vec<Value>, ValueError> {
        items
            .iter()
            .map(|i| self.value(*i, depth + 1, false))
            .collect()
    }

    fn exception(&mut self, path: &str, args: &[Item], depth: usize) -> Result<Value, ValueError> {
        let args = self.items(args, depth)?;
        Ok(Value::Map(vec![
            (
                Value::Str(EXCEPTION_KEY.to_owned()),
                Value::Str(path.to_owned()),
            ),
            (Value::Str("args".to_owned()), Value::List(args)),
        ]))
    }

    fn is_str(&self, item: Item, s: &str) -> bool {
        matches!(item, Item::Obj(id) if matches!(&self.nodes[id as usize], Node::Str(t) if t == s))
    }

    /// Converts one item. `lenient` is set for the `r` of a failed result record: Python arq
    /// only stores exceptions there, so an object of any class built by `REDUCE` is read as
    /// an exception.
    fn value(&mut self, item: Item, depth: usize, lenient: bool) -> Result<Value, ValueError> {
        self.charge(VALUE_COST)?;
        let id = match item {
            Item::Nil => return Ok(Value::Nil),
            Item::Bool(b) => return Ok(Value::Bool(b)),
            Item::Int(i) => return Ok(Value::Int(i)),
            Item::Float(f) => return Ok(Value::Float(f)),
            Item::Obj(id) => id as usize,
        };
        let nodes = self.nodes;
        self.enter(id, depth)?;
        let value = match &nodes[id] {
            Node::Str(s) => {
                self.charge(s.len())?;
                Value::Str(s.clone())
            }
            Node::Bytes(b) => {
                self.charge(b.len())?;
                Value::Bytes(b.clone())
            }
            Node::BigInt {
                negative,
                magnitude,
            } => match (negative, magnitude) {
                (false, Some(m)) => match u64::try_from(*m) {
                    Ok(u) if u > i64::MAX as u64 => Value::UInt(u),
                    Ok(u) => Value::Int(u as i64),
                    Err(_) => {
                        return Err(ValueError::new(format!(
                            "pickle: integer {m} does not fit in 64 bits"
                        )))
                    }
                },
                (true, Some(m)) => {
                    return Err(ValueError::new(format!(
                        "pickle: integer -{m} does not fit in 64 bits"
                    )))
                }
                (_, None) => {
                    return Err(ValueError::new(
                        "pickle: integer of more than 128 bits does not fit in 64 bits",
                    ))
                }
            },
            Node::List(items) | Node::Tuple(items) | Node::Set(items) => {
                Value::List(self.items(items, depth)?)
            }
            Node::Dict(entries) => {
                let failed_result = depth == 0
                    && entries
                        .iter()
                        .any(|(k, v)| self.is_str(*k, "s") && matches!(v, Item::Bool(false)));
                let mut out = Vec::with_capacity(entries.len());
                for (k, v) in entries {
                    let lenient_v = failed_result && self.is_str(*k, "r");
                    let k = self.value(*k, depth + 1, false)?;
                    let v = self.value(*v, depth + 1, lenient_v)?;
                    out.push((k, v));
                }
                Value::Map(out)
            }
            Node::Exception { path, args } => self.exception(path, args, depth)?,
            Node::Object {
                path,
                args,
                reduced,
            } => {
                if lenient && *reduced {
                    self.exception(path, args, depth)?
                } else {
                    return Err(unsupported(path));
                }
            }
            Node::Global(path) => {
                return Err(ValueError::new(format!(
                    "unsupported Python object in pickle: {path} (a class or function, not \
                     data; only plain data, exceptions, datetime, Decimal and UUID are \
                     supported)"
                )))
            }
            Node::PendingUuid => {
                return Err(ValueError::new("pickle: uuid.UUID without its state"))
            }
            Node::TimeDelta(us) => Value::Float(*us as f64 / 1e6),
            Node::Tz(tz) => Value::Str(tz.display()),
        };
        self.active[id] = false;
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(b: &[u8]) -> Value {
        decode(b).unwrap_or_else(|e| panic!("{e}"))
    }

    fn err(b: &[u8]) -> String {
        match decode(b) {
            Ok(v) => panic!("expected an error, got {v}"),
            Err(e) => e.message().to_owned(),
        }
    }

    #[test]
    fn ints_of_every_width() {
        assert_eq!(ok(b"\x80\x02K\xff."), Value::Int(255));
        assert_eq!(ok(b"\x80\x02M\xff\xff."), Value::Int(65535));
        assert_eq!(ok(b"\x80\x02J\xff\xff\xff\xff."), Value::Int(-1));
        assert_eq!(ok(b"\x80\x02\x8a\x00."), Value::Int(0));
        assert_eq!(ok(b"\x80\x02\x8a\x01\xff."), Value::Int(-1));
        assert_eq!(ok(b"\x80\x02\x8a\x02\x00\x80."), Value::Int(-32768));
        assert_eq!(
            ok(b"\x80\x02\x8a\x08\x00\x00\x00\x00\x00\x00\x00\x80."),
            Value::Int(i64::MIN)
        );
        assert_eq!(
            ok(b"\x80\x02\x8a\x09\xff\xff\xff\xff\xff\xff\xff\xff\x00."),
            Value::UInt(u64::MAX)
        );
        // Non-minimal encodings are fine.
        assert_eq!(
            ok(b"\x80\x02\x8a\x0a\x05\x00\x00\x00\x00\x00\x00\x00\x00\x00."),
            Value::Int(5)
        );
        assert_eq!(ok(b"\x80\x02\x8b\x01\x00\x00\x00\x07."), Value::Int(7));
        assert!(
            err(b"\x80\x02\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01.")
                .contains("does not fit in 64 bits")
        );
        assert!(
            err(b"\x80\x02\x8a\x09\xff\xff\xff\xff\xff\xff\xff\x7f\xff.")
                .contains("does not fit in 64 bits")
        );
        let mut huge = vec![0x80, 2, 0x8a, 20];
        huge.extend([0x11; 20]);
        huge.push(b'.');
        assert!(err(&huge).contains("more than 128 bits"));
        assert!(err(b"\x80\x02\x8b\xff\xff\xff\xff.").contains("negative length"));
        // protocol 0 text
        assert_eq!(ok(b"I42\n."), Value::Int(42));
        assert_eq!(ok(b"I-42\n."), Value::Int(-42));
        assert_eq!(ok(b"I01\n."), Value::Bool(true));
        assert_eq!(ok(b"I00\n."), Value::Bool(false));
        assert_eq!(ok(b"L18446744073709551615L\n."), Value::UInt(u64::MAX));
        assert_eq!(ok(b"L-9223372036854775808L\n."), Value::Int(i64::MIN));
        assert!(err(b"Ix\n.").contains("invalid integer"));
        assert!(err(b"L99999999999999999999999999999999999999999999L\n.")
            .contains("more than 128 bits"));
    }

    #[test]
    fn floats_text_and_bytes() {
        assert_eq!(
            ok(b"\x80\x02G?\xf8\x00\x00\x00\x00\x00\x00."),
            Value::Float(1.5)
        );
        assert_eq!(ok(b"F1.5\n."), Value::Float(1.5));
        assert!(matches!(ok(b"Fnan\n."), Value::Float(f) if f.is_nan()));
        assert_eq!(ok(b"Finf\n."), Value::Float(f64::INFINITY));
        assert_eq!(ok(b"\x80\x04\x8c\x02\xc3\xa9."), Value::Str("é".into()));
        assert_eq!(ok(b"X\x02\x00\x00\x00hi."), Value::Str("hi".into()));
        assert_eq!(
            ok(b"\x8d\x02\x00\x00\x00\x00\x00\x00\x00hi."),
            Value::Str("hi".into())
        );
        // lone surrogate written with surrogatepass
        assert_eq!(
            ok(b"\x8c\x03\xed\xa0\x80."),
            Value::Str("\u{fffd}".repeat(3))
        );
        assert_eq!(
            ok(b"Va\\u00e9\\U0001f600\\\\u0041\n."),
            Value::Str("aé😀\\\\u0041".into())
        );
        assert_eq!(
            ok(b"S'a\\'b\\n\\x41\\101'\n."),
            Value::Str("a'b\nAA".into())
        );
        assert_eq!(ok(b"S\"x\"\n."), Value::Str("x".into()));
        assert_eq!(ok(b"U\x02\xe9x."), Value::Str("éx".into()));
        assert_eq!(ok(b"T\x01\x00\x00\x00x."), Value::Str("x".into()));
        assert!(err(b"Sabc\n.").contains("quoted"));
        assert_eq!(ok(b"C\x02ab."), Value::Bytes(b"ab".to_vec()));
        assert_eq!(ok(b"B\x01\x00\x00\x00a."), Value::Bytes(b"a".to_vec()));
        assert_eq!(
            ok(b"\x8e\x01\x00\x00\x00\x00\x00\x00\x00a."),
            Value::Bytes(b"a".to_vec())
        );
        assert_eq!(
            ok(b"\x96\x01\x00\x00\x00\x00\x00\x00\x00a."),
            Value::Bytes(b"a".to_vec())
        );
        // protocol 2 bytes: _codecs.encode(text, 'latin1')
        assert_eq!(
            ok(b"\x80\x02c_codecs\nencode\nX\x03\x00\x00\x00\xc3\xbfyX\x06\x00\x00\x00latin1\x86R."),
            Value::Bytes(vec![0xff, b'y'])
        );
        assert_eq!(
            ok(b"\x80\x02c__builtin__\nbytes\n)R."),
            Value::Bytes(vec![])
        );
    }

    #[test]
    fn length_fields_are_checked_against_the_input() {
        assert!(err(b"\x80\x04\x8d\xff\xff\xff\xff\xff\xff\xff\xff").contains("only 0"));
        assert!(err(b"\x80\x04\x8e\x00\x00\x00\x00\x01\x00\x00\x00ab.").contains("needs"));
        assert!(err(b"\x80\x04\x95\xff\x00\x00\x00\x00\x00\x00\x00N.").contains("frame"));
        assert!(err(b"\x80\x04X\xff\xff\xff\x7fab.").contains("needs"));
    }

    #[test]
    fn memo_sharing_and_containers() {
        // x = [1]; {'a': x, 'b': x} with x filled after being memoized.
        let v = ok(b"\x80\x04}\x94(\x8c\x01a]\x94K\x01a\x8c\x01bh\x01u.");
        assert_eq!(v.to_string(), "{'a': [1], 'b': [1]}");
        // protocol 0 dict / list / tuple / get / put
        let v = ok(b"(dp0\nVk\np1\n(lp2\nI1\naI2\nasVt\n(I3\ng1\ntp3\ns.");
        assert_eq!(v.to_string(), "{'k': [1, 2], 't': [3, 'k']}");
        // sets and frozensets are lists
        assert_eq!(ok(b"\x8f(K\x01K\x02\x90.").to_string(), "[1, 2]");
        assert_eq!(ok(b"(K\x03\x91.").to_string(), "[3]");
        assert_eq!(
            ok(b"\x80\x02c__builtin__\nset\n]q\x01(K\x01K\x02e\x85R.").to_string(),
            "[1, 2]"
        );
    }

    #[test]
    fn dup_pop_and_marks() {
        assert_eq!(ok(b"K\x012\x86.").to_string(), "[1, 1]");
        assert_eq!(ok(b"K\x01K\x020\x85.").to_string(), "[1]");
        assert_eq!(ok(b"K\x01(K\x02K\x031\x85.").to_string(), "[1]");
        // POP on an empty segment drops the mark, as Python does
        assert_eq!(ok(b"K\x01(0\x85.").to_string(), "[1]");
        // Popping below a mark is an underflow
        assert!(err(b"K\x01K\x02(\x86.").contains("underflow"));
        assert!(err(b"t.").contains("MARK"));
        assert!(err(b"h\x05.").contains("memo has no entry 5"));
        assert!(err(b".").contains("underflow"));
        assert!(err(b"N").contains("without a STOP"));
        assert!(err(b"N.x").contains("1 trailing bytes"));
        assert!(err(b"").contains("empty"));
        assert!(err(b"\x80\x06N.").contains("protocol 6"));
        assert!(err(b"\xff").contains("unknown opcode"));
        assert!(err(b"\x82\x01.").contains("extension"));
        assert!(err(b"Pabc\n.").contains("persistent"));
        assert!(err(b"\x80\x05\x97.").contains("out-of-band"));
        assert!(err(b"N]\x86Na.").contains("APPEND to a tuple"));
        assert!(err(b"(K\x01d.").contains("odd number"));
    }

    #[test]
    fn recursive_and_exploding_structures_are_refused() {
        // l = []; l.append(l)
        assert!(err(b"\x80\x04]\x94h\x00a.").contains("recursive"));
        // 40 levels of [x, x]: 2^40 leaves
        let mut p = b"\x80\x04]\x94".to_vec();
        for i in 0..40u8 {
            p.extend([b'h', i, b'h', i, 0x86, 0x94]);
        }
        p.push(b'.');
        assert!(err(&p).contains("too large"));
        // deep nesting
        let mut p = b"\x80\x04".to_vec();
        p.extend(std::iter::repeat_n(b']', 300));
        p.extend(std::iter::repeat_n(b'a', 299));
        p.push(b'.');
        assert!(err(&p).contains("nested more than"));
    }

    #[test]
    fn dates_by_hand() {
        let dt = |tz: &[u8]| {
            let mut p =
                b"\x80\x02cdatetime\ndatetime\nC\x0a\x07\xea\x0b\x1c\x16\x1c\x0a\x08\x70\x28"
                    .to_vec();
            p.extend_from_slice(tz);
            p.extend_from_slice(b"\x86R.");
            decode(&p)
        };
        // pytz zones carry their offset
        assert_eq!(
            dt(b"cpytz\n_p\n(X\x0d\x00\x00\x00Europe/LondonJ\x10\x0e\x00\x00K\x00X\x03\x00\x00\x00BSTtR")
                .unwrap(),
            Value::Str("2026-11-28T22:28:10.553000+01:00".into())
        );
        assert_eq!(
            dt(b"cpytz\n_UTC\n)R").unwrap(),
            Value::Str("2026-11-28T22:28:10.553000+00:00".into())
        );
        // a pytz StaticTzInfo has no offset in the pickle
        assert_eq!(
            dt(b"cpytz\n_p\nX\x03\x00\x00\x00EST\x85R").unwrap(),
            Value::Str("2026-11-28T22:28:10.553000[EST]".into())
        );
        assert_eq!(
            dt(b"N").unwrap(),
            Value::Str("2026-11-28T22:28:10.553000".into())
        );
        let err = dt(b"cpytz\n_p\n(X\x01\x00\x00\x00x\x8a\x08\x00\x00\x00\x00\x00\x00\x00\x80tR")
            .unwrap_err();
        assert!(err.message().contains("bad arguments for pytz._p"), "{err}");
        let err = dt(b"K\x01").unwrap_err();
        assert!(err.message().contains("unsupported tzinfo int"), "{err}");
        // constructor arguments instead of the payload
        assert_eq!(
            decode(b"cdatetime\ndatetime\n(M\xea\x07K\x0bK\x1cK\x16tR.").unwrap(),
            Value::Str("2026-11-28T22:00:00".into())
        );
        assert_eq!(
            decode(b"cdatetime\ndate\n(M\xea\x07K\x02K\x1dtR.")
                .unwrap_err()
                .message(),
            "pickle: bad arguments for datetime.date: invalid date 2026-2-29 (opcode REDUCE \
             0x52 at byte 24)"
        );
        assert!(decode(
            b"\x80\x02cdatetime\ndatetime\nC\x0a\x07\xea\x0d\x1c\x16\x1c\x0a\x08\x70\x28\x85R."
        )
        .unwrap_err()
        .message()
        .contains("invalid date 2026-13-28"));
        assert!(
            decode(b"\x80\x02cdatetime\ntime\nC\x06\x18\x00\x00\x00\x00\x00\x85R.")
                .unwrap_err()
                .message()
                .contains("invalid time")
        );
        // timezone offsets must be within a day
        assert!(
            decode(b"\x80\x02cdatetime\ntimezone\ncdatetime\ntimedelta\nK\x01\x85R\x85R.")
                .unwrap_err()
                .message()
                .contains("within a day")
        );
    }

    #[test]
    fn objects() {
        let unsupported = err(b"\x80\x04\x8c\x0dmy_app.models\x8c\x04User\x93)\x81}b.");
        assert_eq!(
            unsupported,
            "unsupported Python object in pickle: my_app.models.User (only plain data, \
             exceptions, datetime, Decimal and UUID are supported)"
        );
        // a class itself is not data
        assert!(err(b"cbuiltins\nint\n.").contains("builtins.int (a class or function"));
        // complex is not mapped
        assert!(err(b"\x80\x02c__builtin__\ncomplex\nG?\xf0\x00\x00\x00\x00\x00\x00G@\x00\x00\x00\x00\x00\x00\x00\x86R.")
            .contains("builtins.complex"));
        // an unsupported dict subclass names its class, not the SETITEMS
        assert!(err(b"\x80\x02cmy\nD\n)\x81K\x01K\x02sN}\x86b.").contains("my.D"));
        // OrderedDict and defaultdict are dicts
        assert_eq!(
            ok(b"\x80\x02ccollections\nOrderedDict\n)RX\x01\x00\x00\x00aK\x01s.").to_string(),
            "{'a': 1}"
        );
        assert_eq!(
            ok(b"\x80\x02ccollections\ndefaultdict\nc__builtin__\nlist\n\x85RX\x01\x00\x00\x00a]K\x01as.")
                .to_string(),
            "{'a': [1]}"
        );
        // exceptions, protocol 0 and 2 names
        assert_eq!(
            ok(b"cexceptions\nValueError\n(Vboom\ntR.").to_string(),
            "{'__arq_exception__': 'builtins.ValueError', 'args': ['boom']}"
        );
        assert_eq!(
            ok(b"cexceptions\nStandardError\n(tR.").to_string(),
            "{'__arq_exception__': 'builtins.Exception', 'args': []}"
        );
        // INST and OBJ
        assert_eq!(
            ok(b"(Vx\niexceptions\nKeyError\n.").to_string(),
            "{'__arq_exception__': 'builtins.KeyError', 'args': ['x']}"
        );
        assert_eq!(
            ok(b"(cbuiltins\nKeyError\nVx\no.").to_string(),
            "{'__arq_exception__': 'builtins.KeyError', 'args': ['x']}"
        );
    }
}
