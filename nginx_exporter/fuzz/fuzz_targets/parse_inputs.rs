#![no_main]
//! What nginx_exporter parses from outside: the HTTP/1.1 response nginx sends (status line, headers, chunked or
//! sized body), the stub_status page, and `--nginx.scrape-uri` values. Errors are fine; panics are not.

use nginx_exporter::client::http1::read_response;
use nginx_exporter::client::stub_status::parse;
use nginx_exporter::client::target::Target;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = read_response(&mut &data[..]);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = parse(text);
        let _ = Target::parse(text);
    }
});
