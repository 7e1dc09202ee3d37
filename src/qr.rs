//! Share links as QR codes in the terminal, for phone clients (v2rayNG, Shadowrocket) that
//! import by scanning.

use qrcode::{QrCode, render::unicode::Dense1x2};

/// `text` as a QR code drawn with half-block characters, two modules per character cell,
/// light on dark so it scans from a dark terminal; ends with a newline.
pub fn to_terminal(text: &str) -> Result<String, String> {
    let code = QrCode::new(text.as_bytes()).map_err(|e| format!("cannot encode a QR code: {e}"))?;
    let mut drawn = code
        .render::<Dense1x2>()
        .dark_color(Dense1x2::Light)
        .light_color(Dense1x2::Dark)
        .quiet_zone(true)
        .build();
    drawn.push('\n');
    Ok(drawn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_becomes_a_square_of_half_blocks() {
        let link = "vless://2ad043a0-b930-46f8-bd55-1fcefc93339a@example.test:443?encryption=none&security=tls&type=ws&path=%2Fxy#demo";
        let drawn = to_terminal(link).unwrap();
        let lines: Vec<&str> = drawn.lines().collect();
        let width = lines[0].chars().count();
        // Each line holds two rows of modules: as many lines as half the width, rounded up.
        assert_eq!(lines.len(), width.div_ceil(2));
        assert!(lines.iter().all(|line| line.chars().count() == width));
        assert!(drawn.contains('\u{2580}') || drawn.contains('\u{2584}'));
        assert!(to_terminal(&"x".repeat(8000)).is_err());
    }
}
