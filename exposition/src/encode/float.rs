//! Float formatting as Go's `strconv.FormatFloat(v, 'g', -1, 64)`.

/// Appends `v` formatted as the Go client writes sample values.
pub fn write_float(out: &mut Vec<u8>, v: f64) {
    out.extend_from_slice(format_float(v).as_bytes());
}

/// Formats `v` as the Go client writes sample values.
pub fn format_float(v: f64) -> String {
    format!("{v}")
}
