//! Settings that moved to another section: still read where they were,
//! with a warning that names where they live now. A value given in both
//! places is taken from the new one.

use super::{ReadSettings, Settings};

impl Settings {
    /// Moves the values of keys given in their old place to their new one;
    /// returns a warning per key found there.
    pub(super) fn adopt_moved_keys(&mut self) -> Vec<String> {
        let mut warnings = Vec::new();
        let defaults = ReadSettings::default();
        let mut moved = |old: &str, new: &str, taken: bool| {
            warnings.push(match taken {
                true => format!("ingest.{old} is deprecated: use {new}"),
                false => format!("ingest.{old} is deprecated and ignored: {new} is set too"),
            });
        };
        if let Some(ms) = self.ingest.read_timeout_ms.take() {
            let taken = self.read.timeout_ms == defaults.timeout_ms;
            if taken {
                self.read.timeout_ms = ms;
            }
            moved("read_timeout_ms", "[read] timeout_ms", taken);
        }
        if let Some(reads) = self.ingest.max_reads_in_flight.take() {
            let taken = self.read.max_in_flight == defaults.max_in_flight;
            if taken {
                self.read.max_in_flight = reads;
            }
            moved("max_reads_in_flight", "[read] max_in_flight", taken);
        }
        warnings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_read_keys_still_work_and_say_where_they_went() {
        let mut settings =
            Settings::from_toml("[ingest]\nread_timeout_ms = 5000\nmax_reads_in_flight = 4\n")
                .unwrap();
        assert_eq!(
            settings.read,
            ReadSettings {
                timeout_ms: 5_000,
                max_in_flight: 4,
            }
        );
        // Adopted once: nothing is left in the old place.
        assert!(settings.adopt_moved_keys().is_empty());
    }

    #[test]
    fn the_new_place_wins_over_the_old() {
        let mut settings: Settings =
            toml::from_str("[ingest]\nread_timeout_ms = 5000\n[read]\ntimeout_ms = 9000\n")
                .unwrap();
        let warnings = settings.adopt_moved_keys();
        assert_eq!(settings.read.timeout_ms, 9_000);
        assert_eq!(
            warnings,
            ["ingest.read_timeout_ms is deprecated and ignored: [read] timeout_ms is set too"]
        );
    }

    #[test]
    fn without_old_keys_nothing_is_said() {
        let mut settings = Settings::from_toml("[read]\nmax_in_flight = 8\n").unwrap();
        assert!(settings.adopt_moved_keys().is_empty());
        assert_eq!(settings.read.max_in_flight, 8);
    }
}
