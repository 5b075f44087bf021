//! The OTLP exporter (feature `otlp`): records as OTLP log records and spans as OTLP
//! spans, over OTLP/HTTP to an OpenTelemetry collector, on a thread of its own.

// The encoder comes first; the exporter thread that calls it follows.
#[allow(dead_code)]
pub(crate) mod encode;
mod json_value;
mod pb;
