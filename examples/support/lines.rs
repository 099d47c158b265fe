//! Shared by the examples that read text lines: [`scan_line`], Go's
//! `bufio.Scanner` loop. Included with `#[path = "support/lines.rs"] mod
//! lines;` (a directory, so that Cargo does not take it for an example).

use std::io::BufRead;

/// Go's `bufio.Scanner` with `ScanLines`: the next line of `input` without
/// its `\n` or `\r\n` (the last line may lack it), or `None` at the end of
/// the input or on an error. Bytes that are not UTF-8 become U+FFFD.
pub fn scan_line(input: &mut impl BufRead) -> Option<String> {
    let mut line = Vec::new();
    match input.read_until(b'\n', &mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) => {
            if line.last() == Some(&b'\n') {
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
            }
            Some(String::from_utf8_lossy(&line).into_owned())
        }
    }
}
