//! The supervised set: every child's handle, started in dependency order (each as soon as its
//! own dependencies are ready, independent ones in parallel) and stopped in reverse (each once
//! everything depending on it has stopped).

use std::collections::BTreeMap;
use std::sync::Arc;

use futures_util::future::join_all;
use orama_service::config::SupervisorConfig;

use crate::child::{ChildHandle, ChildStatus, launch};
use crate::forward::Sink;
use crate::plan::{self, PlanError};
use crate::running::Adoption;
use crate::spec::ChildSpec;
use crate::state::{Event, Phase};

/// All children of the node.
#[derive(Debug, Clone)]
pub struct Children {
    /// Handles in start order.
    ordered: Arc<Vec<ChildHandle>>,
}

impl Children {
    /// Plans the order and launches an actor per child; no process is started yet, but for
    /// the `adopted` ones, which run already (a re-exec's inheritance).
    pub fn launch(
        specs: Vec<ChildSpec>,
        config: &SupervisorConfig,
        sink: &Sink,
        mut adopted: Vec<Adoption>,
    ) -> Result<Children, PlanError> {
        let pairs: Vec<(&str, &[String])> = specs.iter().map(|s| (s.name.as_str(), s.depends_on.as_slice())).collect();
        let order = plan::start_order(&pairs)?;
        let mut by_name: BTreeMap<String, ChildSpec> = specs.into_iter().map(|s| (s.name.clone(), s)).collect();
        let ordered = order
            .iter()
            .filter_map(|name| by_name.remove(name))
            .map(|spec| {
                let adoption = adopted.iter().position(|a| a.name == spec.name).map(|at| adopted.swap_remove(at));
                launch(spec, config, sink.clone(), adoption)
            })
            .collect();
        Ok(Children { ordered: Arc::new(ordered) })
    }

    /// Every child, in start order.
    pub fn all(&self) -> &[ChildHandle] {
        &self.ordered
    }

    /// The child called `name`.
    pub fn get(&self, name: &str) -> Option<&ChildHandle> {
        self.ordered.iter().find(|c| c.name() == name)
    }

    /// Current status of every child, in start order.
    pub fn statuses(&self) -> Vec<ChildStatus> {
        self.ordered.iter().map(ChildHandle::status).collect()
    }

    /// Starts every child once its dependencies are ready; returns when all were started.
    pub async fn start_all(&self) {
        join_all(self.ordered.iter().map(|child| self.start_after_dependencies(child))).await;
    }

    /// Starts `child` once each of its dependencies is ready.
    pub async fn start_after_dependencies(&self, child: &ChildHandle) {
        for dep in &child.spec.depends_on {
            if let Some(dep) = self.get(dep) {
                dep.wait_for(|phase| phase == Phase::Ready).await;
            }
        }
        let _ = child.send(Event::Start).await;
    }

    /// Stops every child, each after its dependents have stopped.
    pub async fn stop_all(&self) {
        let pairs: Vec<(&str, &[String])> =
            self.ordered.iter().map(|c| (c.name(), c.spec.depends_on.as_slice())).collect();
        let dependents = plan::dependents(&pairs);
        join_all(self.ordered.iter().map(|child| {
            let waits_for: Vec<ChildHandle> =
                dependents.get(child.name()).into_iter().flatten().filter_map(|name| self.get(name).cloned()).collect();
            async move {
                for dependent in &waits_for {
                    dependent.wait_for(|phase| phase == Phase::Stopped).await;
                }
                let _ = child.send(Event::Stop).await;
                child.wait_for(|phase| phase == Phase::Stopped).await;
            }
        }))
        .await;
    }
}
