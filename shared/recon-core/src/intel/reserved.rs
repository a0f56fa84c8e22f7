//! Address space that threat lists never apply to: private, loopback, link-local, CGNAT,
//! benchmarking, IETF protocol assignments, multicast and reserved blocks (IANA's special-purpose
//! registries, the blocks not globally reachable). GuardDuty applies lists "only to traffic destined for publicly
//! routable IP addresses", so entries touching these blocks are dropped at load time.
//!
//! The documentation blocks (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32) are
//! deliberately *not* reserved here: tests, samples and GuardDuty's own examples use them.

use std::net::IpAddr;

/// IPv4 blocks as `(network, prefix length)`. 255.255.255.255 is inside 240.0.0.0/4.
const V4_RESERVED: [(u32, u32); 11] = [
    (0x0000_0000, 8),  // 0.0.0.0/8 "this network"
    (0x0A00_0000, 8),  // 10.0.0.0/8 RFC 1918
    (0x6440_0000, 10), // 100.64.0.0/10 CGNAT
    (0x7F00_0000, 8),  // 127.0.0.0/8 loopback
    (0xA9FE_0000, 16), // 169.254.0.0/16 link-local
    (0xAC10_0000, 12), // 172.16.0.0/12 RFC 1918
    (0xC000_0000, 24), // 192.0.0.0/24 IETF protocol assignments
    (0xC612_0000, 15), // 198.18.0.0/15 benchmarking
    (0xC0A8_0000, 16), // 192.168.0.0/16 RFC 1918
    (0xE000_0000, 4),  // 224.0.0.0/4 multicast
    (0xF000_0000, 4),  // 240.0.0.0/4 reserved, and broadcast
];

/// IPv6 blocks as `(network, prefix length)`.
const V6_RESERVED: [(u128, u32); 7] = [
    (0, 128),                     // :: unspecified
    (1, 128),                     // ::1 loopback
    (0x0100_u128 << 112, 64),     // 100::/64 discard-only
    (0x2001_0002_u128 << 96, 48), // 2001:2::/48 benchmarking
    (0xfc00_u128 << 112, 7),      // fc00::/7 unique local
    (0xfe80_u128 << 112, 10),     // fe80::/10 link-local
    (0xff00_u128 << 112, 8),      // ff00::/8 multicast
];

fn v4_block((net, len): (u32, u32)) -> (u32, u32) {
    (net, net | u32::MAX.checked_shr(len).unwrap_or(0))
}

/// True when the IPv4 range `first..=last` touches a reserved block.
pub(crate) fn v4_overlaps(first: u32, last: u32) -> bool {
    V4_RESERVED
        .iter()
        .map(|&b| v4_block(b))
        .any(|(lo, hi)| lo <= last && first <= hi)
}

/// True when the IPv6 range `first..=last` touches a reserved block.
pub(crate) fn v6_overlaps(first: u128, last: u128) -> bool {
    V6_RESERVED.iter().any(|&(net, len)| {
        let hi = net | u128::MAX.checked_shr(len).unwrap_or(0);
        net <= last && first <= hi
    })
}

/// True when `ip` is private, loopback, link-local, CGNAT, multicast, unspecified or otherwise
/// reserved: the space threat lists are never matched against. IPv4-mapped IPv6 addresses are
/// judged as IPv4. Documentation ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24,
/// 2001:db8::/32) count as public on purpose, so that tests and samples can use them.
pub fn is_reserved(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(a) => {
            let x = u32::from(a);
            v4_overlaps(x, x)
        }
        IpAddr::V6(a) => {
            let x = u128::from(a);
            v6_overlaps(x, x)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reserved(s: &str) -> bool {
        is_reserved(s.parse().expect("test address"))
    }

    #[test]
    fn private_and_special_blocks() {
        for ip in [
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "127.0.0.1",
            "0.0.0.0",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "192.0.0.9",
            "198.18.0.5",
            "198.19.255.255",
            "224.0.0.1",
            "239.255.255.255",
            "240.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "ff02::1",
            "100::1",
            "2001:2::7",
            "::ffff:10.0.0.1",
        ] {
            assert!(reserved(ip), "{ip} should be reserved");
        }
    }

    #[test]
    fn public_and_documentation_blocks() {
        for ip in [
            "8.8.8.8",
            "172.15.255.255",
            "172.32.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "223.255.255.255",
            "192.0.1.255",
            "198.17.255.255",
            "198.20.0.0",
            "2001:3::1",
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.200",
            "2001:db8::1",
            "2600::1",
            "::ffff:198.51.100.1",
        ] {
            assert!(!reserved(ip), "{ip} should be public");
        }
    }

    #[test]
    fn ranges_containing_reserved_space_overlap() {
        assert!(v4_overlaps(0, u32::MAX));
        assert!(v4_overlaps(0x0800_0000, 0x0BFF_FFFF)); // 8.0.0.0/6 holds 10/8
        assert!(!v4_overlaps(0x0800_0000, 0x09FF_FFFF));
        assert!(v6_overlaps(0, u128::MAX));
        assert!(!v6_overlaps(
            0x2001_0db8_u128 << 96,
            (0x2001_0db8_u128 << 96) | 0xffff
        ));
    }
}
