//! Assets (feature `bevy_asset`): [`Wait::asset`], resuming when an asset and everything it
//! depends on are loaded, failing with the load error.

use alloc::boxed::Box;
use bevy_asset::{
    Asset, AssetServer, Assets, Handle, LoadState, RecursiveDependencyLoadState, UntypedHandle,
    WaitForAssetError,
};
use bevy_ecs::{entity::Entity, world::World};
use core::task::{Context, Poll};

use crate::{
    outcome::Failure,
    wait::{
        Wait,
        future::{self, Pending},
        registration::Registered,
        seam::Ticket,
    },
};

impl Wait {
    /// Until the asset behind `handle` **and all its dependencies** are loaded; fails with the
    /// load error when it or a dependency fails to load (a missing file is an `Err` the task
    /// sees, never a hang). An asset added directly to `Assets<A>` resumes at once.
    ///
    /// The wait holds a clone of the handle, so the asset stays alive while the task waits. The
    /// load states are looked at once per frame, in [`Wake`](crate::CooperatorSystems::Wake)
    /// (Bevy 0.20's `AssetServer::wait_for_asset` is not woken when a dependency fails, and would
    /// hang). Waiting needs `AssetPlugin`; without an `AssetServer` the wait fails.
    ///
    /// ```
    /// # use bevy_app::{App, TaskPoolPlugin};
    /// # use bevy_asset::{AssetApp, AssetPlugin, AssetServer, Assets, Handle};
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// #[derive(bevy_asset::Asset, bevy_reflect::TypePath)]
    /// struct Level(u32);
    ///
    /// # let mut app = App::new();
    /// # app.add_plugins((TaskPoolPlugin::default(), AssetPlugin::default(), CooperatorPlugin::default()))
    /// #     .init_asset::<Level>();
    /// # app.finish();
    /// # app.cleanup();
    /// let handle = app.world_mut().resource_mut::<Assets<Level>>().add(Level(3));
    /// let wait = Wait::asset(&handle);
    /// let task = app.world_mut().cooperate(std::iter::once(wait));
    /// app.update();
    /// assert!(app.world().get_entity(task).is_err(), "resumed and finished");
    /// ```
    pub fn asset<A: Asset>(handle: &Handle<A>) -> Self {
        let handle = handle.clone();
        Wait::custom("Asset", move |world, task, ticket| {
            register::<A>(world, task, ticket, &handle)
        })
    }
}

fn register<A: Asset>(
    world: &mut World,
    task: Entity,
    ticket: Ticket,
    handle: &Handle<A>,
) -> Registered {
    let Some(server) = world.get_resource::<AssetServer>().cloned() else {
        return Registered::Now(Err(Failure::msg(
            "Wait::asset needs an AssetServer (add AssetPlugin)",
        )));
    };
    let unknown = matches!(
        server.get_load_state(handle.id()),
        None | Some(LoadState::NotLoaded)
    );
    if unknown {
        // Not the server's to load: an asset added to `Assets<A>` by hand is simply there.
        let there = world
            .get_resource::<Assets<A>>()
            .is_some_and(|assets| assets.contains(handle.id()));
        return Registered::Now(if there {
            Ok(())
        } else {
            Err(Failure::msg(alloc::format!(
                "the asset {:?} is not loaded nor being loaded",
                handle.id()
            )))
        });
    }
    let load = AssetLoad {
        server,
        handle: handle.clone().untyped(),
    };
    future::register_polled(world, task, ticket, Box::new(load))
}

/// A pending asset load, looked at once per frame: done when the asset and every dependency are
/// loaded, failed when any of them failed.
struct AssetLoad {
    server: AssetServer,
    /// Keeps the asset alive while the task waits.
    handle: UntypedHandle,
}

impl Pending for AssetLoad {
    fn poll(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Failure>> {
        let id = self.handle.id();
        let load = self.server.get_load_state(id);
        let dependencies = self.server.get_recursive_dependency_load_state(id);
        match (load, dependencies) {
            (Some(LoadState::Failed(error)), _) => {
                Poll::Ready(Err(Failure::new(WaitForAssetError::Failed(error))))
            }
            (_, Some(RecursiveDependencyLoadState::Failed(error))) => Poll::Ready(Err(
                Failure::new(WaitForAssetError::DependencyFailed(error)),
            )),
            (Some(LoadState::Loaded), Some(RecursiveDependencyLoadState::Loaded)) => {
                Poll::Ready(Ok(()))
            }
            (None | Some(LoadState::NotLoaded), _) => {
                Poll::Ready(Err(Failure::new(WaitForAssetError::NotLoaded)))
            }
            _ => Poll::Pending,
        }
    }
}
