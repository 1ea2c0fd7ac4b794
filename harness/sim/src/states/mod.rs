//! Step Functions: an Amazon States Language interpreter and the service's JSON API.

mod api;
mod choice;
mod definition;
mod failure;
mod history;
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
pub use failure::TaskFailure;
pub use history::{Execution, ExecutionStatus, HistoryEvent};
pub use interpreter::{Clock, TaskInvoker, TaskTarget};
pub use mock::{MockConfig, MockConfigError};
pub use service::StepFunctions;
pub use test_state::handle as test_state;
