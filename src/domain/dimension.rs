//! The dimensions a day's figures are broken down by (docs/design.md §2,
//! "Segments"): every event may carry them, and a session takes the value
//! of its earliest event that does.

use std::fmt;
use std::str::FromStr;

/// A field of the event that segments users.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dimension {
    Platform,
    Country,
    Org,
}

impl Dimension {
    /// Every dimension, in the order the jobs keep them.
    pub const ALL: [Dimension; 3] = [Dimension::Platform, Dimension::Country, Dimension::Org];

    /// The event field's name, as the API and the tables spell it.
    pub fn name(self) -> &'static str {
        match self {
            Dimension::Platform => "platform",
            Dimension::Country => "country",
            Dimension::Org => "org_id",
        }
    }

    /// Its place in [`Dimension::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// How a session without the field is shown (its value is `""`).
pub const UNKNOWN_LABEL: &str = "unknown";

/// The label of a value: itself, or "unknown" for `""`.
pub fn label(value: &str) -> &str {
    if value.is_empty() {
        UNKNOWN_LABEL
    } else {
        value
    }
}

impl fmt::Display for Dimension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Dimension {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Dimension::ALL
            .into_iter()
            .find(|d| d.name() == text)
            .ok_or_else(|| format!("{text:?} is not a dimension (platform, country or org_id)"))
    }
}

impl<'de> serde::Deserialize<'de> for Dimension {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_and_nothing_else_does() {
        for dimension in Dimension::ALL {
            assert_eq!(dimension.name().parse(), Ok(dimension));
            assert_eq!(Dimension::ALL[dimension.index()], dimension);
        }
        assert!("org".parse::<Dimension>().is_err());
        assert_eq!(label(""), "unknown");
        assert_eq!(label("US"), "US");
    }
}
