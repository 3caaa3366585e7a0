//! Arbitrary text as a Media-, Ringer-, device-protocol or client-API message: never a panic; whatever
//! parses prints JSON that parses to the same message.
#![no_main]
use libfuzzer_sys::fuzz_target;
use protocol::api::ApiMessage;
use protocol::media_protocol::MediaRequest;
use protocol::ringer::{DeviceRequest, RingerRequest};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(m) = MediaRequest::parse(text) {
        let again = MediaRequest::parse(&m.to_value().to_string()).expect("own output parses");
        assert_eq!(again, m);
    }
    // The Ringer and device protocols: parsing alone must not panic.
    let _ = RingerRequest::parse(text);
    let _ = DeviceRequest::parse(text);
    if let Ok(m) = ApiMessage::parse(text) {
        let again = ApiMessage::parse(&m.to_value().to_string()).expect("own output parses");
        assert_eq!(again, m);
    }
});
