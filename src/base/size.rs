//! Byte sizes as people write them: `65536`, `64KiB`, `1.5 GiB`, `4GB`.
//!
//! Binary units (`KiB`, `MiB`, `GiB`, `TiB`) are powers of 1024; decimal
//! ones (`kB`, `MB`, `GB`, `TB`) powers of 1000, as their names say.

/// The longest start of `text` of at most `most` bytes that ends between
/// two characters: how text is cut short for a message, a datagram or a
/// dead letter without splitting a character.
pub fn prefix(text: &str, most: usize) -> &str {
    let mut end = text.len().min(most);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

const UNITS: [(&str, u64); 13] = [
    ("b", 1),
    ("kib", 1 << 10),
    ("mib", 1 << 20),
    ("gib", 1 << 30),
    ("tib", 1 << 40),
    ("k", 1 << 10),
    ("m", 1 << 20),
    ("g", 1 << 30),
    ("t", 1 << 40),
    ("kb", 1_000),
    ("mb", 1_000_000),
    ("gb", 1_000_000_000),
    ("tb", 1_000_000_000_000),
];

/// Parses a size; `None` when it is not one.
pub fn parse(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let unit = unit.trim().to_ascii_lowercase();
    let factor = if unit.is_empty() {
        1
    } else {
        UNITS.iter().find(|(name, _)| *name == unit)?.1
    };
    if let Ok(whole) = number.parse::<u64>() {
        return whole.checked_mul(factor);
    }
    let value = number.parse::<f64>().ok()? * factor as f64;
    (value.is_finite() && value >= 0.0 && value < u64::MAX as f64).then_some(value.round() as u64)
}

/// For clap: a size or a message saying what a size looks like.
pub fn parse_arg(text: &str) -> Result<u64, String> {
    parse(text).ok_or_else(|| format!("`{text}` is not a size (try 65536, 64KiB or 1MiB)"))
}

/// A size for people: `512 bytes`, `64 KiB`, `1.5 MiB`.
pub fn format(bytes: u64) -> String {
    const NAMES: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < NAMES.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else if value.fract() == 0.0 {
        format!("{value} {}", NAMES[unit])
    } else {
        format!("{value:.1} {}", NAMES[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse("65536"), Some(65536));
        assert_eq!(parse("64KiB"), Some(65536));
        assert_eq!(parse("4 GiB"), Some(4 << 30));
        assert_eq!(parse("1.5MiB"), Some(1_572_864));
        assert_eq!(parse("2GB"), Some(2_000_000_000));
        assert_eq!(parse("12 parsecs"), None);
        assert_eq!(parse(""), None);
        assert_eq!(parse("99999999999999TiB"), None);
    }

    #[test]
    fn sizes_format() {
        assert_eq!(format(512), "512 bytes");
        assert_eq!(format(1 << 20), "1 MiB");
        assert_eq!(format(1_572_864), "1.5 MiB");
    }
}
