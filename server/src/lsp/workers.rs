//! The threads that compute off the main loop. Requests and diagnostics go to one small pool, so typing
//! is answered while longer work (test runs asked for by the client, workspace diagnostics, the workspace
//! scan) runs in another, and the inline test rounds in a thread of their own.

use std::panic::{AssertUnwindSafe, catch_unwind};

use crossbeam_channel::Sender;

type Job = Box<dyn FnOnce() + Send>;

/// A fixed set of threads taking jobs in the order they were given.
pub struct Pool {
    jobs: Sender<Job>,
}

impl Pool {
    pub fn new(name: &str, threads: usize) -> Pool {
        let (jobs, queue) = crossbeam_channel::unbounded::<Job>();
        for number in 0..threads.max(1) {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("policy-lsp {name} {number}"))
                .spawn(move || {
                    for job in queue {
                        // A job that panics is answered by its own guard; this one keeps the thread alive
                        // whatever a job does.
                        let _ = catch_unwind(AssertUnwindSafe(job));
                    }
                })
                .expect("a worker thread starts");
        }
        Pool { jobs }
    }

    pub fn spawn(&self, job: impl FnOnce() + Send + 'static) {
        // The threads live as long as the process: the queue never closes while the pool exists.
        let _ = self.jobs.send(Box::new(job));
    }
}

/// The pools of one server.
pub struct Workers {
    /// Requests from the editor and diagnostics after edits: short, latency-sensitive work.
    pub requests: Pool,
    /// Work that may take seconds: test runs the client asked for, workspace diagnostics, the scan.
    pub background: Pool,
    /// The inline test rounds, one at a time.
    pub tests: Pool,
}

impl Workers {
    pub fn new() -> Workers {
        Workers {
            requests: Pool::new("requests", 2),
            background: Pool::new("background", 2),
            tests: Pool::new("tests", 1),
        }
    }
}

/// Runs `work` and turns a panic into `None`, so one bad request never takes the server down.
pub fn guarded<T>(what: &str, work: impl FnOnce() -> T) -> Option<T> {
    match catch_unwind(AssertUnwindSafe(work)) {
        Ok(value) => Some(value),
        Err(_) => {
            eprintln!("policy-lsp: internal error while computing {what}; the request was answered empty");
            None
        }
    }
}
