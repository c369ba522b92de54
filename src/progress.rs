//! Progress reporting: the library announces stages, the binary draws bars.

/// The stages of a scan, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    Read,
    Sketch,
    Boilerplate,
    Exact,
    Candidates,
    Verify,
    Cluster,
    Write,
}

impl Stage {
    pub const ALL: [Stage; 8] = [
        Stage::Read,
        Stage::Sketch,
        Stage::Boilerplate,
        Stage::Exact,
        Stage::Candidates,
        Stage::Verify,
        Stage::Cluster,
        Stage::Write,
    ];

    /// 1-based position of the stage.
    pub fn number(self) -> usize {
        Stage::ALL.iter().position(|&s| s == self).unwrap_or(0) + 1
    }

    /// Title shown to the user.
    pub fn title(self) -> &'static str {
        match self {
            Stage::Read => "Reading input",
            Stage::Boilerplate => "Boilerplate lines",
            Stage::Sketch => "Shingling + MinHash + lines",
            Stage::Exact => "Grouping exact duplicates",
            Stage::Candidates => "Finding candidates (LSH)",
            Stage::Verify => "Verifying candidates",
            Stage::Cluster => "Clustering",
            Stage::Write => "Writing outputs",
        }
    }

    /// Key used for this stage in `summary.json` timings.
    pub fn key(self) -> &'static str {
        match self {
            Stage::Read => "read",
            Stage::Boilerplate => "boilerplate",
            Stage::Sketch => "sketch",
            Stage::Exact => "exact",
            Stage::Candidates => "candidates",
            Stage::Verify => "verify",
            Stage::Cluster => "cluster",
            Stage::Write => "write",
        }
    }

    /// Whether `advance` counts bytes (as opposed to items).
    pub fn counts_bytes(self) -> bool {
        matches!(
            self,
            Stage::Read | Stage::Sketch | Stage::Boilerplate | Stage::Write
        )
    }
}

/// Receives progress. Implementations must be cheap: `advance` is called from worker threads.
pub trait Progress: Sync {
    /// A stage starts; `total` work units (bytes or items, see [`Stage::counts_bytes`]).
    fn begin(&self, stage: Stage, total: u64);
    fn advance(&self, n: u64);
    fn end(&self);
}

/// Progress that goes nowhere.
pub struct NoProgress;

impl Progress for NoProgress {
    fn begin(&self, _: Stage, _: u64) {}
    fn advance(&self, _: u64) {}
    fn end(&self) {}
}
