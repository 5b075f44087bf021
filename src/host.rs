//! What names this machine in a record: its host name, for the `logkit.start` record
//! and the OTLP resource (`host.name`).

/// This machine's host name (empty when it cannot be read).
pub(crate) fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: `buf` is valid for `buf.len()` bytes; `gethostname` writes at most that
    // many and we read only up to the first NUL inside the buffer.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return String::new();
    }
    let n = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_host_name_is_the_kernels() {
        let kernel = std::fs::read_to_string("/proc/sys/kernel/hostname").map(|s| s.trim().to_owned());
        if let Ok(kernel) = kernel {
            assert_eq!(super::host_name(), kernel);
        } else {
            assert!(!super::host_name().contains('\0'));
        }
    }
}
