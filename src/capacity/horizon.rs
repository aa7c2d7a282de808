//! How many days a forecast looks ahead: 1 to 92 (a quarter), 28 unless
//! told otherwise. One type for the CLI's `--horizon` and the API's
//! `?horizon=`, so both refuse the same values with the same words.

use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Horizon(u32);

/// Longest forecast: a quarter ahead.
pub const MAX_HORIZON: u32 = 92;

impl Horizon {
    pub fn days(self) -> u32 {
        self.0
    }
}

impl Default for Horizon {
    fn default() -> Self {
        Self(28)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("horizon {0:?}: a number of days from 1 to {MAX_HORIZON}")]
pub struct BadHorizon(String);

impl TryFrom<u32> for Horizon {
    type Error = BadHorizon;

    fn try_from(days: u32) -> Result<Self, BadHorizon> {
        if (1..=MAX_HORIZON).contains(&days) {
            Ok(Self(days))
        } else {
            Err(BadHorizon(days.to_string()))
        }
    }
}

impl FromStr for Horizon {
    type Err = BadHorizon;

    fn from_str(text: &str) -> Result<Self, BadHorizon> {
        let days = text
            .parse::<u32>()
            .map_err(|_| BadHorizon(text.to_owned()))?;
        Self::try_from(days).map_err(|_| BadHorizon(text.to_owned()))
    }
}

impl std::fmt::Display for Horizon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn horizons_are_1_to_92_days() {
        assert_eq!("1".parse::<Horizon>().unwrap().days(), 1);
        assert_eq!("92".parse::<Horizon>().unwrap().days(), 92);
        assert_eq!(Horizon::default().days(), 28);
        for bad in ["0", "93", "-1", "x", ""] {
            let refused = bad.parse::<Horizon>().unwrap_err().to_string();
            assert!(refused.contains("from 1 to 92"), "{refused}");
        }
    }
}
