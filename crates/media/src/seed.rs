//! The random values of a channel, from one seed passed in.
//!
//! A channel draws its ICE credentials (RFC 8445 §5.3), SDES master keys (RFC 4568 §6.1),
//! RTCP CNAME (RFC 7022 §4.2) and the randomised RTCP interval (RFC 3550 §6.3.1) from a
//! ChaCha12 generator seeded with the 256 bits of [`Seed`]. In the product the seed comes
//! from the OS generator ([`Seed::random`]), so the keys are as strong as the OS's; a test
//! passes [`Seed::from_u64`] and gets the same offer, keys and timers on every run, as the
//! str0m/quinn-proto model asks ("random values are passed in").
//!
//! What the seed does not reach: the DTLS handshake's own randomness (client/server random,
//! ECDHE keys) and STUN transaction IDs, which `rtc-dtls` and `rtc-ice` draw internally.
//! They change bytes on the wire, not timing, so a seeded run in simulated time still
//! plays the same samples.

use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};

/// 256 bits that seed one channel's random values. `Debug` does not show them: they are
/// the source of the channel's SRTP keys.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Seed([u8; 32]);

impl Seed {
    /// A seed from the OS's cryptographic generator: for real calls.
    pub fn random() -> Seed {
        let mut bytes = [0; 32];
        rand::rng().fill_bytes(&mut bytes);
        Seed(bytes)
    }

    /// A seed for tests and benchmarks: the same `n` gives the same channel.
    pub fn from_u64(n: u64) -> Seed {
        let mut bytes = [0; 32];
        bytes[..8].copy_from_slice(&n.to_le_bytes());
        Seed(bytes)
    }

    /// The generator this seed starts.
    pub(crate) fn rng(&self) -> StdRng {
        StdRng::from_seed(self.0)
    }
}

impl std::fmt::Debug for Seed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Seed(…)")
    }
}

/// `ice-char` of RFC 8839 §5.4: ALPHA / DIGIT / "+" / "/".
const ICE_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// `n` random ice-chars (6 bits each).
pub(crate) fn ice_string(rng: &mut impl Rng, n: usize) -> String {
    (0..n)
        .map(|_| char::from(ICE_CHARS[rng.random_range(0..ICE_CHARS.len())]))
        .collect()
}

/// ICE credentials: a 48-bit ufrag and a 144-bit password (RFC 8445 §5.3 asks for at
/// least 24 and 128 bits).
pub(crate) fn ice_credentials(rng: &mut impl Rng) -> protocol::media::IceCredentials {
    protocol::media::IceCredentials {
        ufrag: ice_string(rng, 8),
        pwd: ice_string(rng, 24),
    }
}

/// A short-term persistent CNAME: 96 random bits, base64 (RFC 7022 §4.2), so nothing about
/// the user or the app can be read from it and calls cannot be linked by it.
pub(crate) fn cname(rng: &mut impl Rng) -> String {
    ice_string(rng, 16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_values_and_debug_hides_them() {
        let (mut a, mut b) = (Seed::from_u64(7).rng(), Seed::from_u64(7).rng());
        assert_eq!(ice_credentials(&mut a), ice_credentials(&mut b));
        let c = cname(&mut a);
        assert_eq!(c, cname(&mut b));
        assert_eq!(c.len(), 16);
        assert!(c.bytes().all(|b| ICE_CHARS.contains(&b)));
        assert_ne!(
            cname(&mut Seed::from_u64(8).rng()),
            cname(&mut Seed::from_u64(7).rng())
        );
        assert_eq!(format!("{:?}", Seed::random()), "Seed(…)");
        assert_ne!(Seed::random(), Seed::random());
    }
}
