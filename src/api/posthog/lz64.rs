//! lz-string's `decompressFromBase64`, as old PostHog clients compress
//! bodies (`compression=lz64`), with a cap on the output. Written here
//! because the `lz-str` crate decodes without one: lz-string output grows
//! with the square of the codes read (each dictionary entry is one longer
//! than the previous), so a small body could demand gigabytes. Dictionary
//! entries are kept as (prefix, last unit) links, so the dictionary too
//! stays linear in the input. Checked against `lz-str`'s compressor in the
//! tests.

/// Why a body did not decode.
#[derive(Debug, PartialEq, Eq)]
pub enum Lz64Error {
    /// Not lz-string data (a bad character, a code out of range, no end).
    Invalid,
    /// The output passed the cap.
    TooLarge,
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// One dictionary entry: the entry it extends (`u32::MAX`: none), its last
/// UTF-16 unit, its first one and its length.
#[derive(Clone, Copy)]
struct Entry {
    prefix: u32,
    last: u16,
    first: u16,
    len: u32,
}

/// Reads the input's 6-bit values, lowest bit of each value last (lz-string's
/// bit order).
struct Bits<'a> {
    input: &'a [u8],
    index: usize,
    value: u8,
    position: u8,
}

impl Bits<'_> {
    fn read(&mut self, count: u32) -> Result<u32, Lz64Error> {
        let mut bits = 0u32;
        for power in 0..count {
            if self.position == 0 {
                // Past the end lz-string reads zeros; a missing end code
                // then shows as `Invalid` below.
                let byte = self.input.get(self.index).copied().unwrap_or(b'A');
                self.index += 1;
                if byte == b'=' {
                    self.value = 0;
                } else {
                    self.value = ALPHABET
                        .iter()
                        .position(|&c| c == byte)
                        .ok_or(Lz64Error::Invalid)? as u8;
                }
                self.position = 32;
            }
            if self.value & self.position != 0 {
                bits |= 1 << power;
            }
            self.position >>= 1;
        }
        Ok(bits)
    }

    fn exhausted(&self) -> bool {
        self.index > self.input.len()
    }
}

/// Decodes `input` (lz-string base64), refusing output longer than `limit`
/// bytes of UTF-8 (counted as 3 bytes per UTF-16 unit, the most one takes).
pub fn decompress_from_base64(input: &[u8], limit: usize) -> Result<String, Lz64Error> {
    let input: Vec<u8> = input
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let mut bits = Bits {
        input: &input,
        index: 0,
        value: 0,
        position: 0,
    };
    let max_units = limit / 3;
    // Codes 0, 1 and 2 are a new 8-bit unit, a new 16-bit unit, the end;
    // entries from 3 on are the dictionary's.
    let mut dictionary: Vec<Entry> = vec![Entry::literal(0); 3];
    let first = match bits.read(2)? {
        0 => Entry::literal(bits.read(8)? as u16),
        1 => Entry::literal(bits.read(16)? as u16),
        2 => return Ok(String::new()),
        _ => return Err(Lz64Error::Invalid),
    };
    dictionary.push(first);
    let mut output: Vec<u16> = vec![first.last];
    let mut previous = dictionary.len() - 1;
    let (mut width, mut enlarge_in) = (3u32, 4u32);
    loop {
        if bits.exhausted() {
            return Err(Lz64Error::Invalid);
        }
        let mut code = bits.read(width)? as usize;
        match code {
            0 | 1 => {
                let unit = bits.read(if code == 0 { 8 } else { 16 })? as u16;
                dictionary.push(Entry::literal(unit));
                code = dictionary.len() - 1;
                enlarge_in -= 1;
            }
            2 => return String::from_utf16(&output).map_err(|_| Lz64Error::Invalid),
            _ => {}
        }
        if enlarge_in == 0 {
            enlarge_in = 1 << width;
            width += 1;
        }
        let w = dictionary[previous];
        let entry = match dictionary.get(code) {
            Some(&entry) => entry,
            // The entry this step makes: the previous one and its first unit.
            None if code == dictionary.len() => w.extended(previous, w.first),
            None => return Err(Lz64Error::Invalid),
        };
        if output.len() + entry.len as usize > max_units {
            return Err(Lz64Error::TooLarge);
        }
        entry.write(&dictionary, &mut output);
        dictionary.push(w.extended(previous, entry.first));
        enlarge_in -= 1;
        previous = code;
        if enlarge_in == 0 {
            enlarge_in = 1 << width;
            width += 1;
        }
    }
}

impl Entry {
    fn literal(unit: u16) -> Self {
        Self {
            prefix: NONE,
            last: unit,
            first: unit,
            len: 1,
        }
    }

    /// This entry (at `index`) followed by `unit`.
    fn extended(self, index: usize, unit: u16) -> Self {
        Self {
            prefix: index as u32,
            last: unit,
            first: self.first,
            len: self.len + 1,
        }
    }

    /// Appends the entry's units, following the prefix links back.
    fn write(self, dictionary: &[Entry], output: &mut Vec<u16>) {
        let start = output.len();
        let mut entry = self;
        loop {
            output.push(entry.last);
            if entry.prefix == NONE {
                break;
            }
            entry = dictionary[entry.prefix as usize];
        }
        output[start..].reverse();
    }
}

/// No prefix: a single unit.
const NONE: u32 = u32::MAX;

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(text: &str) {
        let compressed = lz_str::compress_to_base64(text);
        assert_eq!(
            decompress_from_base64(compressed.as_bytes(), 1 << 24).as_deref(),
            Ok(text),
            "{text:?}"
        );
    }

    #[test]
    fn what_lz_str_compresses_decodes_back() {
        round_trip("");
        round_trip("a");
        round_trip("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
        round_trip(
            r#"{"api_key":"k","batch":[{"event":"$pageview","properties":{"distinct_id":"u1"}}]}"#,
        );
        round_trip("Ce train est à destination de PARIS SAINT LAZARE: 45% — très long ∑⁄¢ 🚀");
        let long: String = (0..5000)
            .map(|i| format!("{{\"n\":{i},\"s\":\"x{}\"}}", i % 17))
            .collect();
        round_trip(&long);
    }

    #[test]
    fn output_past_the_limit_is_refused_early() {
        // A megabyte of one letter: a few kilobytes compressed.
        let bomb = lz_str::compress_to_base64(&"a".repeat(1 << 20));
        assert!(bomb.len() < 10_000, "{}", bomb.len());
        assert_eq!(
            decompress_from_base64(bomb.as_bytes(), 300_000),
            Err(Lz64Error::TooLarge)
        );
        assert!(decompress_from_base64(bomb.as_bytes(), 4 << 20).is_ok());
    }

    #[test]
    fn what_is_not_lz_string_is_invalid() {
        assert_eq!(
            decompress_from_base64(b"!!!!", 1000),
            Err(Lz64Error::Invalid)
        );
        // Cut short: no end code.
        let whole = lz_str::compress_to_base64("hello hello hello world");
        let cut = &whole.as_bytes()[..whole.len() / 2];
        assert_eq!(decompress_from_base64(cut, 1000), Err(Lz64Error::Invalid));
    }
}
