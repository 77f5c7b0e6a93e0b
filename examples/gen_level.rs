//! Generates a level file in the examples' level format (see `examples/support/level.rs`): props,
//! lights, and spawn points with nested children, from a fixed seed. The `level_loading` example
//! loads it.
//!
//! ```sh
//! cargo run --example gen_level                                  # rewrites assets/levels/demo.level
//! cargo run --example gen_level -- --entities 100000 --out big.level
//! ```

#[path = "support/level.rs"]
#[allow(
    dead_code,
    reason = "shared with the level_loading example, which uses other parts"
)]
mod level;

use std::io::{BufWriter, Write};
use std::path::PathBuf;

fn main() -> Result<(), String> {
    let mut out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/levels/demo.level");
    let mut entities = 3_000;
    let mut seed = 7;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().ok_or(format!("{arg} needs a value"))?;
        match arg.as_str() {
            "--out" => out = value.into(),
            "--entities" => entities = value.parse().map_err(|e| format!("{value}: {e}"))?,
            "--seed" => seed = value.parse().map_err(|e| format!("{value}: {e}"))?,
            _ => {
                return Err(format!(
                    "unknown argument {arg:?} (--out, --entities, --seed)"
                ));
            }
        }
    }
    let name = out
        .file_stem()
        .map_or("level".into(), |s| s.to_string_lossy().into_owned());
    let file = std::fs::File::create(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut writer = BufWriter::new(file);
    level::generate(&name, entities, seed, &mut writer)
        .and_then(|()| writer.flush())
        .map_err(|e| format!("{}: {e}", out.display()))?;
    let bytes = std::fs::metadata(&out).map_or(0, |m| m.len());
    println!("{}: {entities} entities, {bytes} bytes", out.display());
    Ok(())
}
