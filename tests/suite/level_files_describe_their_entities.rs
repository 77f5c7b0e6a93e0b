//! The level format of the level-loading example: a generated level parses, in chunks, into
//! exactly the entities its header announces, with valid nesting; malformed files are refused.

#[path = "../../examples/support/level.rs"]
mod level;

use level::{Kind, LevelReader, Record};

fn read_all(text: &str, chunk: usize) -> Result<(level::Header, Vec<Record>), String> {
    let (mut reader, header) = LevelReader::new(text.as_bytes())?;
    let mut records = Vec::new();
    while reader.read_chunk(chunk, &mut records)? > 0 {}
    Ok((header, records))
}

#[test]
fn generated_levels_hold_exactly_the_announced_entities() {
    for entities in [1, 2, 3, 10, 1_000, 5_000] {
        let mut text = Vec::new();
        level::generate("test", entities, 7, &mut text).unwrap();
        let text = String::from_utf8(text).unwrap();
        let (header, records) = read_all(&text, 64).unwrap();
        assert_eq!(header.entities, entities);
        assert_eq!(records.len(), entities, "{entities}-entity level");
        // Nesting: the first line is a root, each line at most one level below the previous.
        assert_eq!(records[0].depth, 0);
        for pair in records.windows(2) {
            assert!(pair[1].depth <= pair[0].depth + 1);
        }
        if entities >= 1_000 {
            let spawns = records
                .iter()
                .filter(|r| matches!(r.kind, Kind::Spawn(_)))
                .count();
            let children = records.iter().filter(|r| r.depth > 0).count();
            assert!(
                spawns > 0 && children > spawns,
                "spawn points have children"
            );
        }
    }
}

#[test]
fn the_committed_demo_level_parses() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/levels/demo.level");
    let text = std::fs::read_to_string(path).unwrap();
    let (header, records) = read_all(&text, 100).unwrap();
    assert_eq!(header.name, "demo");
    assert_eq!(records.len(), header.entities);
}

#[test]
fn the_documented_example_parses() {
    let text = "# comment\nlevel 1\nname doc\nentities 6\nprop 12.5 0 -3.25 crate\n\
                light 0 8 0 1 0.9 0.8 400\nspawn 10 0 10 2\n  waypoint 11 0 10\n\
                \x20   light 11 2 10 1 0 0 50\n  prop 9 0 10 barrel\n";
    let (header, records) = read_all(text, 4).unwrap();
    assert_eq!(header.entities, 6);
    let depths: Vec<usize> = records.iter().map(|r| r.depth).collect();
    assert_eq!(depths, [0, 0, 0, 1, 2, 1]);
    assert_eq!(records[3].kind, Kind::Waypoint);
    assert_eq!(records[5].kind, Kind::Prop("barrel".into()));
}

#[test]
fn malformed_levels_are_refused() {
    let header = "level 1\nname bad\nentities 2\n";
    for body in [
        "  prop 0 0 0 crate\n",                // a child with no parent
        "spawn 0 0 0 1\n    waypoint 1 1 1\n", // two levels deeper at once
        "prop 0 0 crate\n",                    // a missing coordinate
        "tree 0 0 0\n",                        // an unknown kind
        " prop 0 0 0 crate\n",                 // odd indentation
        "prop 0 0 0 crate extra\n",            // trailing words
    ] {
        assert!(read_all(&format!("{header}{body}"), 8).is_err(), "{body:?}");
    }
    assert!(
        read_all("level 2\nname x\nentities 0\n", 8).is_err(),
        "version 2"
    );
}
