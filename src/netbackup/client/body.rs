//! Response bodies: read chunk by chunk under a size limit, into buffers reused from page to
//! page.

use super::SiteClient;

/// The largest response body accepted for one page. A page of 100 jobs is about 300 KiB;
/// anything far larger is a broken or hostile server, not data.
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// Largest body buffer kept for reuse (a page of 100 jobs needs about 300 KiB).
const SPARE_BODY_BYTES: usize = 1024 * 1024;

impl SiteClient {
    /// Hands back the bytes of a body that was decoded, for a later body to reuse.
    pub fn recycle_body(&self, bytes: Vec<u8>) {
        if bytes.capacity() <= SPARE_BODY_BYTES {
            let mut spare = self.spare_bodies.lock().unwrap_or_else(|p| p.into_inner());
            if spare.len() < self.spare_limit {
                spare.push(bytes);
            }
        }
    }

    /// Drops the body buffers kept for reuse: between two collections of a site they would
    /// only hold memory (up to one large page per request in flight, per site). The next
    /// collection starts with fresh buffers and reuses them from its second page on.
    pub fn release_spare_bodies(&self) {
        let spare =
            std::mem::take(&mut *self.spare_bodies.lock().unwrap_or_else(|p| p.into_inner()));
        drop(spare);
    }

    /// A buffer for the next body: one kept for reuse, or a new one.
    pub(super) fn spare_body(&self) -> Vec<u8> {
        let mut spare = self.spare_bodies.lock().unwrap_or_else(|p| p.into_inner());
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
