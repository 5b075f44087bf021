//! Where rendered records go: the JSONL file and the console.

pub(crate) mod console;
pub(crate) mod file;
pub(crate) mod file_thread;
