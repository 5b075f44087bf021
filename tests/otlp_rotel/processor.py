# Rotel processor for tests/otlp_rotel.rs: appends every log record and span rotel
# receives to $LOGKIT_ROTEL_OUT/logs.jsonl and spans.jsonl, one JSON object per line,
# so the test can compare them with run.log.
import json
import os

OUT = os.environ["LOGKIT_ROTEL_OUT"]


def value(av):
    if av is None:
        return None
    v = av.value
    if v is None or isinstance(v, (str, bool, int, float)):
        return v
    if isinstance(v, bytes):
        return v.hex()
    # rotel's KeyValueList and ArrayValue are iterables of KeyValue / AnyValue (they
    # have no `values` attribute).
    try:
        items = list(v)
    except TypeError:
        return repr(v)
    if type(v).__name__ == "KeyValueList":
        return {kv.key: value(kv.value) for kv in items}
    return [value(x) for x in items]


def attrs(kvs):
    return {kv.key: value(kv.value) for kv in kvs}


def append(name, rows):
    with open(os.path.join(OUT, name), "a") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")


def process_logs(resource_logs):
    res = attrs(resource_logs.resource.attributes) if resource_logs.resource else {}
    rows = []
    for sl in resource_logs.scope_logs:
        for lr in sl.log_records:
            rows.append({
                "resource": res,
                "scope": sl.scope.name if sl.scope else None,
                "time_unix_nano": lr.time_unix_nano,
                "observed_time_unix_nano": lr.observed_time_unix_nano,
                "severity_number": int(lr.severity_number),
                "severity_text": lr.severity_text,
                "body": value(lr.body),
                "attributes": attrs(lr.attributes),
                "trace_id": bytes(lr.trace_id).hex(),
                "span_id": bytes(lr.span_id).hex(),
            })
    append("logs.jsonl", rows)


def process_spans(resource_spans):
    res = attrs(resource_spans.resource.attributes) if resource_spans.resource else {}
    rows = []
    for ss in resource_spans.scope_spans:
        for sp in ss.spans:
            rows.append({
                "resource": res,
                "scope": ss.scope.name if ss.scope else None,
                "name": sp.name,
                "trace_id": bytes(sp.trace_id).hex(),
                "span_id": bytes(sp.span_id).hex(),
                "parent_span_id": bytes(sp.parent_span_id).hex(),
                "start_time_unix_nano": sp.start_time_unix_nano,
                "end_time_unix_nano": sp.end_time_unix_nano,
                "attributes": attrs(sp.attributes),
                "status_code": int(sp.status.code) if sp.status else 0,
                "status_message": sp.status.message if sp.status else "",
                "events": [{"name": e.name, "attributes": attrs(e.attributes)} for e in sp.events],
            })
    append("spans.jsonl", rows)
