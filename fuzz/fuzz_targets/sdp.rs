//! Arbitrary text as SDP: never a panic; whatever parses prints SDP that parses again to
//! the same model.
#![no_main]
use libfuzzer_sys::fuzz_target;
use protocol::{channels, sdp};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(desc) = sdp::parse(text) {
        let printed = sdp::to_sdp_string(&desc);
        let again = sdp::parse(&printed).expect("our own SDP must parse");
        assert_eq!(sdp::to_sdp_string(&again), printed, "SDP print is not stable");
        // And the Channels encoding of anything we accept must parse back.
        channels::from_channels_value(channels::to_channels_value(&desc))
            .expect("our own Channels JSON must parse");
    }
});
