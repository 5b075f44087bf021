//! A small command-line parser: flags and options are taken out by name, what is left
//! is positional. `--opt VALUE` and `--opt=VALUE` both work; `--` ends the options.

/// The arguments after the command.
pub struct Args {
    rest: Vec<String>,
}

impl Args {
    pub fn new(rest: Vec<String>) -> Args {
        Args { rest }
    }

    /// The index of the end of options (`--`), or the length.
    fn options_end(&self) -> usize {
        self.rest.iter().position(|a| a == "--").unwrap_or(self.rest.len())
    }

    /// Whether `name` was given (taken out).
    pub fn flag(&mut self, name: &str) -> bool {
        let end = self.options_end();
        match self.rest[..end].iter().position(|a| a == name) {
            Some(i) => {
                self.rest.remove(i);
                true
            }
            None => false,
        }
    }

    /// Every value of the option `name` (taken out).
    pub fn values(&mut self, name: &str) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        let prefix = format!("{name}=");
        let mut i = 0;
        while i < self.options_end() {
            if self.rest[i] == name {
                if i + 1 >= self.options_end() {
                    return Err(format!("{name} needs a value"));
                }
                self.rest.remove(i);
                out.push(self.rest.remove(i));
            } else if let Some(v) = self.rest[i].strip_prefix(&prefix) {
                out.push(v.to_owned());
                self.rest.remove(i);
            } else {
                i += 1;
            }
        }
        Ok(out)
    }

    /// The last value of the option `name` (taken out).
    pub fn value(&mut self, name: &str) -> Result<Option<String>, String> {
        Ok(self.values(name)?.pop())
    }

    /// What is left, as positional arguments; an unknown option is an error.
    pub fn files(&mut self) -> Result<Vec<String>, String> {
        let end = self.options_end();
        if let Some(bad) = self.rest[..end].iter().find(|a| a.starts_with('-') && a.as_str() != "-") {
            return Err(format!("unknown option {bad:?} (see logkit --help)"));
        }
        let mut out = std::mem::take(&mut self.rest);
        if end < out.len() {
            out.remove(end);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Args {
        Args::new(a.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn flags_options_and_files_are_told_apart() {
        let mut a = args(&["--json", "--top", "3", "x.log", "--where=a=b", "--where", "c=d", "-", "--", "-odd"]);
        assert!(a.flag("--json"));
        assert!(!a.flag("--fail"));
        assert_eq!(a.value("--top").unwrap().as_deref(), Some("3"));
        assert_eq!(a.values("--where").unwrap(), ["a=b", "c=d"]);
        assert_eq!(a.files().unwrap(), ["x.log", "-", "-odd"]);
    }

    #[test]
    fn an_unknown_option_or_a_missing_value_is_an_error() {
        assert_eq!(args(&["--jsno"]).files().unwrap_err(), "unknown option \"--jsno\" (see logkit --help)");
        assert_eq!(args(&["--top"]).value("--top").unwrap_err(), "--top needs a value");
    }
}
