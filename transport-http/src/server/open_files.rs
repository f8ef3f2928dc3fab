//! Raising the open-file limit (flaskJSONRPCServer's `tweakDescriptors`).
//!
//! Every connection is a file descriptor, and many systems start processes
//! with a soft limit of 1,024: a busy server runs out long before its
//! connection limit. The soft limit can be raised up to the hard limit
//! without privileges.

use std::io;

/// What [`ServerBuilder::open_file_limit`](crate::ServerBuilder::open_file_limit)
/// does to the process's soft `RLIMIT_NOFILE` when the server is bound.
///
/// Raising never lowers: a soft limit already above the target stays. On
/// platforms without `RLIMIT_NOFILE` every choice does nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum OpenFileLimit {
    /// Leave the limit alone (the default).
    #[default]
    Keep,
    /// Raise the soft limit to the hard limit.
    Hard,
    /// Raise the soft limit to at least this many descriptors, or as far
    /// as the hard limit allows (logged with `tracing::warn!` when that is
    /// less).
    AtLeast(u64),
}

impl OpenFileLimit {
    /// Applies the choice now and returns the soft limit afterwards (`None`
    /// for [`Keep`](Self::Keep), which does not look).
    ///
    /// ```
    /// use rpckit_http::OpenFileLimit;
    ///
    /// let soft = OpenFileLimit::Hard.apply()?;
    /// # #[cfg(unix)]
    /// assert!(soft.is_some());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// When the limit cannot be read or set.
    pub fn apply(self) -> io::Result<Option<u64>> {
        let target = match self {
            OpenFileLimit::Keep => return Ok(None),
            OpenFileLimit::Hard => u64::MAX,
            OpenFileLimit::AtLeast(wanted) => wanted,
        };
        let soft = rlimit::increase_nofile_limit(target)?;
        if let OpenFileLimit::AtLeast(wanted) = self {
            if soft < wanted {
                tracing::warn!(
                    wanted,
                    soft,
                    "the open-file limit could only be raised this far"
                );
            }
        }
        tracing::debug!(soft, "open-file limit");
        Ok(Some(soft))
    }
}

pub(super) fn apply(limit: OpenFileLimit) -> io::Result<()> {
    limit.apply().map(drop)
}
