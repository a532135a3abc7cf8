//! Response bodies: read chunk by chunk under a size limit, into buffers reused from page to
//! page.

use std::sync::Mutex;

/// The largest response body accepted for one page. A page of 100 jobs is about 300 KiB;
/// anything far larger is a broken or hostile server, not data.
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// Largest body buffer kept for reuse (a page of 100 jobs needs about 300 KiB).
const SPARE_BODY_BYTES: usize = 1024 * 1024;

/// Buffers of bodies already decoded, reused for the next ones: a walk does not touch fresh
/// memory for every page. At most one per request in flight.
#[derive(Debug, Default)]
pub(super) struct SpareBodies {
    buffers: Mutex<Vec<Vec<u8>>>,
    /// Most buffers kept: the requests in flight at most.
    limit: usize,
}

impl SpareBodies {
    /// No buffer yet; at most `limit` kept.
    pub(super) fn new(limit: usize) -> Self {
        Self {
            buffers: Mutex::new(Vec::new()),
            limit,
        }
    }

    /// Keeps the bytes of a decoded body for a later body, unless they are too large or
    /// enough are kept.
    pub(super) fn recycle(&self, bytes: Vec<u8>) {
        if bytes.capacity() <= SPARE_BODY_BYTES {
            let mut spare = self.buffers.lock().unwrap_or_else(|p| p.into_inner());
            if spare.len() < self.limit {
                spare.push(bytes);
            }
        }
    }

    /// Drops every buffer kept.
    pub(super) fn release(&self) {
        let spare = std::mem::take(&mut *self.buffers.lock().unwrap_or_else(|p| p.into_inner()));
        drop(spare);
    }

    /// A buffer for the next body: one kept for reuse, or a new one.
    pub(super) fn take(&self) -> Vec<u8> {
        let mut spare = self.buffers.lock().unwrap_or_else(|p| p.into_inner());
        spare.pop().unwrap_or_default()
    }
}

/// Why a body could not be read.
pub(super) enum BodyError {
    /// It is larger than [`MAX_BODY_BYTES`].
    TooLarge,
    /// The connection failed while it was read.
    Transport(reqwest::Error),
}

/// Reads the body chunk by chunk into `body` (emptied first), refusing more than
/// [`MAX_BODY_BYTES`].
pub(super) async fn read_body(
    mut response: reqwest::Response,
    mut body: Vec<u8>,
) -> Result<Vec<u8>, BodyError> {
    body.clear();
    body.reserve(
        response
            .content_length()
            .map_or(64 * 1024, |n| n.min(MAX_BODY_BYTES as u64) as usize),
    );
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
