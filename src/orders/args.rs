//! An order's arguments, checked against the types the host's allow-list
//! declares, and put into the action's command words. A value is never
//! read by a shell: it becomes a whole word, or part of one where the
//! allow-list writes `{NAME}` inside a word.

/// What an argument may be: declared in the configuration, which only
/// reads it; what each type admits is said here.
pub use crate::config::ArgType;
use std::collections::BTreeMap;

/// The longest argument value of any type (a word is at most 64).
pub const LONGEST_VALUE: usize = 256;

/// The names a type may have in the allow-list.
pub const TYPES: [&str; 5] = ["ip", "cidr", "int", "word", "duration"];

impl ArgType {
    /// Whether the type is one sheepdog knows (checked as the config is
    /// read, so a typo is found before an order arrives).
    pub fn check(&self) -> Result<(), String> {
        match self {
            ArgType::Named(name) if TYPES.contains(&name.as_str()) => Ok(()),
            ArgType::Named(name) => Err(format!(
                "unknown argument type `{name}` (one of {}, or a list of words)",
                TYPES.join(", ")
            )),
            ArgType::OneOf(words) if words.is_empty() => {
                Err("a list of words must not be empty".into())
            }
            ArgType::OneOf(_) => Ok(()),
        }
    }

    /// Whether `value` is of this type; why not otherwise.
    pub fn admits(&self, value: &str) -> Result<(), String> {
        // A typed argument is exactly its type: no whitespace, no line
        // breaks (`" 5m\n"` and `"5m\n3s"` were durations), no length a
        // type never needs (1.5 MB of spaces was one).
        if value.len() > LONGEST_VALUE || value.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            let start: String = value.chars().take(40).collect();
            let what = match self {
                ArgType::Named(name) => name.as_str(),
                ArgType::OneOf(_) => "choice",
            };
            return Err(format!(
                "{start:?}{} is not a valid {what}: a typed argument has no spaces or line breaks, and at most {LONGEST_VALUE} bytes",
                if start.len() < value.len() { "…" } else { "" }
            ));
        }
        let ok = match self {
            ArgType::OneOf(words) => words.iter().any(|w| w == value),
            ArgType::Named(name) => match name.as_str() {
                "ip" => value.parse::<std::net::IpAddr>().is_ok(),
                "cidr" => is_cidr(value),
                "int" => value.parse::<i64>().is_ok(),
                "word" => {
                    !value.is_empty()
                        && value.len() <= 64
                        && value
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
                        && !value.starts_with(['-', '.'])
                }
                "duration" => crate::base::cli::parse_duration(value).is_ok(),
                _ => false,
            },
        };
        if ok {
            Ok(())
        } else {
            Err(match self {
                ArgType::OneOf(words) => format!("`{value}` is not one of {}", words.join(", ")),
                ArgType::Named(name) => format!("`{value}` is not a valid {name}"),
            })
        }
    }
}

fn is_cidr(value: &str) -> bool {
    let Some((ip, bits)) = value.split_once('/') else {
        return false;
    };
    let Ok(ip) = ip.parse::<std::net::IpAddr>() else {
        return false;
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    bits.parse::<u8>().is_ok_and(|b| b <= max) && !bits.starts_with('+')
}

/// Checks an order's arguments against the declared ones: every one
/// present, none extra, each of its type.
pub fn check(
    declared: &BTreeMap<String, ArgType>,
    given: &BTreeMap<String, String>,
) -> Result<(), String> {
    if let Some(extra) = given.keys().find(|k| !declared.contains_key(*k)) {
        return Err(format!(
            "argument `{extra}` is not declared for this action"
        ));
    }
    for (name, kind) in declared {
        let value = given
            .get(name)
            .ok_or_else(|| format!("argument `{name}` is missing"))?;
        kind.admits(value)
            .map_err(|why| format!("argument `{name}`: {why}"))?;
    }
    Ok(())
}

/// The action's command with `{NAME}` replaced by the argument's value in
/// every word; braces that name no declared argument stay as they are
/// (`borg create ::{now}` keeps its own placeholder).
pub fn fill(cmd: &[String], given: &BTreeMap<String, String>) -> Vec<String> {
    cmd.iter()
        .map(|word| {
            let mut word = word.clone();
            for (name, value) in given {
                word = word.replace(&format!("{{{name}}}"), value);
            }
            word
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(t: &str) -> ArgType {
        ArgType::Named(t.into())
    }

    #[test]
    fn values_are_checked_against_their_types() {
        for (t, good, bad) in [
            ("ip", "203.0.113.7", "1.2.3.4; rm -rf /"),
            ("ip", "::1", "../../"),
            ("cidr", "10.0.0.0/8", "10.0.0.0/33"),
            ("int", "-3", "3.5"),
            ("word", "nginx", "-rf"),
            ("word", "a_b-c.d", "a b"),
            ("duration", "5m", "soon"),
            ("duration", "5m", " 5m\n"),
            ("duration", "5m", "5m\n3s"),
            ("duration", "1h30m", "1h 30m"),
            ("int", "3", "3\r"),
            ("cidr", "10.0.0.0/8", "10.0.0.0/8\n"),
        ] {
            assert_eq!(named(t).admits(good), Ok(()), "{t} {good}");
            assert!(named(t).admits(bad).is_err(), "{t} {bad}");
        }
        let spaces = format!("5m{}", " ".repeat(1_500_000));
        let why = named("duration").admits(&spaces).unwrap_err();
        assert!(why.len() < 200, "the refusal is bounded: {why}");
        let mode = ArgType::OneOf(vec!["drop".into(), "reject".into()]);
        assert!(mode.admits("drop").is_ok() && mode.admits("accept").is_err());
        assert!(named("ipv9").check().is_err());
    }

    #[test]
    fn arguments_are_all_there_none_extra_and_filled_into_words() {
        let declared = BTreeMap::from([("ip".to_string(), named("ip"))]);
        let given = BTreeMap::from([("ip".to_string(), "203.0.113.7".to_string())]);
        assert_eq!(check(&declared, &given), Ok(()));
        assert!(
            check(&declared, &BTreeMap::new())
                .unwrap_err()
                .contains("missing")
        );
        let mut extra = given.clone();
        extra.insert("port".into(), "22".into());
        assert!(
            check(&declared, &extra)
                .unwrap_err()
                .contains("not declared")
        );
        let cmd: Vec<String> = [
            "nft", "add", "element", "inet", "t", "s", "{ {ip} }", "::{now}",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            fill(&cmd, &given)[6..],
            ["{ 203.0.113.7 }".to_string(), "::{now}".to_string()]
        );
    }
}
