//! The shapes a page-shaping fault gives the pages the endpoints render.

/// How a fault reshapes a page the endpoint renders itself (read by the handlers from the
/// request extensions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PageShape {
    /// See [`Fault::RepeatCursor`](crate::Fault::RepeatCursor).
    RepeatCursor,
    /// See [`Fault::FreshCursor`](crate::Fault::FreshCursor); jobs only.
    FreshCursor,
    /// See [`Fault::OversizedPage`](crate::Fault::OversizedPage); already capped.
    Oversized(u64),
    /// See [`Fault::HostileValues`](crate::Fault::HostileValues).
    Hostile,
}
