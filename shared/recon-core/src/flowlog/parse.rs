//! Allocation-free parsers for column values: unsigned integers and IP addresses, on bytes.
//!
//! They accept exactly what AWS writes (plain decimal digits, dotted-quad IPv4 without leading
//! zeros, IPv6 in any form `std` accepts) and return `None` for anything else, never panicking.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A decimal number of at most `max_digits` digits that is no greater than `max`.
/// For the narrow types (ports, protocol, flags) where the digits cannot overflow a `u32`.
#[inline]
fn parse_small(text: &str, max_digits: usize, max: u32) -> Option<u32> {
    let bytes = text.as_bytes();
    if bytes.is_empty() || bytes.len() > max_digits {
        return None;
    }
    let mut value = 0u32;
    for &b in bytes {
        let digit = b.wrapping_sub(b'0');
        if digit > 9 {
            return None;
        }
        value = value * 10 + u32::from(digit);
    }
    (value <= max).then_some(value)
}

/// A decimal `u8`.
#[inline]
pub(crate) fn parse_u8(text: &str) -> Option<u8> {
    parse_small(text, 3, u32::from(u8::MAX)).and_then(|v| u8::try_from(v).ok())
}

/// A decimal `u16`.
#[inline]
pub(crate) fn parse_u16(text: &str) -> Option<u16> {
    parse_small(text, 5, u32::from(u16::MAX)).and_then(|v| u16::try_from(v).ok())
}

/// A decimal `u64`, rejecting overflow.
#[inline]
pub(crate) fn parse_u64(text: &str) -> Option<u64> {
    let bytes = text.as_bytes();
    if bytes.is_empty() || bytes.len() > 20 {
        return None;
    }
    let mut value = 0u64;
    for &b in bytes {
        let digit = b.wrapping_sub(b'0');
        if digit > 9 {
            return None;
        }
        // Nineteen digits always fit; only a twentieth can overflow.
        value = value.checked_mul(10)?.checked_add(u64::from(digit))?;
    }
    Some(value)
}

/// A non-negative decimal `i64` (Unix seconds).
#[inline]
pub(crate) fn parse_i64(text: &str) -> Option<i64> {
    parse_u64(text).and_then(|v| i64::try_from(v).ok())
}

/// An IPv4 dotted quad or an IPv6 address.
#[inline]
pub(crate) fn parse_ip(text: &str) -> Option<IpAddr> {
    match parse_ipv4(text.as_bytes()) {
        Some(v4) => Some(IpAddr::V4(v4)),
        None if text.contains(':') => text.parse::<Ipv6Addr>().ok().map(IpAddr::V6),
        None => None,
    }
}

/// A dotted quad: four decimal octets of one to three digits, no leading zeros, each ≤ 255.
#[inline]
fn parse_ipv4(bytes: &[u8]) -> Option<Ipv4Addr> {
    if bytes.len() < 7 || bytes.len() > 15 {
        return None;
    }
    let mut octets = [0u8; 4];
    let mut index = 0;
    let mut value = 0u16;
    let mut digits = 0;
    for &b in bytes {
        if b == b'.' {
            if digits == 0 || index == 3 {
                return None;
            }
            octets[index] = value as u8;
            index += 1;
            value = 0;
            digits = 0;
            continue;
        }
        let digit = b.wrapping_sub(b'0');
        if digit > 9 || (digits == 1 && value == 0) {
            return None;
        }
        value = value * 10 + u16::from(digit);
        digits += 1;
        if value > 255 {
            return None;
        }
    }
    if index != 3 || digits == 0 {
        return None;
    }
    octets[3] = value as u8;
    Some(Ipv4Addr::from(octets))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers() {
        assert_eq!(parse_u8("255"), Some(255));
        assert_eq!(parse_u8("256"), None);
        assert_eq!(parse_u8("0006"), None);
        assert_eq!(parse_u16("65535"), Some(65535));
        assert_eq!(parse_u16("65536"), None);
        assert_eq!(parse_u16("443"), Some(443));
        assert_eq!(parse_u64("18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64("18446744073709551616"), None);
        assert_eq!(parse_u64("99999999999999999999"), None);
        assert_eq!(parse_i64("1418530010"), Some(1_418_530_010));
        assert_eq!(parse_i64("9223372036854775808"), None);
        for bad in ["", "-1", "+1", "1a", " 1", "１"] {
            assert_eq!(parse_u64(bad), None, "{bad:?}");
            assert_eq!(parse_u16(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn ipv4() {
        let ok = [
            ("192.0.2.1", [192, 0, 2, 1]),
            ("0.0.0.0", [0, 0, 0, 0]),
            ("255.255.255.255", [255; 4]),
            ("203.0.113.250", [203, 0, 113, 250]),
        ];
        for (text, octets) in ok {
            assert_eq!(parse_ip(text), Some(IpAddr::from(octets)), "{text}");
        }
        let bad = [
            "",
            "1.2.3",
            "1.2.3.4.5",
            "256.1.1.1",
            "1.2.3.256",
            "01.2.3.4",
            "08.1.250.216",
            "1..2.3",
            ".1.2.3",
            "1.2.3.",
            "1.2.3.4 ",
            "a.b.c.d",
            "1.2.3.4444",
            "-",
        ];
        for text in bad {
            assert_eq!(parse_ip(text), None, "{text}");
        }
    }

    #[test]
    fn ipv6() {
        let addr = parse_ip("2001:db8:1234:a100:8d6e:3477:df66:f105").expect("v6");
        assert!(addr.is_ipv6());
        assert_eq!(parse_ip("2001:db8::1"), "2001:db8::1".parse().ok());
        assert_eq!(
            parse_ip("::ffff:192.0.2.1"),
            "::ffff:192.0.2.1".parse().ok()
        );
        assert_eq!(parse_ip("2001:db8:::1"), None);
        assert_eq!(parse_ip("2001:db8::g"), None);
    }
}
