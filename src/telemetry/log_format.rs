//! Log lines linked to traces: every line written inside a span carries the OpenTelemetry
//! `trace_id` and `span_id` of that span, in hex as W3C trace context writes them, so a log
//! line leads to its trace in Jaeger or Tempo and back.
//!
//! In JSON lines they are two top-level members, `"trace_id"` and `"span_id"`; in text lines
//! two `trace_id=… span_id=…` pairs at the end. Everything else of the line is what
//! `tracing_subscriber`'s own formats write (timestamp, level, target, message, fields, spans).
//! Lines outside any span carry neither.
//!
//! The ids are those of the OpenTelemetry span `tracing_opentelemetry` keeps for the line's
//! span (or, when that span is not exported, for its nearest exported ancestor). They exist
//! only when traces are on, that is when the subscriber also has a `tracing_opentelemetry`
//! layer with a tracer: without one there are no OpenTelemetry ids, and lines carry none.

use std::cell::RefCell;
use std::fmt;
use std::sync::{Arc, OnceLock};

use opentelemetry::trace::{SpanId, TraceContextExt as _, TraceId};
use tracing::dispatcher::WeakDispatch;
use tracing::{Dispatch, Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;

/// JSON log lines (one object per line) to `writer`, with `trace_id` and `span_id` members on
/// lines written inside a span (see the [module](self) documentation).
pub fn json_layer<S, W>(writer: W) -> impl Layer<S> + Send + Sync + 'static
where
    S: Subscriber + for<'a> LookupSpan<'a> + 'static,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let subscriber = SubscriberCell::default();
    tracing_subscriber::fmt::layer()
        .json()
        .with_writer(writer)
        .event_format(WithTraceIds {
            inner: tracing_subscriber::fmt::format().json(),
            style: Style::Json,
            subscriber: subscriber.clone(),
        })
        .and_then(Registration(subscriber))
}

/// Text log lines to `writer` (with ANSI colours when `ansi`), with `trace_id=… span_id=…` at
/// the end of lines written inside a span (see the [module](self) documentation).
pub fn text_layer<S, W>(writer: W, ansi: bool) -> impl Layer<S> + Send + Sync + 'static
where
    S: Subscriber + for<'a> LookupSpan<'a> + 'static,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let subscriber = SubscriberCell::default();
    tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_ansi(ansi)
        .event_format(WithTraceIds {
            inner: tracing_subscriber::fmt::format().with_ansi(ansi),
            style: Style::Text,
            subscriber: subscriber.clone(),
        })
        .and_then(Registration(subscriber))
}

/// How the ids are added to a line.
#[derive(Debug, Clone, Copy)]
enum Style {
    /// Two members at the end of the JSON object.
    Json,
    /// Two `key=value` pairs at the end of the line.
    Text,
}

/// The subscriber the formatter is installed in, set when it is registered. Weak: the
/// subscriber owns the formatter.
#[derive(Debug, Clone, Default)]
struct SubscriberCell(Arc<OnceLock<WeakDispatch>>);

/// A layer that only tells the formatter which subscriber it is installed in: the ids are
/// asked of `tracing_opentelemetry` through it, and inside the formatting of an event the
/// thread's current subscriber cannot be looked up (it reads as none).
struct Registration(SubscriberCell);

impl<S: Subscriber> Layer<S> for Registration {
    fn on_register_dispatch(&self, subscriber: &Dispatch) {
        let _ = self.0.0.set(subscriber.downgrade());
    }
}

/// An event format that writes the line of `inner`, with the ids of the line's span added.
struct WithTraceIds<F> {
    inner: F,
    style: Style,
    subscriber: SubscriberCell,
}

thread_local! {
    /// The line being formatted, reused from line to line.
    static LINE: RefCell<String> = const { RefCell::new(String::new()) };
}

impl<S, N, F> FormatEvent<S, N> for WithTraceIds<F>
where
    S: Subscriber + for<'a> LookupSpan<'a> + 'static,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let Some((trace_id, span_id)) = self.ids::<S>(event) else {
            return self.inner.format_event(ctx, writer, event);
        };
        let mut write = |line: &mut String| {
            line.clear();
            self.inner.format_event(ctx, Writer::new(line), event)?;
            let text = line.trim_end_matches('\n');
            match self.style {
                Style::Json => match text.strip_suffix('}') {
                    Some(object) => writeln!(
                        writer,
                        "{object},\"trace_id\":\"{trace_id}\",\"span_id\":\"{span_id}\"}}"
                    ),
                    // Not an object: left as it is rather than broken.
                    None => writer.write_str(line),
                },
                Style::Text => writeln!(writer, "{text} trace_id={trace_id} span_id={span_id}"),
            }
        };
        // A line formatted while another is (a `Debug` that logs) gets a buffer of its own.
        LINE.with(|line| match line.try_borrow_mut() {
            Ok(mut line) => write(&mut line),
            Err(_) => write(&mut String::new()),
        })
    }
}

impl<F> WithTraceIds<F> {
    /// The OpenTelemetry trace and span ids of the span `event` is written in: its explicit
    /// parent, or the current span; when that span is not exported (a filter left it out of
    /// the traces), its nearest exported ancestor. `None` outside spans and without traces.
    fn ids<S>(&self, event: &Event<'_>) -> Option<(TraceId, SpanId)>
    where
        S: Subscriber + for<'a> LookupSpan<'a> + 'static,
    {
        let dispatch = self.subscriber.0.get()?.upgrade()?;
        // Unfiltered: the span the trace export sees, even if the log's filter hides it.
        let registry = dispatch.downcast_ref::<S>()?;
        let leaf = if event.is_root() {
            return None;
        } else if let Some(parent) = event.parent() {
            parent.clone()
        } else {
            registry.current_span().id()?.clone()
        };
        let leaf = registry.span(&leaf)?;
        leaf.scope().find_map(|span| {
            let context = tracing_opentelemetry::get_otel_context(&span.id(), &dispatch)?;
            let span = context.span();
            let span_context = span.span_context();
            span_context
                .is_valid()
                .then(|| (span_context.trace_id(), span_context.span_id()))
        })
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::Mutex;

    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;

    /// A log writer that keeps everything in memory.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn lines(&self) -> Vec<String> {
            let bytes = self.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
            String::from_utf8_lossy(&bytes)
                .lines()
                .map(str::to_owned)
                .collect()
        }
    }

    /// The hex ids of `span`'s OpenTelemetry context.
    fn ids_of(span: &tracing::Span) -> (String, String) {
        let context = span.context();
        let otel = context.span();
        let span_context = otel.span_context();
        assert!(
            span_context.is_valid(),
            "the span has an OpenTelemetry context"
        );
        (
            span_context.trace_id().to_string(),
            span_context.span_id().to_string(),
        )
    }

    fn json(line: &str) -> serde_json::Value {
        serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"))
    }

    /// Writes three lines (outside spans, in a root span, in its child) through `layer` with
    /// traces on; returns the lines and the ids of the root and the child.
    fn three_lines<L>(layer: L, captured: &Captured) -> (Vec<String>, [(String, String); 2])
    where
        L: Layer<tracing_subscriber::Registry> + Send + Sync + 'static,
    {
        let provider = SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(layer)
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("log-format-test")));
        let ids = tracing::subscriber::with_default(subscriber, || {
            tracing::info!(answer = 42, "outside any span");
            let root = tracing::info_span!("nbu.collect", site = "s1");
            let root_ids = root.in_scope(|| {
                tracing::warn!(error.type = "timeout", "in the root");
                ids_of(&root)
            });
            let child = tracing::info_span!(parent: &root, "nbu.collect.jobs");
            let child_ids = child.in_scope(|| {
                tracing::info!("in the child");
                ids_of(&child)
            });
            [root_ids, child_ids]
        });
        let _ = provider.shutdown();
        (captured.lines(), ids)
    }

    #[test]
    fn json_lines_in_spans_carry_the_spans_trace_and_span_ids() {
        let captured = Captured::default();
        let writer = captured.clone();
        let (lines, [root, child]) = three_lines(json_layer(move || writer.clone()), &captured);
        assert_eq!(lines.len(), 3, "{lines:?}");
        let outside = json(&lines[0]);
        assert!(outside.get("trace_id").is_none(), "{outside}");
        assert!(outside.get("span_id").is_none(), "{outside}");
        assert_eq!(
            outside["fields"]["answer"], 42,
            "the line is kept: {outside}"
        );
        assert_eq!(outside["fields"]["message"], "outside any span");

        let in_root = json(&lines[1]);
        assert_eq!(in_root["trace_id"], root.0.as_str(), "{in_root}");
        assert_eq!(in_root["span_id"], root.1.as_str(), "{in_root}");
        assert_eq!(in_root["trace_id"].as_str().map(str::len), Some(32));
        assert_eq!(in_root["span_id"].as_str().map(str::len), Some(16));
        // Everything else as before.
        assert_eq!(in_root["level"], "WARN");
        assert_eq!(in_root["fields"]["error.type"], "timeout");
        assert_eq!(in_root["span"]["name"], "nbu.collect");
        assert_eq!(in_root["span"]["site"], "s1");
        assert!(in_root.get("timestamp").is_some());
        assert!(in_root.get("target").is_some());

        // The child inherits the root's trace id and has its own span id.
        let in_child = json(&lines[2]);
        assert_eq!(child.0, root.0);
        assert_ne!(child.1, root.1);
        assert_eq!(in_child["trace_id"], child.0.as_str(), "{in_child}");
        assert_eq!(in_child["span_id"], child.1.as_str(), "{in_child}");
        assert_eq!(in_child["spans"].as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn text_lines_in_spans_end_with_trace_and_span_id_pairs() {
        let captured = Captured::default();
        let writer = captured.clone();
        let (lines, [root, child]) =
            three_lines(text_layer(move || writer.clone(), false), &captured);
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(
            lines[0].ends_with("outside any span answer=42"),
            "{}",
            lines[0]
        );
        assert!(!lines[0].contains("trace_id"), "{}", lines[0]);
        assert!(!lines[0].contains("span_id"), "{}", lines[0]);
        assert!(
            lines[1].contains("nbu.collect{site=\"s1\"}:")
                && lines[1].ends_with(&format!(
                    "in the root error.type=\"timeout\" trace_id={} span_id={}",
                    root.0, root.1
                )),
            "{}",
            lines[1]
        );
        assert!(lines[1].contains(" WARN "), "{}", lines[1]);
        assert!(
            lines[2].ends_with(&format!(
                "in the child trace_id={} span_id={}",
                child.0, child.1
            )),
            "{}",
            lines[2]
        );
    }

    #[test]
    fn without_traces_lines_carry_no_ids() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::registry().with(json_layer(move || writer.clone()));
        tracing::subscriber::with_default(subscriber, || {
            tracing::info_span!("nbu.collect").in_scope(|| tracing::info!("in a span"));
        });
        let lines = captured.lines();
        assert_eq!(lines.len(), 1, "{lines:?}");
        let line = json(&lines[0]);
        assert_eq!(line["span"]["name"], "nbu.collect");
        assert!(line.get("trace_id").is_none(), "{line}");
        assert!(line.get("span_id").is_none(), "{line}");
    }

    #[test]
    fn a_span_the_log_filters_out_still_gives_its_ids() {
        // The log at `info`, the request span at `debug`: the line names the exported span
        // it was written in, not the nearest one the log shows.
        let captured = Captured::default();
        let writer = captured.clone();
        let provider = SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(
                json_layer(move || writer.clone())
                    .with_filter(tracing_subscriber::filter::LevelFilter::INFO),
            )
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("log-format-test")));
        let request = tracing::subscriber::with_default(subscriber, || {
            let cycle = tracing::info_span!("nbu.collect");
            cycle.in_scope(|| {
                let request = tracing::debug_span!("nbu.request");
                request.in_scope(|| tracing::warn!("in the request"));
                ids_of(&request)
            })
        });
        let _ = provider.shutdown();
        let lines = captured.lines();
        assert_eq!(lines.len(), 1, "{lines:?}");
        let line = json(&lines[0]);
        assert_eq!(
            line["span"]["name"], "nbu.collect",
            "the log shows the cycle"
        );
        assert_eq!(line["trace_id"], request.0.as_str(), "{line}");
        assert_eq!(line["span_id"], request.1.as_str(), "{line}");
    }
}
