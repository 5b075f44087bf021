// Appends 500 MB to a file in fixed-size writes and prints the rate: the experiment
// behind PERF.md's "Making the copy fast" (how the page cache is fed, not logkit).
//
//   gcc -O2 peers/pagecache/append.c -o /tmp/append
//   /tmp/append MODE LAG_MIB CHUNK_KIB [PATH]
//
// MODE 0: plain buffered writes; 1: + sync_file_range(WRITE) after each write (logkit's
// writeback kick); 2: + wait for the writeback of what lies more than LAG_MIB behind
// the end and drop it from the page cache (POSIX_FADV_DONTNEED); 3: like 1, + advise
// DONTNEED without waiting on the 4 * LAG_MIB behind that point (the kernel drops the
// pages already written back), which is what logkit's file sink does. Sleep a few
// seconds between runs so freed memory goes cold, as in a long run.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s MODE LAG_MIB CHUNK_KIB [PATH]\n", argv[0]);
        return 2;
    }
    int mode = atoi(argv[1]);
    size_t lag = (size_t)atoi(argv[2]) << 20, chunk = (size_t)atoi(argv[3]) << 10;
    const char *path = argc > 4 ? argv[4] : "append.out";
    size_t total = 500ul << 20, dropped = 0;
    char *src = malloc(chunk);
    memset(src, 'x', chunk);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
    if (fd < 0) {
        perror("open");
        return 1;
    }
    double t0 = now();
    for (size_t off = 0; off < total; off += chunk) {
        if (write(fd, src, chunk) != (ssize_t)chunk) {
            perror("write");
            return 1;
        }
        if (mode >= 1) sync_file_range(fd, off, chunk, SYNC_FILE_RANGE_WRITE);
        if (mode == 3 && off + chunk > lag) {
            size_t end = off + chunk - lag, from = end > 4 * lag ? end - 4 * lag : 0;
            posix_fadvise(fd, from, end - from, POSIX_FADV_DONTNEED);
        }
        if (mode == 2 && off + chunk > lag + dropped) {
            size_t end = off + chunk - lag;
            sync_file_range(fd, dropped, end - dropped,
                            SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
            posix_fadvise(fd, dropped, end - dropped, POSIX_FADV_DONTNEED);
            dropped = end;
        }
    }
    fdatasync(fd);
    double t1 = now();
    printf("mode=%d lag=%zuMiB chunk=%zuKiB: %.0f MB/s (with the final fdatasync)\n", mode, lag >> 20,
           chunk >> 10, total / (t1 - t0) / 1e6);
    close(fd);
    unlink(path);
    return 0;
}
