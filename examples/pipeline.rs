//! The pipeline of *The Go Programming Language*, section 8.4.3
//! (gopl.io/ch8/pipeline3): counter → squarer → printer over unbuffered
//! channels with unidirectional types. This is examples/pipeline3.rs under
//! the short name the README uses; read that file for the program.
//!
//! ```text
//! cargo run --release --example pipeline
//! ```

#[path = "pipeline3.rs"]
mod pipeline3;

fn main() -> std::io::Result<()> {
    pipeline3::run(&mut std::io::stdout())
}
