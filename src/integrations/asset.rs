//! Assets (feature `bevy_asset`).
