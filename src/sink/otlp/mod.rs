//! The OTLP exporter (feature `otlp`): records as OTLP log records and spans as OTLP
//! spans, over OTLP/HTTP (protobuf or JSON, gzip) to an OpenTelemetry collector, on a
//! thread of its own. The local file stays the source of truth: the exporter gets a copy of
//! what the writer collected and can never slow the application (see `exporter`).
//!
//! Configuration, as the OpenTelemetry specification defines the standard variables:
//!
//! | var | effect |
//! | --- | --- |
//! | `LOG_OTLP` (or `Config::otlp`) | base URL, e.g. `http://127.0.0.1:4318`; `/v1/logs` and `/v1/traces` are appended. Wins over `OTEL_EXPORTER_OTLP_ENDPOINT` |
//! | `OTEL_EXPORTER_OTLP_ENDPOINT` | the base URL when `LOG_OTLP` is unset (this alone switches export on) |
//! | `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` | full URLs per signal (used as given) |
//! | `OTEL_EXPORTER_OTLP_HEADERS` | `key=value,...` (values percent-decoded), sent with every request |
//! | `OTEL_EXPORTER_OTLP_TIMEOUT` | per-request timeout in milliseconds (default 10000) |
//! | `LOG_OTLP_PROTOCOL`, `OTEL_EXPORTER_OTLP_PROTOCOL` | `http/protobuf` (the default) or `http/json` (OTLP/JSON: ids as hex, 64-bit integers as strings, enums as numbers); `grpc` is not supported. `LOG_OTLP_PROTOCOL` wins |
//! | `OTEL_SERVICE_NAME` | `service.name` (else `service.name` from the attributes, else the executable's name) |
//! | `OTEL_RESOURCE_ATTRIBUTES` | `key=value,...` resource attributes (values percent-decoded) |

pub(crate) mod encode;
pub(crate) mod exporter;
mod json_value;
pub(crate) mod knobs;
mod pb;

use std::time::Duration;

pub(crate) use self::knobs::Protocol;
use self::knobs::{check_url, parse_protocol};

use crate::config_error::{ConfigError, Origin};

/// The default per-request timeout (`OTEL_EXPORTER_OTLP_TIMEOUT`).
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where and how the exporter sends.
#[derive(Clone, Debug)]
pub(crate) struct OtlpConfig {
    pub(crate) logs_url: String,
    pub(crate) traces_url: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) timeout: Duration,
    pub(crate) resource: Vec<(String, String)>,
    pub(crate) protocol: Protocol,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// `key=value,...` with percent-decoded values (the W3C baggage format the
/// OpenTelemetry specification uses for headers and resource attributes).
fn parse_pairs(var_name: &'static str, v: &str) -> Result<Vec<(String, String)>, ConfigError> {
    let mut out = Vec::new();
    for item in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let Some((k, val)) = item.split_once('=') else {
            return Err(ConfigError::invalid(Origin::Env(var_name), v, &format!("`{item}` is not key=value")));
        };
        let k = k.trim();
        if k.is_empty() {
            return Err(ConfigError::invalid(Origin::Env(var_name), v, &format!("`{item}` has an empty key")));
        }
        let val = percent_decode(val.trim())
            .ok_or_else(|| ConfigError::invalid(Origin::Env(var_name), v, &format!("`{item}` has a bad %-escape")))?;
        out.push((k.to_owned(), val));
    }
    Ok(out)
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let h = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(h, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

impl OtlpConfig {
    /// The exporter's configuration from `base` (`LOG_OTLP` or `Config::otlp`) and the
    /// standard variables; `Ok(None)` when export is off (no base URL and no
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`). A bad value is a `ConfigError` naming it.
    pub(crate) fn resolve(base: Option<&str>) -> Result<Option<OtlpConfig>, ConfigError> {
        let (base_var, base) = match (base, var("OTEL_EXPORTER_OTLP_ENDPOINT")) {
            (Some(b), _) => ("LOG_OTLP", b.trim().to_owned()),
            (None, Some(e)) => ("OTEL_EXPORTER_OTLP_ENDPOINT", e.trim().to_owned()),
            (None, None) => return Ok(None),
        };
        check_url(&base).map_err(|r| ConfigError::invalid(Origin::Env(base_var), &base, r))?;
        let signal = |name: &'static str, path: &str| -> Result<String, ConfigError> {
            match var(name) {
                Some(u) => check_url(u.trim())
                    .map(|()| u.trim().to_owned())
                    .map_err(|r| ConfigError::invalid(Origin::Env(name), &u, r)),
                None => Ok(format!("{}{path}", base.trim_end_matches('/'))),
            }
        };
        let logs_url = signal("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "/v1/logs")?;
        let traces_url = signal("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "/v1/traces")?;
        let mut protocol = Protocol::Protobuf;
        for name in ["LOG_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"] {
            if let Some(p) = var(name) {
                protocol = parse_protocol(&p).map_err(|r| ConfigError::invalid(Origin::Env(name), &p, r))?;
                break;
            }
        }
        let headers = match var("OTEL_EXPORTER_OTLP_HEADERS") {
            Some(h) => parse_pairs("OTEL_EXPORTER_OTLP_HEADERS", &h)?,
            None => Vec::new(),
        };
        let timeout = match var("OTEL_EXPORTER_OTLP_TIMEOUT") {
            Some(t) => match t.trim().parse::<u64>() {
                Ok(ms) if ms > 0 => Duration::from_millis(ms),
                _ => {
                    return Err(ConfigError::invalid(
                        Origin::Env("OTEL_EXPORTER_OTLP_TIMEOUT"),
                        &t,
                        "expected a positive number of milliseconds",
                    ))
                }
            },
            None => DEFAULT_TIMEOUT,
        };
        let extra = match var("OTEL_RESOURCE_ATTRIBUTES") {
            Some(a) => parse_pairs("OTEL_RESOURCE_ATTRIBUTES", &a)?,
            None => Vec::new(),
        };
        Ok(Some(OtlpConfig { logs_url, traces_url, headers, timeout, resource: resource(extra), protocol }))
    }
}

/// The resource attributes: `service.name`, `service.instance.id`, `host.name`,
/// `process.pid`, `process.executable.name`, `telemetry.sdk.*`, then the others of
/// `OTEL_RESOURCE_ATTRIBUTES`.
fn resource(mut extra: Vec<(String, String)>) -> Vec<(String, String)> {
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "unknown_service".to_owned());
    let from_attrs = extra.iter().position(|(k, _)| k == "service.name").map(|i| extra.remove(i).1);
    let service = var("OTEL_SERVICE_NAME").map(|s| s.trim().to_owned()).or(from_attrs).unwrap_or_else(|| exe.clone());
    let instance = extra
        .iter()
        .position(|(k, _)| k == "service.instance.id")
        .map(|i| extra.remove(i).1)
        .unwrap_or_else(|| crate::TraceId::random().to_string());
    let mut attrs = vec![
        ("service.name".to_owned(), service),
        ("service.instance.id".to_owned(), instance),
        ("host.name".to_owned(), crate::host::host_name()),
        ("process.pid".to_owned(), std::process::id().to_string()),
        ("process.executable.name".to_owned(), exe),
        ("telemetry.sdk.name".to_owned(), "logkit".to_owned()),
        ("telemetry.sdk.language".to_owned(), "rust".to_owned()),
        ("telemetry.sdk.version".to_owned(), env!("CARGO_PKG_VERSION").to_owned()),
    ];
    for (k, v) in extra {
        match attrs.iter_mut().find(|(a, _)| *a == k) {
            Some(slot) => slot.1 = v,
            None => attrs.push((k, v)),
        }
    }
    attrs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_and_attributes_are_key_value_pairs_with_percent_escapes() {
        let p = parse_pairs("X", "a=1, b = x%20y ,c=").expect("parses");
        assert_eq!(p, [("a".into(), "1".into()), ("b".into(), "x y".into()), ("c".into(), String::new())]);
        let e = parse_pairs("OTEL_EXPORTER_OTLP_HEADERS", "novalue").unwrap_err();
        assert_eq!(e.var(), "OTEL_EXPORTER_OTLP_HEADERS");
        assert!(parse_pairs("X", "a=%zz").is_err());
    }

    #[test]
    fn an_endpoint_must_be_an_http_url_and_the_protocol_protobuf_or_json() {
        assert!(check_url("http://127.0.0.1:4318").is_ok());
        assert!(check_url("https://collector.example:4318/").is_ok());
        for bad in ["127.0.0.1:4318", "ftp://x", "http://", "http:// x"] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_protocol("http/protobuf"), Ok(Protocol::Protobuf));
        assert_eq!(parse_protocol(" http/json "), Ok(Protocol::Json));
        for bad in ["grpc", "json", "http/JSON", "http/proto"] {
            assert!(parse_protocol(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_resource_names_the_service_the_process_and_the_sdk_and_the_attributes_override() {
        let r = resource(vec![("deployment.environment".into(), "test".into()), ("host.name".into(), "h1".into())]);
        let get = |k: &str| r.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str());
        assert_eq!(get("telemetry.sdk.name"), Some("logkit"));
        assert_eq!(get("telemetry.sdk.language"), Some("rust"));
        assert_eq!(get("process.pid"), Some(std::process::id().to_string().as_str()));
        assert_eq!(get("host.name"), Some("h1"));
        assert_eq!(get("deployment.environment"), Some("test"));
        assert_eq!(get("service.instance.id").map(str::len), Some(32));
        assert!(get("service.name").is_some_and(|s| !s.is_empty()));
    }
}
