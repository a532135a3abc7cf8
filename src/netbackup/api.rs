//! The narrow interface the collection needs from a NetBackup primary server.
//!
//! [`SiteClient`] implements it over HTTP; tests implement it with recorded pages, so the job
//! store, the cold fill and the delta cycles can be exercised without a network.

use std::future::Future;

use tracing::Span;

use super::client::{Body, SiteClient};
use super::error::{ApiError, DecodeKind};
use super::version::ApiVersion;
use crate::events::Events;

/// The jobs endpoint.
pub const JOBS_ENDPOINT: &str = "/admin/jobs";
/// The storage units endpoint.
pub const STORAGE_UNITS_ENDPOINT: &str = "/storage/storage-units";
/// Which page of `/admin/jobs` to fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobsPageQuery<'a> {
    /// OData filter; `None` asks for every job.
    pub filter: Option<&'a str>,
    /// `page[limit]`.
    pub limit: u32,
    /// `page[after]`: the cursor of the previous page.
    pub after: Option<&'a str>,
    /// Sort by descending `jobId` (newest first) instead of ascending.
    pub newest_first: bool,
}

/// What the collection asks of NetBackup: version negotiation and one page at a time of jobs
/// and storage units. Pagination, decoding and the job store are built on top of it.
pub trait NetBackupApi: Send + Sync {
    /// The site name, for errors and logs.
    fn site(&self) -> &str;

    /// The API version to use: the pinned one (verified), else the newest the server accepts.
    fn negotiate(
        &self,
        pinned: Option<ApiVersion>,
    ) -> impl Future<Output = Result<ApiVersion, ApiError>> + Send;

    /// One page of `/admin/jobs`.
    fn jobs_page(
        &self,
        version: ApiVersion,
        query: &JobsPageQuery<'_>,
    ) -> impl Future<Output = Result<Body, ApiError>> + Send;

    /// One page of `/storage/storage-units`, `limit` units from `offset`.
    fn storage_page(
        &self,
        version: ApiVersion,
        offset: u64,
        limit: u32,
    ) -> impl Future<Output = Result<Body, ApiError>> + Send;

    /// One page of any other list endpoint (the opt-in sources), with `params` as given.
    fn list_page(
        &self,
        version: ApiVersion,
        endpoint: &'static str,
        params: &[(&'static str, String)],
    ) -> impl Future<Output = Result<Body, ApiError>> + Send;

    /// The error for a body that cannot be decoded, with the body quoted safely (secrets
    /// redacted).
    fn decode_error(
        &self,
        endpoint: &str,
        kind: DecodeKind,
        detail: String,
        body: &[u8],
    ) -> ApiError;

    /// The span of one logical request, the parent of its attempts' client spans (none by
    /// default).
    fn request_span(&self, _endpoint: &str, _version: ApiVersion, _page: Option<u64>) -> Span {
        Span::none()
    }

    /// Where the events of walks over this API go (logged and put on spans, but counted
    /// nowhere, by default).
    fn events(&self) -> &Events {
        Events::uncounted()
    }

    /// Takes back the bytes of a body that was decoded, for reuse (dropped by default).
    fn recycle_body(&self, _bytes: Vec<u8>) {}
}

impl NetBackupApi for SiteClient {
    fn site(&self) -> &str {
        SiteClient::site(self)
    }

    fn negotiate(
        &self,
        pinned: Option<ApiVersion>,
    ) -> impl Future<Output = Result<ApiVersion, ApiError>> + Send {
        SiteClient::negotiate(self, pinned)
    }

    async fn jobs_page(
        &self,
        version: ApiVersion,
        query: &JobsPageQuery<'_>,
    ) -> Result<Body, ApiError> {
        let mut params = Vec::with_capacity(4);
        if let Some(filter) = query.filter {
            params.push(("filter", filter.to_owned()));
        }
        let sort = if query.newest_first {
            "-jobId"
        } else {
            "jobId"
        };
        params.push(("sort", sort.to_owned()));
        params.push(("page[limit]", query.limit.to_string()));
        if let Some(after) = query.after {
            params.push(("page[after]", after.to_owned()));
        }
        self.get(JOBS_ENDPOINT, &params, version).await
    }

    async fn storage_page(
        &self,
        version: ApiVersion,
        offset: u64,
        limit: u32,
    ) -> Result<Body, ApiError> {
        let params = [
            ("page[offset]", offset.to_string()),
            ("page[limit]", limit.to_string()),
        ];
        self.get(STORAGE_UNITS_ENDPOINT, &params, version).await
    }

    async fn list_page(
        &self,
        version: ApiVersion,
        endpoint: &'static str,
        params: &[(&'static str, String)],
    ) -> Result<Body, ApiError> {
        self.get(endpoint, params, version).await
    }

    fn decode_error(
        &self,
        endpoint: &str,
        kind: DecodeKind,
        detail: String,
        body: &[u8],
    ) -> ApiError {
        SiteClient::decode_error(self, endpoint, kind, detail, body)
    }

    fn request_span(&self, endpoint: &str, version: ApiVersion, page: Option<u64>) -> Span {
        SiteClient::request_span(self, endpoint, version, page)
    }

    fn events(&self) -> &Events {
        SiteClient::events(self)
    }

    fn recycle_body(&self, bytes: Vec<u8>) {
        SiteClient::recycle_body(self, bytes);
    }
}
