//! States (feature `bevy_state`).
