//! ITU-T G.711 mu-law and A-law, the codecs of the public phone network.
//!
//! Decoding is a table lookup (tables built at compile time); encoding is a few shifts.

const MULAW_BIAS: i32 = 0x84;
const MULAW_CLIP: i32 = 32_635;

/// Decodes one mu-law byte to a 16-bit linear sample.
#[inline]
pub fn mulaw_decode(byte: u8) -> i16 {
    MULAW_TABLE[byte as usize]
}

/// Decodes one A-law byte to a 16-bit linear sample.
#[inline]
pub fn alaw_decode(byte: u8) -> i16 {
    ALAW_TABLE[byte as usize]
}

/// Encodes one 16-bit linear sample as mu-law.
#[inline]
pub fn mulaw_encode(sample: i16) -> u8 {
    let mut s = i32::from(sample);
    let sign = if s < 0 {
        s = -s;
        0x80
    } else {
        0
    };
    s = s.min(MULAW_CLIP) + MULAW_BIAS;
    // exponent = position of the highest set bit among bits 7..=14
    let exponent = (31 - (s as u32).leading_zeros()).saturating_sub(7).min(7);
    let mantissa = (s >> (exponent + 3)) & 0x0F;
    !(sign | ((exponent as i32) << 4) | mantissa) as u8
}

/// Encodes one 16-bit linear sample as A-law.
#[inline]
pub fn alaw_encode(sample: i16) -> u8 {
    let mut v = i32::from(sample) >> 3; // 13-bit magnitude domain
    let mask = if v >= 0 {
        0xD5
    } else {
        v = -v - 1;
        0x55
    };
    // segment: number of bits above the lowest 5
    let seg = if v <= 0x1F {
        0
    } else {
        (32 - (v as u32).leading_zeros()) as i32 - 5
    };
    if seg >= 8 {
        return (0x7F ^ mask) as u8;
    }
    let mantissa = if seg < 2 {
        (v >> 1) & 0x0F
    } else {
        (v >> seg) & 0x0F
    };
    (((seg << 4) | mantissa) ^ mask) as u8
}

const fn mulaw_decode_calc(byte: u8) -> i16 {
    let u = !byte;
    let sign = u & 0x80;
    let exponent = ((u >> 4) & 0x07) as i32;
    let mantissa = (u & 0x0F) as i32;
    let magnitude = (((mantissa << 3) + MULAW_BIAS) << exponent) - MULAW_BIAS;
    if sign != 0 {
        -magnitude as i16
    } else {
        magnitude as i16
    }
}

const fn alaw_decode_calc(byte: u8) -> i16 {
    let a = byte ^ 0x55;
    let mut t = ((a & 0x0F) as i32) << 4;
    let seg = ((a & 0x70) >> 4) as i32;
    match seg {
        0 => t += 8,
        1 => t += 0x108,
        _ => {
            t += 0x108;
            t <<= seg - 1;
        }
    }
    if a & 0x80 != 0 { t as i16 } else { -t as i16 }
}

static MULAW_TABLE: [i16; 256] = {
    let mut t = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = mulaw_decode_calc(i as u8);
        i += 1;
    }
    t
};

static ALAW_TABLE: [i16; 256] = {
    let mut t = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = alaw_decode_calc(i as u8);
        i += 1;
    }
    t
};

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn mulaw_known_values() {
        assert_eq!(mulaw_encode(0), 0xFF);
        assert_eq!(mulaw_decode(0xFF), 0);
        assert_eq!(mulaw_decode(0x7F), 0);
        assert_eq!(mulaw_decode(0x00), -32_124);
        assert_eq!(mulaw_decode(0x80), 32_124);
        assert_eq!(mulaw_encode(i16::MAX), 0x80);
        assert_eq!(mulaw_encode(i16::MIN), 0x00);
    }

    #[test]
    fn alaw_known_values() {
        assert_eq!(alaw_encode(0), 0xD5);
        assert_eq!(alaw_decode(0xD5), 8);
        assert_eq!(alaw_decode(0x55), -8);
        assert_eq!(alaw_decode(0xAA), 32_256);
        assert_eq!(alaw_decode(0x2A), -32_256);
    }

    #[test]
    fn every_code_round_trips() {
        for b in 0..=255u8 {
            let m = mulaw_decode(b);
            // 0x7F and 0xFF both decode to 0; 0 encodes as 0xFF.
            if m != 0 {
                assert_eq!(mulaw_encode(m), b, "mu-law code {b:#x}");
            }
            assert_eq!(alaw_encode(alaw_decode(b)), b, "A-law code {b:#x}");
        }
    }

    proptest! {
        #[test]
        fn quantisation_error_is_bounded(s in any::<i16>()) {
            // G.711 keeps roughly 12-13 bits of precision: error at most ~1/16 of magnitude
            // plus the smallest step.
            let m = i32::from(mulaw_decode(mulaw_encode(s)));
            let a = i32::from(alaw_decode(alaw_encode(s)));
            let s = i32::from(s).clamp(-32_635, 32_635);
            let bound = s.abs() / 16 + 16;
            prop_assert!((m - s).abs() <= bound, "mu-law {} -> {}", s, m);
            prop_assert!((a - s).abs() <= bound + 16, "A-law {} -> {}", s, a);
        }
    }
}
