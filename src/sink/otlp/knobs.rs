//! The values of the OTLP knobs that `Config` checks before anything starts
//! (`LOG_OTLP`, `LOG_OTLP_PROTOCOL`): what an endpoint URL and a protocol name must look
//! like. Plain functions of a string, so the configuration can check a knob without
//! depending on the exporter, and the exporter reads the same rules.

/// The body encoding of OTLP/HTTP requests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// `http/protobuf`: binary protobuf, `application/x-protobuf`.
    #[default]
    Protobuf,
    /// `http/json`: the OTLP/JSON encoding, `application/json`.
    Json,
}

impl Protocol {
    /// The `content-type` of a request body.
    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Protocol::Protobuf => "application/x-protobuf",
            Protocol::Json => "application/json",
        }
    }
}

/// Checks an endpoint URL; the error reason names what is wrong.
pub(crate) fn check_url(url: &str) -> Result<(), &'static str> {
    let rest = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://"));
    match rest {
        Some(r) if !r.is_empty() && !r.starts_with('/') && !r.contains(char::is_whitespace) => Ok(()),
        _ => Err("expected an http:// or https:// URL, e.g. http://127.0.0.1:4318"),
    }
}

/// Reads a protocol name (`OTEL_EXPORTER_OTLP_PROTOCOL`'s values).
pub(crate) fn parse_protocol(p: &str) -> Result<Protocol, &'static str> {
    match p.trim() {
        "http/protobuf" => Ok(Protocol::Protobuf),
        "http/json" => Ok(Protocol::Json),
        "grpc" => Err("grpc is not supported; use http/protobuf or http/json (port 4318)"),
        _ => Err("expected http/protobuf or http/json"),
    }
}

/// Checks a protocol name (for the fuzz targets' knob check; the exporter reads the
/// protocol with [`parse_protocol`]).
#[cfg(feature = "__fuzz")]
pub(crate) fn check_protocol(p: &str) -> Result<(), &'static str> {
    parse_protocol(p).map(drop)
}
