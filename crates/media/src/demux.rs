//! What a datagram on the media socket is, told by its first byte (RFC 7983 §7).
//!
//! One UDP port carries STUN (ICE checks and TURN control), DTLS, TURN channel data and
//! RTP/RTCP at once (RFC 5764 §5.1.2, RFC 8656 §12). The first byte alone separates them;
//! RTP and RTCP sharing a port (rtcp-mux) are told apart by the second byte (RFC 5761
//! §4). This module only classifies: it parses nothing further, so it is total and cannot
//! panic, and each protocol's own parser checks the rest.

/// The protocol a received datagram belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Datagram {
    /// STUN (first byte 0–3): ICE connectivity checks, TURN control messages.
    Stun,
    /// DTLS record (first byte 20–63): the DTLS-SRTP handshake.
    Dtls,
    /// TURN ChannelData (first byte 64–79, RFC 8656 §12.4).
    TurnChannel,
    /// RTP (first byte 128–191, second byte not an RTCP packet type).
    Rtp,
    /// RTCP (first byte 128–191, second byte 192–223).
    Rtcp,
    /// Anything else: empty, ZRTP (16–19, which we do not speak), or garbage. Dropped.
    Unknown,
}

/// Classifies one received datagram (RFC 7983 §7, RFC 5761 §4).
pub fn classify(datagram: &[u8]) -> Datagram {
    match datagram {
        [0..=3, ..] => Datagram::Stun,
        [20..=63, ..] => Datagram::Dtls,
        [64..=79, ..] => Datagram::TurnChannel,
        // RFC 5761 §4: RTCP packet types 192–223 occupy the M bit + PT byte that RTP
        // payload types 64–95 with the marker set would, which is why those PTs are barred
        // with rtcp-mux. A lone byte cannot be either.
        [128..=191, 192..=223, ..] => Datagram::Rtcp,
        [128..=191, _, ..] => Datagram::Rtp,
        _ => Datagram::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_first_byte_lands_in_its_rfc_7983_range() {
        for b in 0..=255u8 {
            let got = classify(&[b, 0]);
            let want = match b {
                0..=3 => Datagram::Stun,
                20..=63 => Datagram::Dtls,
                64..=79 => Datagram::TurnChannel,
                128..=191 => Datagram::Rtp,
                _ => Datagram::Unknown,
            };
            assert_eq!(got, want, "first byte {b}");
        }
    }

    #[test]
    fn rtcp_is_told_from_rtp_by_the_packet_type_byte() {
        // Sender report (200), receiver report (201), RTPFB (205), PSFB (206), XR (207).
        for pt in [192u8, 200, 201, 205, 206, 207, 223] {
            assert_eq!(classify(&[0x80, pt, 0, 1]), Datagram::Rtcp, "byte {pt}");
        }
        // PCMU, PCMA, Opus 111 with and without the marker; 224 = marker + PT 96.
        for pt in [0u8, 8, 111, 0x80, 0x80 | 111, 191, 224] {
            assert_eq!(classify(&[0x80, pt, 0, 1]), Datagram::Rtp, "byte {pt}");
        }
    }

    #[test]
    fn short_datagrams_are_total() {
        assert_eq!(classify(&[]), Datagram::Unknown);
        assert_eq!(classify(&[0x80]), Datagram::Unknown);
        assert_eq!(classify(&[0x00]), Datagram::Stun);
        assert_eq!(classify(&[22]), Datagram::Dtls);
        assert_eq!(classify(&[0x40]), Datagram::TurnChannel);
    }
}
