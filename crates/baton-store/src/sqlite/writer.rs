//! The single writer: a task that owns the only writing connection, takes every write queued
//! since its last commit and applies them in one transaction (group commit), answering each
//! caller only once `COMMIT` has returned.

use async_trait::async_trait;
use sqlx::Connection;
use sqlx::sqlite::SqliteConnection;
use tokio::sync::{mpsc, oneshot};

use super::append::{self, AppendEvent};
use super::checkpoint::Mode;
use crate::{EventBus, EventNotice, Result, StoreError, codec};

/// Most writes committed in one transaction; bounds the latency a batch adds to its last write.
pub(super) const MAX_BATCH: usize = 512;

/// What the queue carries.
pub(super) enum Message {
    Write(Job),
    /// Commit everything queued so far, close the connection, then acknowledge.
    Close(oneshot::Sender<()>),
    /// The checkpoint task has copied most of the WAL: copy the rest on the writer's own
    /// connection, between commits, so that the next commit starts the WAL over (see
    /// [`super::checkpoint`]).
    Checkpoint,
}

/// One write as the writer runs it: applied inside a batch, then answered after the commit.
#[async_trait]
pub(super) trait Command: Send + Sync + Sized + 'static {
    type Output: Send + 'static;

    /// Applies the write. [`StoreError::Database`] aborts the whole batch (which is then
    /// retried one write at a time); any other error must mean nothing was written, and is
    /// handed to the caller as it is.
    async fn apply(&self, conn: &mut SqliteConnection) -> Result<Self::Output>;

    /// What to tell the bus once the output is committed.
    fn notices(&self, _output: &Self::Output) -> Vec<EventNotice> {
        Vec::new()
    }

    /// How the queue carries this command.
    fn into_job(pending: Pending<Self>) -> Job {
        Job::Other(Box::new(pending))
    }
}

/// A queued write. Appends are told apart so that a run of them can be applied together in
/// a few statements (see [`append`]); everything else is applied one by one.
pub(super) enum Job {
    Append(Box<Pending<AppendEvent>>),
    Other(Box<dyn Queued>),
}

impl Job {
    fn answer(self, bus: &EventBus) {
        match self {
            Job::Append(pending) => pending.answer(bus),
            Job::Other(pending) => pending.answer(bus),
        }
    }

    fn fail(self, error: StoreError) {
        match self {
            Job::Append(pending) => pending.fail(error),
            Job::Other(pending) => pending.fail(error),
        }
    }
}

/// A command with its caller's reply channel, type-erased so one queue carries them all.
#[async_trait]
pub(super) trait Queued: Send {
    /// Applies the command and keeps its outcome; `Err` aborts the batch.
    async fn apply(&mut self, conn: &mut SqliteConnection) -> Result<(), sqlx::Error>;
    /// After the commit: publish and answer the kept outcome.
    fn answer(self: Box<Self>, bus: &EventBus);
    /// The command could not be committed.
    fn fail(self: Box<Self>, error: StoreError);
}

pub(super) struct Pending<C: Command> {
    pub command: C,
    pub reply: oneshot::Sender<Result<C::Output>>,
    /// Set by the last (possibly rolled back) application; answered only after a commit.
    pub outcome: Option<Result<C::Output>>,
}

impl<C: Command> Pending<C> {
    /// The job for `command`, and where its answer will arrive.
    pub fn job(command: C) -> (Job, oneshot::Receiver<Result<C::Output>>) {
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            command,
            reply,
            outcome: None,
        };
        (C::into_job(pending), answer)
    }
}

#[async_trait]
impl<C: Command> Queued for Pending<C> {
    async fn apply(&mut self, conn: &mut SqliteConnection) -> Result<(), sqlx::Error> {
        match self.command.apply(conn).await {
            Err(StoreError::Database(error)) => Err(error),
            outcome => {
                self.outcome = Some(outcome);
                Ok(())
            }
        }
    }

    fn answer(self: Box<Self>, bus: &EventBus) {
        let Pending {
            command,
            reply,
            outcome,
        } = *self;
        // `answer` follows a successful `apply`, which always sets the outcome.
        let outcome = outcome.unwrap_or(Err(StoreError::Closed));
        if let Ok(output) = &outcome {
            for notice in command.notices(output) {
                bus.publish(notice);
            }
        }
        // The caller may have stopped waiting; the write stands either way.
        let _ = reply.send(outcome);
    }

    fn fail(self: Box<Self>, error: StoreError) {
        let _ = self.reply.send(Err(error));
    }
}

/// The writer task: drains the queue in batches until the store closes or is dropped.
pub(super) async fn run(
    mut conn: SqliteConnection,
    mut queue: mpsc::Receiver<Message>,
    bus: EventBus,
    commits: mpsc::Sender<()>,
    _gone: oneshot::Sender<()>,
) {
    let mut messages = Vec::with_capacity(MAX_BATCH);
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut closed = Vec::new();
    let mut checkpoint = false;
    // Returns 0 once every sender is gone, or once `close` was asked and the queue is empty.
    while queue.recv_many(&mut messages, MAX_BATCH).await > 0 {
        for message in messages.drain(..) {
            match message {
                Message::Write(job) => batch.push(job),
                Message::Close(ack) => {
                    // Refuse new writes but still commit those already queued.
                    queue.close();
                    closed.push(ack);
                }
                Message::Checkpoint => checkpoint = true,
            }
        }
        if !batch.is_empty() {
            commit_batch(&mut conn, &mut batch, &bus).await;
            // Full: a checkpoint is already due, and will copy this commit too.
            let _ = commits.try_send(());
        }
        if std::mem::take(&mut checkpoint)
            && let Err(error) = super::checkpoint::checkpoint(&mut conn, Mode::Passive).await
        {
            tracing::warn!(%error, "SQLite checkpoint on the writer's connection failed");
        }
    }
    drop(commits);
    if let Err(error) = conn.close().await {
        tracing::warn!(%error, "closing the SQLite writer connection failed");
    }
    for ack in closed {
        let _ = ack.send(());
    }
}

/// Commits a batch in one transaction; when that fails, retries each write on its own so
/// that one failing write fails only its own caller.
pub(super) async fn commit_batch(
    conn: &mut SqliteConnection,
    batch: &mut Vec<Job>,
    bus: &EventBus,
) {
    match apply_in_transaction(conn, batch).await {
        Ok(()) => {
            for job in batch.drain(..) {
                job.answer(bus);
            }
        }
        Err(error) if batch.len() == 1 => {
            if let Some(job) = batch.pop() {
                job.fail(codec::database_error(error));
            }
        }
        Err(error) => {
            tracing::debug!(%error, writes = batch.len(), "batch failed; retrying its writes one by one");
            for job in batch.drain(..) {
                let mut single = [job];
                let outcome = apply_in_transaction(conn, &mut single).await;
                let [job] = single;
                match outcome {
                    Ok(()) => job.answer(bus),
                    Err(error) => job.fail(codec::database_error(error)),
                }
            }
        }
    }
}

async fn apply_in_transaction(
    conn: &mut SqliteConnection,
    jobs: &mut [Job],
) -> Result<(), sqlx::Error> {
    // IMMEDIATE takes the write lock up front, so another process (say `baton admin`) makes
    // us wait for the busy timeout instead of failing the batch halfway.
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    match apply_jobs(&mut tx, jobs).await {
        Ok(()) => tx.commit().await,
        Err(error) => {
            // Best effort: should the rollback fail too, the next BEGIN resets the state.
            let _ = tx.rollback().await;
            Err(error)
        }
    }
}

/// Applies jobs in queue order, each run of consecutive appends at once.
async fn apply_jobs(conn: &mut SqliteConnection, jobs: &mut [Job]) -> Result<(), sqlx::Error> {
    let mut start = 0;
    while start < jobs.len() {
        let run = jobs[start..]
            .iter()
            .take_while(|job| matches!(job, Job::Append(_)))
            .count();
        if run == 0 {
            if let Job::Other(pending) = &mut jobs[start] {
                pending.apply(conn).await?;
            }
            start += 1;
            continue;
        }
        let appends = &mut jobs[start..start + run];
        let outcomes = {
            let commands: Vec<&AppendEvent> = appends
                .iter()
                .filter_map(|job| match job {
                    Job::Append(pending) => Some(&pending.command),
                    Job::Other(_) => None,
                })
                .collect();
            append::apply_run(conn, &commands).await?
        };
        for (job, outcome) in appends.iter_mut().zip(outcomes) {
            if let Job::Append(pending) = job {
                pending.outcome = Some(outcome);
            }
        }
        start += run;
    }
    Ok(())
}
