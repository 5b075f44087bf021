# rotel processor for the otlp bench (peers/src/bin/otlp.rs): appends the number of log
# records of each batch rotel receives to $LOGKIT_BENCH_COUNT, so the bench knows what
# arrived.
import os

OUT = os.environ["LOGKIT_BENCH_COUNT"]


def process_logs(resource_logs):
    n = 0
    for sl in resource_logs.scope_logs:
        n += len(sl.log_records)
    with open(OUT, "a") as f:
        f.write(f"{n}\n")
