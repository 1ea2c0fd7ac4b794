//! Scenarios: the file model ([`file`]), what each key must end as ([`plan`], pure), the SFTP
//! steps ([`steps`]), the checks built on the probes ([`checks`]), the runner ([`runner`]) and
//! the `harness scenario` commands ([`commands`]).

pub mod checks;
pub mod commands;
pub mod file;
pub mod plan;
pub mod runner;
pub mod steps;

pub use file::{SCENARIO_VERSION, Scenario, ScenarioError};
pub use runner::run_scenario;
