//! Numbers as people read them on a chart: 12.5M, 850k, 1,234.

/// `12.5M`, `10M`, `850k`, `12.3k`, `999`.
pub fn short(value: f64) -> String {
    let magnitude = value.abs();
    let (scaled, suffix) = if magnitude >= 1e9 {
        (value / 1e9, "B")
    } else if magnitude >= 1e6 {
        (value / 1e6, "M")
    } else if magnitude >= 1e3 {
        (value / 1e3, "k")
    } else {
        return trim(format!("{value:.1}"));
    };
    let digits = if scaled.abs() >= 100.0 {
        0
    } else if scaled.abs() >= 10.0 {
        1
    } else {
        2
    };
    format!("{}{suffix}", trim(format!("{scaled:.digits$}")))
}

/// `12,500,000`.
pub fn grouped(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `3h 05m`, `12m 30s`, `45s`.
pub fn duration(seconds: f64) -> String {
    let s = seconds.round() as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
    }
}

fn trim(text: String) -> String {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_like_headlines() {
        assert_eq!(short(12_500_000.0), "12.5M");
        assert_eq!(short(10_000_000.0), "10M");
        assert_eq!(short(10_500_000.0), "10.5M");
        assert_eq!(short(850_000.0), "850k");
        assert_eq!(short(12_345.0), "12.3k");
        assert_eq!(short(1_234.0), "1.23k");
        assert_eq!(short(999.0), "999");
        assert_eq!(short(0.5), "0.5");
        assert_eq!(short(-2_500.0), "-2.5k");
        assert_eq!(short(2_000_000_000.0), "2B");
        assert_eq!(grouped(12_500_000), "12,500,000");
        assert_eq!(grouped(999), "999");
        assert_eq!(duration(45.0), "45s");
        assert_eq!(duration(750.0), "12m 30s");
        assert_eq!(duration(11_100.0), "3h 05m");
    }
}
