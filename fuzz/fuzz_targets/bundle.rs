#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| jointly::fuzzing::bundle_file(data));
