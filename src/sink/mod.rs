//! Where rendered records go: the JSONL file, the console and (feature `otlp`) an
//! OpenTelemetry collector.

pub(crate) mod console;
pub(crate) mod file;
pub(crate) mod file_thread;
#[cfg(feature = "otlp")]
pub(crate) mod otlp;
