//! The examples' level format: plain text, one entity a line, read in chunks.
//!
//! ```text
//! # Comments and blank lines are ignored anywhere.
//! level 1                         <- format version
//! name demo                       <- the level's name (one word)
//! entities 6                      <- how many entity lines follow
//! prop 12.5 0 -3.25 crate         <- prop   x y z mesh
//! light 0 8 0 1 0.9 0.8 400       <- light  x y z r g b intensity
//! spawn 10 0 10 2                 <- spawn  x y z team
//!   waypoint 11 0 10              <- waypoint x y z (only as a child)
//!     light 11 2 10 1 0 0 50      <- any kind may be nested
//!   prop 9 0 10 barrel
//! ```
//!
//! Two spaces of indentation per level of nesting make an entity a child of the closest line
//! above it that is one level less indented. A line may be at most one level deeper than the
//! line before it. The `entities` count must equal the number of entity lines.
//!
//! Shared by the `level_loading`, `game` and `gen_level` examples.

use std::io::{self, BufRead, Write};

/// Mesh names props are generated with.
pub const MESHES: [&str; 6] = ["crate", "barrel", "rock", "tree", "fence", "lamp_post"];

/// What one entity line describes.
#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    /// A static prop with a mesh name.
    Prop(String),
    /// A point light: colour and intensity.
    Light([f32; 3], f32),
    /// A spawn point for a team; its children (waypoints, lights, props) are nested under it.
    Spawn(u8),
    /// A patrol point, nested under a spawn point.
    Waypoint,
}

/// One entity line.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// Nesting level: 0 for a root entity, n for a child of the closest line above at n - 1.
    pub depth: usize,
    /// Position.
    pub position: [f32; 3],
    /// Kind and kind-specific data.
    pub kind: Kind,
}

/// The level's header.
#[derive(Clone, Debug, PartialEq)]
pub struct Header {
    /// The level's name.
    pub name: String,
    /// How many entities the file describes.
    pub entities: usize,
}

/// Reads a level a chunk of lines at a time.
pub struct LevelReader<R> {
    reader: R,
    line: String,
    line_no: usize,
    depth: usize,
    records: usize,
}

impl<R: BufRead> LevelReader<R> {
    /// Reads the header.
    pub fn new(reader: R) -> Result<(Self, Header), String> {
        let mut this = LevelReader {
            reader,
            line: String::new(),
            line_no: 0,
            depth: 0,
            records: 0,
        };
        let mut version = None;
        let mut name = None;
        let mut entities = None;
        while entities.is_none() {
            let line = this
                .next_line()?
                .ok_or("the file ends before the header does")?;
            let mut words = line.split_whitespace();
            match (words.next(), words.next()) {
                (Some("level"), Some(v)) => version = Some(v.to_string()),
                (Some("name"), Some(n)) => name = Some(n.to_string()),
                (Some("entities"), Some(n)) => {
                    entities = Some(n.parse().map_err(|e| this.error(format!("{e}")))?)
                }
                _ => return Err(this.error(format!("unexpected header line {line:?}"))),
            }
        }
        if version.as_deref() != Some("1") {
            return Err("not a level file of version 1 (`level 1` first)".into());
        }
        let header = Header {
            name: name.unwrap_or_default(),
            entities: entities.unwrap_or_default(),
        };
        Ok((this, header))
    }

    /// Reads and parses up to `max` entity lines into `out`; returns how many (0 at the end).
    pub fn read_chunk(&mut self, max: usize, out: &mut Vec<Record>) -> Result<usize, String> {
        let mut n = 0;
        while n < max {
            let Some(line) = self.next_line()? else {
                break;
            };
            let record = parse_record(&line).map_err(|e| self.error(e))?;
            if record.depth > self.depth + 1 || (self.records == 0 && record.depth > 0) {
                return Err(self.error("nested more than one level below the line above".into()));
            }
            self.depth = record.depth;
            self.records += 1;
            out.push(record);
            n += 1;
        }
        Ok(n)
    }

    /// The next line that is not blank or a comment, without its line end.
    fn next_line(&mut self) -> Result<Option<String>, String> {
        loop {
            self.line.clear();
            let read = self
                .reader
                .read_line(&mut self.line)
                .map_err(|e| e.to_string())?;
            if read == 0 {
                return Ok(None);
            }
            self.line_no += 1;
            let line = self.line.trim_end();
            if !line.trim_start().is_empty() && !line.trim_start().starts_with('#') {
                return Ok(Some(line.to_string()));
            }
        }
    }

    fn error(&self, message: String) -> String {
        format!("line {}: {message}", self.line_no)
    }
}

fn parse_record(line: &str) -> Result<Record, String> {
    let body = line.trim_start_matches(' ');
    let indent = line.len() - body.len();
    if !indent.is_multiple_of(2) {
        return Err("indentation must be a multiple of two spaces".into());
    }
    let mut words = body.split_whitespace();
    let kind = words.next().unwrap_or_default();
    let mut number = || -> Result<f32, String> {
        let word = words.next().ok_or(format!("{kind}: missing a number"))?;
        word.parse().map_err(|e| format!("{kind}: {word:?}: {e}"))
    };
    let position = [number()?, number()?, number()?];
    let kind = match kind {
        "prop" => Kind::Prop(
            words
                .next()
                .ok_or("prop: missing the mesh name")?
                .to_string(),
        ),
        "light" => {
            let color = [number()?, number()?, number()?];
            Kind::Light(color, number()?)
        }
        "spawn" => Kind::Spawn(number()? as u8),
        "waypoint" => Kind::Waypoint,
        other => return Err(format!("unknown entity kind {other:?}")),
    };
    if let Some(extra) = words.next() {
        return Err(format!("unexpected {extra:?} at the end of the line"));
    }
    Ok(Record {
        depth: indent / 2,
        position,
        kind,
    })
}

/// Writes a level of exactly `entities` entities: props, lights, and spawn points with nested
/// waypoints (some with a light of their own) and props. The same seed gives the same file.
pub fn generate(name: &str, entities: usize, seed: u64, out: &mut impl Write) -> io::Result<()> {
    let mut state = seed;
    let mut random = move || {
        // SplitMix64.
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut unit = move || (random() >> 11) as f32 / (1u64 << 53) as f32;
    writeln!(
        out,
        "# A generated level: {entities} entities (seed {seed})."
    )?;
    writeln!(out, "level 1\nname {name}\nentities {entities}")?;
    let mut left = entities;
    let write = |out: &mut dyn Write, unit: &mut dyn FnMut() -> f32, depth: usize, kind: &str| {
        let [x, y, z] = [
            unit() * 1000.0 - 500.0,
            unit() * 20.0,
            unit() * 1000.0 - 500.0,
        ];
        write!(
            out,
            "{:indent$}{kind} {x:.2} {y:.2} {z:.2}",
            "",
            indent = depth * 2
        )?;
        match kind {
            "prop" => writeln!(out, " {}", MESHES[(unit() * 6.0) as usize % 6]),
            "light" => writeln!(
                out,
                " {:.2} {:.2} {:.2} {:.0}",
                unit(),
                unit(),
                unit(),
                unit() * 1000.0
            ),
            "spawn" => writeln!(out, " {}", (unit() * 4.0) as u8),
            _ => writeln!(out),
        }
    };
    while left > 0 {
        let roll = unit();
        if roll < 0.55 || left < 3 {
            write(out, &mut unit, 0, "prop")?;
            left -= 1;
        } else if roll < 0.75 {
            write(out, &mut unit, 0, "light")?;
            left -= 1;
        } else {
            write(out, &mut unit, 0, "spawn")?;
            left -= 1;
            let children = 1 + (unit() * 4.0) as usize;
            for _ in 0..children.min(left) {
                if left == 0 {
                    break;
                }
                if unit() < 0.2 {
                    write(out, &mut unit, 1, "prop")?;
                    left -= 1;
                    continue;
                }
                write(out, &mut unit, 1, "waypoint")?;
                left -= 1;
                if left > 0 && unit() < 0.3 {
                    write(out, &mut unit, 2, "light")?;
                    left -= 1;
                }
            }
        }
    }
    Ok(())
}
