#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| jointly_ledger::fuzzing::checkpoint(data));
