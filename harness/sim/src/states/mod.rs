//! Step Functions: an Amazon States Language interpreter and the service's JSON API.

mod api;
mod choice;
mod definition;
mod interpreter;
mod intrinsics;
pub mod logging;
pub mod mock;
mod paths;
mod service;
mod test_state;
pub mod variant;

pub use api::handle as handle_api;
pub use definition::{Definition, DefinitionError};
pub use interpreter::{Clock, TaskFailure, TaskInvoker, TaskTarget};
pub use mock::{MockConfig, MockConfigError};
pub use service::{Execution, ExecutionStatus, HistoryEvent, StepFunctions};
pub use test_state::handle as test_state;
