//! Optional integrations with other Bevy crates, each behind its feature and built only on the
//! crate's public parts and its task and wait layers.

#[cfg(feature = "bevy_asset")]
pub(crate) mod asset;
#[cfg(feature = "bevy_state")]
pub(crate) mod state;
#[cfg(feature = "bevy_world_serialization")]
pub(crate) mod world;
