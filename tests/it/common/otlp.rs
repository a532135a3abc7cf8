//! An in-process OTLP/gRPC receiver built on opentelemetry-proto's tonic services.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value::Value as AnyValue};
use opentelemetry_proto::tonic::metrics::v1::{Gauge, metric::Data, number_data_point};
use tonic::codec::CompressionEncoding;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Server, ServerTlsConfig};

/// What the receiver got.
#[derive(Default)]
pub struct Received {
    pub metrics: Vec<ExportMetricsServiceRequest>,
    pub traces: Vec<ExportTraceServiceRequest>,
    pub logs: Vec<ExportLogsServiceRequest>,
    /// Metadata (headers) of every metrics export.
    pub metric_headers: Vec<Vec<(String, String)>>,
}

/// How the receiver answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behaviour {
    /// Accept everything.
    Accept,
    /// Refuse every export with this gRPC status.
    Refuse(tonic::Code),
    /// Never answer.
    Hang,
}

#[derive(Clone)]
struct Sink(Arc<Mutex<Received>>, Behaviour);

impl Sink {
    async fn misbehave(&self) -> Result<(), tonic::Status> {
        match self.1 {
            Behaviour::Accept => Ok(()),
            Behaviour::Refuse(code) => {
                Err(tonic::Status::new(code, "refused by the test receiver"))
            }
            Behaviour::Hang => std::future::pending().await,
        }
    }
}

#[tonic::async_trait]
impl MetricsService for Sink {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        self.misbehave().await?;
        let headers = request
            .metadata()
            .iter()
            .filter_map(|kv| match kv {
                tonic::metadata::KeyAndValueRef::Ascii(k, v) => {
                    Some((k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
                }
                _ => None,
            })
            .collect();
        let mut r = self.0.lock().unwrap();
        r.metric_headers.push(headers);
        r.metrics.push(request.into_inner());
        Ok(tonic::Response::new(ExportMetricsServiceResponse {
            partial_success: None,
        }))
    }
}

#[tonic::async_trait]
impl TraceService for Sink {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.misbehave().await?;
        self.0.lock().unwrap().traces.push(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

#[tonic::async_trait]
impl LogsService for Sink {
    async fn export(
        &self,
        request: tonic::Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, tonic::Status> {
        self.misbehave().await?;
        self.0.lock().unwrap().logs.push(request.into_inner());
        Ok(tonic::Response::new(ExportLogsServiceResponse {
            partial_success: None,
        }))
    }
}

/// A running receiver.
pub struct Receiver {
    pub addr: SocketAddr,
    received: Arc<Mutex<Received>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Receiver {
    /// Starts a receiver on `addr` (port 0 for any).
    pub async fn start(addr: SocketAddr) -> Receiver {
        Receiver::start_with(addr, Behaviour::Accept).await
    }

    /// Starts a receiver that answers as `behaviour` says.
    pub async fn start_with(addr: SocketAddr, behaviour: Behaviour) -> Receiver {
        Receiver::start_configured(addr, behaviour, None, None).await
    }

    /// Starts a receiver serving TLS with `tls` (for example with a server identity and a
    /// client CA, for mutual TLS).
    pub async fn start_tls(addr: SocketAddr, tls: ServerTlsConfig) -> Receiver {
        Receiver::start_configured(addr, Behaviour::Accept, None, Some(tls)).await
    }

    /// Starts a receiver refusing metrics requests larger than `max_message_bytes`
    /// (decompressed), as a Collector does with its gRPC receive limit.
    pub async fn start_limited(addr: SocketAddr, max_message_bytes: usize) -> Receiver {
        Receiver::start_configured(addr, Behaviour::Accept, Some(max_message_bytes), None).await
    }

    async fn start_configured(
        addr: SocketAddr,
        behaviour: Behaviour,
        max_message_bytes: Option<usize>,
        tls: Option<ServerTlsConfig>,
    ) -> Receiver {
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let sink = Sink(Arc::default(), behaviour);
        let received = sink.0.clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let mut server = Server::builder();
        if let Some(tls) = tls {
            server = server.tls_config(tls).expect("server TLS settings");
        }
        let task = tokio::spawn(async move {
            let _ = server
                .add_service(
                    MetricsServiceServer::new(sink.clone())
                        .accept_compressed(CompressionEncoding::Gzip)
                        .max_decoding_message_size(max_message_bytes.unwrap_or(4 << 20)),
                )
                .add_service(
                    TraceServiceServer::new(sink.clone())
                        .accept_compressed(CompressionEncoding::Gzip),
                )
                .add_service(
                    LogsServiceServer::new(sink).accept_compressed(CompressionEncoding::Gzip),
                )
                .serve_with_incoming_shutdown(TcpIncoming::from(listener), async {
                    let _ = stopped.await;
                })
                .await;
        });
        Receiver {
            addr,
            received,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Runs `f` on what was received so far.
    pub fn with<T>(&self, f: impl FnOnce(&Received) -> T) -> T {
        f(&self.received.lock().unwrap())
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

/// The string form of an attribute value.
pub fn attr(attributes: &[KeyValue], key: &str) -> Option<String> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
        .map(|v| match v {
            AnyValue::StringValue(s) => s.clone(),
            AnyValue::IntValue(i) => i.to_string(),
            AnyValue::DoubleValue(d) => d.to_string(),
            AnyValue::BoolValue(b) => b.to_string(),
            other => format!("{other:?}"),
        })
}

/// The labels of a data point, by key, in their string form.
pub fn sorted_labels(attributes: &[KeyValue]) -> Vec<(String, String)> {
    let mut labels: Vec<(String, String)> = attributes
        .iter()
        .map(|kv| {
            let value = attr(attributes, &kv.key)
                .unwrap_or_else(|| panic!("attribute {} has no value", kv.key));
            (kv.key.clone(), value)
        })
        .collect();
    labels.sort();
    labels
}

/// The value of a number data point as `f64` (NaN when it has none).
pub fn number(value: &Option<number_data_point::Value>) -> f64 {
    match value {
        Some(number_data_point::Value::AsInt(i)) => *i as f64,
        Some(number_data_point::Value::AsDouble(d)) => *d,
        None => f64::NAN,
    }
}

/// The gauge `name` in the latest of `requests` that carries it.
pub fn latest_gauge<'a>(
    requests: &'a [ExportMetricsServiceRequest],
    name: &str,
) -> Option<&'a Gauge> {
    requests
        .iter()
        .rev()
        .flat_map(|req| &req.resource_metrics)
        .flat_map(|rm| &rm.scope_metrics)
        .flat_map(|sm| &sm.metrics)
        .find(|m| m.name == name)
        .and_then(|m| match &m.data {
            Some(Data::Gauge(g)) => Some(g),
            _ => None,
        })
}
