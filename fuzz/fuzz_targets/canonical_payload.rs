#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| jointly::fuzzing::canonical_payload(data));
