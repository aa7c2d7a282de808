//! How one insert into ClickHouse ended, and what retrying can do about an
//! error: the shipper's whole policy for failures is [`classify`].

/// How one insert ended.
#[derive(Debug)]
pub enum Outcome {
    Stored,
    /// ClickHouse refused these rows as data (code and message).
    Refused(String),
    /// An error known to pass (outage, overload, configuration being
    /// fixed): try again later, never split.
    Unavailable(String),
    /// Any other error: may be about the rows, may pass; tried again a few
    /// times before it counts as a refusal.
    Failed(String),
}

/// Sorts an insert error by what retrying can do about it.
///
/// - Outages, overload and configuration errors (no ClickHouse exception
///   code at all — network, timeouts, a proxy — or a code in [`PASSING`])
///   are [`Outcome::Unavailable`]: they affect every insert alike and pass
///   once the server (or its operator) recovers; splitting would only
///   dead-letter good rows.
/// - Codes in [`DATA_ERRORS`] are ClickHouse's verdict on the rows:
///   [`Outcome::Refused`].
/// - Code 252 is both: "too many parts" (merges behind inserts: overload)
///   and "too many partitions for a single INSERT block" (this insert's
///   rows: split it). The message tells them apart.
/// - Anything else is [`Outcome::Failed`]: retried a few times, then split.
pub fn classify(error: &clickhouse::error::Error) -> Outcome {
    /// "These bytes are not valid rows" and "these rows break a rule".
    const DATA_ERRORS: [u32; 19] = [
        6, 26, 27, 32, 33, 36, 38, 41, 53, 69, 70, 72, 73, 117, 131, 190, 321, 349, 469,
    ];
    /// Outages, overload, shutdown, missing tables or rights, disks.
    /// (279: no connection to a shard of a cluster; 519: no replica of one.)
    const PASSING: [u32; 39] = [
        16, 60, 62, 74, 75, 76, 81, 159, 160, 164, 173, 192, 193, 194, 195, 202, 203, 209, 210,
        236, 241, 242, 243, 274, 279, 285, 286, 290, 319, 394, 425, 439, 497, 516, 519, 733, 999,
        1000, 1002,
    ];
    const TOO_MANY_PARTS: u32 = 252;
    let text = error.to_string();
    let clickhouse::error::Error::BadResponse(message) = error else {
        return Outcome::Unavailable(text);
    };
    match exception_code(message) {
        None => Outcome::Unavailable(text),
        Some(TOO_MANY_PARTS) if message.to_ascii_lowercase().contains("partitions") => {
            Outcome::Refused(text)
        }
        Some(code) if PASSING.contains(&code) || code == TOO_MANY_PARTS => {
            Outcome::Unavailable(text)
        }
        Some(code) if DATA_ERRORS.contains(&code) => Outcome::Refused(text),
        Some(_) => Outcome::Failed(text),
    }
}

/// `N` of "Code: N" in a ClickHouse error message.
fn exception_code(message: &str) -> Option<u32> {
    let rest = &message[message.find("Code: ")? + 6..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exception_codes_are_read_from_messages() {
        let message = "Code: 33, e.displayText() = DB::Exception: Cannot read all data";
        assert_eq!(exception_code(message), Some(33));
        assert_eq!(exception_code("Connection refused"), None);
    }

    fn outcome(message: &str) -> Outcome {
        classify(&clickhouse::error::Error::BadResponse(message.into()))
    }

    #[test]
    fn errors_are_sorted_by_what_retrying_can_do() {
        let refused = "Code: 33, e.displayText() = DB::Exception: Cannot read all data";
        assert!(matches!(outcome(refused), Outcome::Refused(_)));
        assert!(matches!(
            outcome("Code: 241. Memory limit"),
            Outcome::Unavailable(_)
        ));
        assert!(matches!(
            classify(&clickhouse::error::Error::TimedOut),
            Outcome::Unavailable(_)
        ));
        // A proxy's answer carries no ClickHouse code: an outage.
        assert!(matches!(
            outcome("502 Bad Gateway"),
            Outcome::Unavailable(_)
        ));
        // Code 252 twice over: overload, or this insert's rows.
        let parts = "Code: 252. DB::Exception: Too many parts (300). Merges are processing significantly slower than inserts. (TOO_MANY_PARTS)";
        assert!(matches!(outcome(parts), Outcome::Unavailable(_)));
        let partitions = "Code: 252. DB::Exception: Too many partitions for single INSERT block (more than 100). (TOO_MANY_PARTS)";
        assert!(matches!(outcome(partitions), Outcome::Refused(_)));
        // Unknown to us: tried again, split if it persists.
        let thrown = "Code: 395. DB::Exception: Value passed to 'throwIf' function is non-zero";
        assert!(matches!(outcome(thrown), Outcome::Failed(_)));
    }
}
