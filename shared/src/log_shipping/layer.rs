//! The `tracing_subscriber` side: which events and spans are seen ([`CaptureFilter`]), and the
//! layer ([`ShippingLayer`]) that keeps span fields and copies each WARN and ERROR event, with
//! the fields of the spans around it, into the buffer without blocking.

use std::sync::Arc;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber, span};
use tracing_subscriber::layer::{Context, Filter, Layer};
use tracing_subscriber::registry::LookupSpan;

use super::TARGET;
use super::render::truncate;
use super::shipper::{Shared, ShippingState};
use super::task::SHIPPING;

/// Longest string kept per field when a line is captured (bounds the buffer's memory).
const CAPTURE_MAX_CHARS: usize = 8 * 1024;

/// Which events and spans the shipping layer sees: WARN and ERROR events, and spans of INFO or
/// above (their fields go with the events inside them), never this module's own lines.
#[derive(Debug, Clone, Copy)]
pub struct CaptureFilter;

fn interesting(meta: &Metadata<'_>) -> bool {
    if meta.target() == TARGET {
        return false;
    }
    if meta.is_span() {
        *meta.level() <= Level::INFO
    } else {
        *meta.level() <= Level::WARN
    }
}

impl<S> Filter<S> for CaptureFilter {
    fn enabled(&self, meta: &Metadata<'_>, _cx: &Context<'_, S>) -> bool {
        interesting(meta)
    }

    fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> Interest {
        if interesting(meta) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(LevelFilter::INFO)
    }
}

/// The layer [`LogShipper::layer`](super::LogShipper::layer) installs.
pub struct ShippingLayer {
    pub(super) shared: Arc<Shared>,
}

/// The fields of a span, kept in its extensions for the events inside it.
struct SpanFields(Map<String, Value>);

impl<S> Layer<S> for ShippingLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
        if self.shared.state() == ShippingState::Off {
            return;
        }
        let Some(span) = ctx.span(id) else {
            return;
        };
        let mut fields = Map::new();
        attrs.record(&mut Collect {
            fields: &mut fields,
            message: None,
        });
        span.extensions_mut().insert(SpanFields(fields));
    }

    fn on_record(&self, id: &span::Id, values: &span::Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        let mut extensions = span.extensions_mut();
        if let Some(SpanFields(fields)) = extensions.get_mut::<SpanFields>() {
            values.record(&mut Collect {
                fields,
                message: None,
            });
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if self.shared.state() == ShippingState::Off || SHIPPING.try_with(|()| ()).is_ok() {
            return;
        }
        let mut fields = Map::new();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(SpanFields(span_fields)) = span.extensions().get::<SpanFields>() {
                    for (key, value) in span_fields {
                        fields.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        let mut message = None;
        event.record(&mut Collect {
            fields: &mut fields,
            message: Some(&mut message),
        });
        let message = message.unwrap_or_else(|| event.metadata().name().to_owned());
        self.shared.push(*event.metadata().level(), message, fields);
    }
}

/// Records fields as JSON values; the event's `message` goes apart when asked for.
struct Collect<'a> {
    fields: &'a mut Map<String, Value>,
    message: Option<&'a mut Option<String>>,
}

impl Collect<'_> {
    fn put(&mut self, field: &Field, value: Value) {
        if field.name() == "message"
            && let Some(message) = self.message.as_mut()
        {
            **message = Some(match value {
                Value::String(text) => text,
                other => other.to_string(),
            });
            return;
        }
        self.fields.insert(field.name().to_owned(), value);
    }

    fn text(&mut self, field: &Field, text: String) {
        self.put(field, Value::String(truncate(text, CAPTURE_MAX_CHARS)));
    }
}

impl Visit for Collect<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.text(field, format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.text(field, value.to_owned());
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.text(field, value.to_string());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, Value::from(value));
    }
}
