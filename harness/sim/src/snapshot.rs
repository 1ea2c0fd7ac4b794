//! What `--data-dir` keeps of the services between runs, as snapshots: saved together (twice a
//! second and at stop), and taken back at start, redriving the executions a stop interrupted
//! and announcing again the objects no execution took up.

use crate::persist::{DataDir, write_atomically};

/// Writes what `--data-dir` keeps, one save at a time. Executions go first: a snapshot of S3
/// newer than the executions' only makes a restart redrive work that is already done (every
/// state is safe to run again), never forget work that is not.
pub fn save(
    d: &DataDir,
    store: &crate::s3::S3Store,
    logs: &crate::logs::LogStore,
    sfn: &crate::states::StepFunctions,
    queues: &crate::sqs::Queues,
) -> std::io::Result<()> {
    static SAVING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = SAVING.lock().unwrap_or_else(|e| e.into_inner());
    let executions = serde_json::to_vec(&sfn.snapshot()).map_err(std::io::Error::other)?;
    write_atomically(&d.executions(), &executions)?;
    write_atomically(&d.queues(), &queues.snapshot())?;
    store.save()?;
    logs.save(&d.logs())
}

/// Takes back an earlier run's executions (redriving those it left running) and announces
/// again every object whose creation no execution took up (its event was in flight), so work
/// a restart interrupted is finished, not lost.
pub fn restore(
    d: &DataDir,
    sfn: &crate::states::StepFunctions,
    store: &crate::s3::S3Store,
    announce: &tokio::sync::mpsc::UnboundedSender<crate::s3::ObjectCreated>,
    queues: &crate::sqs::Queues,
    forget_running: bool,
) -> std::io::Result<()> {
    match std::fs::read(d.queues()) {
        Ok(bytes) => queues.restore(&bytes)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let mut executions: Vec<crate::states::Execution> = match std::fs::read(d.executions()) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{}: {e}", d.executions().display()))
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e),
    };
    if forget_running {
        executions.retain(|e| e.status != crate::states::ExecutionStatus::Running);
    }
    // Taken up: by an execution, or by the dead-letter queue (EventBridge never delivers a
    // dead-lettered event again).
    let mut taken: std::collections::HashSet<(String, String)> = executions
        .iter()
        .filter_map(|e| {
            let input: serde_json::Value = serde_json::from_str(&e.input).ok()?;
            Some((input["key"].as_str()?.to_string(), input["sequencer"].as_str()?.to_string()))
        })
        .collect();
    taken.extend(queues.bodies().iter().filter_map(|b| {
        let event: serde_json::Value = serde_json::from_str(b).ok()?;
        let object = &event["detail"]["object"];
        Some((object["key"].as_str()?.to_string(), object["sequencer"].as_str()?.to_string()))
    }));
    let redriven = sfn.restore(executions);
    let mut announced = 0;
    for o in store.announced_objects() {
        if o.meta.sequencer.is_empty() || taken.contains(&(o.key.clone(), o.meta.sequencer.clone())) {
            continue;
        }
        announced += 1;
        // Announced again as a PutObject by the simulator's own key: the original request's
        // details were not kept.
        let caller = crate::s3::Caller {
            access_key: crate::ACCESS_KEY_ID.into(),
            source_ip: "127.0.0.1".into(),
            request_id: uuid::Uuid::new_v4().simple().to_string().to_uppercase(),
        };
        let _ = announce.send(crate::s3::ObjectCreated::new(
            o.meta.created(&o.bucket, &o.key),
            "PutObject",
            &caller,
            o.meta.last_modified,
        ));
    }
    tracing::info!(redriven, announced, "restored from the data directory");
    Ok(())
}
