//! The OTLP/gRPC logs receiver the exports go to: it counts the records it gets.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use tonic::codec::CompressionEncoding;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;

use super::support::unix_nanos;

/// An OTLP/gRPC logs receiver that accepts everything and counts the records.
#[derive(Clone, Default)]
pub(super) struct Counter {
    pub(super) records: Arc<AtomicU64>,
    /// Print `received <total> <unix nanoseconds>` after every request (a child's protocol).
    pub(super) announce: bool,
}

#[tonic::async_trait]
impl LogsService for Counter {
    async fn export(
        &self,
        request: tonic::Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, tonic::Status> {
        let n: usize = request
            .get_ref()
            .resource_logs
            .iter()
            .flat_map(|rl| &rl.scope_logs)
            .map(|sl| sl.log_records.len())
            .sum();
        let total = self.records.fetch_add(n as u64, Ordering::SeqCst) + n as u64;
        if self.announce {
            println!("received {total} {}", unix_nanos());
        }
        Ok(tonic::Response::new(ExportLogsServiceResponse {
            partial_success: None,
        }))
    }
}

/// Starts `counter` on a loopback port; returns its endpoint.
pub(super) async fn serve(counter: Counter) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("receiver: {e}"));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("receiver: {e}"));
    tokio::spawn(async move {
        let _ = Server::builder()
            .add_service(
                LogsServiceServer::new(counter).accept_compressed(CompressionEncoding::Gzip),
            )
            .serve_with_incoming(TcpIncoming::from(listener))
            .await;
    });
    format!("http://{addr}")
}
