//! The charts' font, built into the binary: DejaVu Sans (free licence in
//! `assets/fonts/DejaVu-LICENSE`). Nothing is looked up on the system, so a
//! chart looks the same on every machine.

use std::sync::Once;

use plotters::style::{FontStyle, register_font};

/// The family name charts ask for.
pub const FAMILY: &str = "sans-serif";

static REGULAR: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
static BOLD: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");

/// Registers the built-in font with plotters, once per process.
pub fn register() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for (style, bytes) in [(FontStyle::Normal, REGULAR), (FontStyle::Bold, BOLD)] {
            if register_font(FAMILY, style, bytes).is_err() {
                panic!("the built-in font is a valid TrueType file");
            }
        }
    });
}
