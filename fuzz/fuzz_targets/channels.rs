//! Arbitrary text as a Channels object (and as a signalling message carrying one): never a
//! panic; whatever parses encodes to Channels JSON and SDP that parse again.
#![no_main]
use libfuzzer_sys::fuzz_target;
use protocol::channels::{self, ChannelsMessage};
use protocol::sdp;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = ChannelsMessage::parse(text);
    if let Ok(desc) = channels::from_channels_str(text) {
        let json = channels::to_channels_string(&desc);
        let again = channels::from_channels_str(&json).expect("our own Channels JSON must parse");
        assert_eq!(channels::to_channels_string(&again), json, "Channels print is not stable");
        let _ = sdp::parse(&sdp::to_sdp_string(&desc));
    }
});
