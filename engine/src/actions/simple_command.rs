//! When a `shell` command can skip `sh`: a line of plain words whose first word is a program
//! on the PATH runs exactly as `sh -c` would run it, one process start instead of two.
//!
//! "Exactly" is the contract, so the test is conservative: any character the shell could
//! give a meaning to (quotes, `$`, globs, `~`, redirections, `;`, `&`, `|`, `#`, braces,
//! backslashes, newlines), an assignment in front, a shell keyword or builtin, a PATH the
//! step sets itself, or a program that is not found, and the command goes to `sh` as
//! written. What `sh` (dash, Debian's `/bin/sh`) would change is changed here: `PWD`, and
//! an exit status of 128+N when the program dies of signal N. (dash leaves `_` alone.)

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;

/// Words and builtins `sh` runs itself, or reads as syntax: never programs on the PATH, even
/// when a file of that name exists there (`echo`, `test`, `[` and `true` do, in /usr/bin,
/// and behave differently from the builtins).
const SHELL_WORDS: &[&str] = &[
    "!", ".", ":", "[", "[[", "{", "}", "alias", "bg", "break", "case", "cd", "chdir", "command", "continue", "do",
    "done", "echo", "elif", "else", "esac", "eval", "exec", "exit", "export", "false", "fc", "fg", "fi", "for",
    "function", "getopts", "hash", "if", "in", "jobs", "kill", "local", "printf", "pwd", "read", "readonly", "return",
    "select", "set", "shift", "test", "then", "time", "times", "trap", "true", "type", "ulimit", "umask", "unalias",
    "unset", "until", "wait", "while",
];

/// A command that runs without `sh`: the program found on the PATH and its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Direct {
    pub program: PathBuf,
    pub args: Vec<String>,
}

/// The `PWD` that `sh` would give the program: the one it is given (the step's own, else
/// the inherited one) when that names the directory it starts in, else the physical path
/// the kernel reports. `None` when it is not text (then leave the command to `sh`).
pub fn sh_pwd(env: &IndexMap<String, String>, inherited: Option<&std::ffi::OsStr>, dir: &Path) -> Option<String> {
    let given = env.get("PWD").map(|p| std::ffi::OsStr::new(p.as_str())).or(inherited);
    let pwd = match given {
        Some(p) if Path::new(p).is_absolute() && same_dir(Path::new(p), dir) => PathBuf::from(p),
        _ => dir.canonicalize().ok()?,
    };
    pwd.into_os_string().into_string().ok()
}

fn same_dir(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// The program and arguments of `run`, when running them directly means what `sh -c run`
/// means; `None` sends the command to `sh`. `env` is what the step adds to the environment,
/// `dir` where it runs, `path` the PATH the child inherits.
pub fn direct(run: &str, env: &IndexMap<String, String>, dir: &Path, path: Option<&std::ffi::OsStr>) -> Option<Direct> {
    // The PATH `sh` would search is the step's own when it sets one: leave that to `sh`.
    if env.contains_key("PATH") {
        return None;
    }
    let mut words = run.split([' ', '\t']).filter(|w| !w.is_empty());
    let first = words.next()?;
    if SHELL_WORDS.contains(&first) || first.contains('=') {
        return None;
    }
    let args: Vec<String> = words.map(String::from).collect();
    if !plain(first) || !args.iter().all(|a| plain(a)) {
        return None;
    }
    let program = if first.contains('/') {
        Some(dir.join(first)).filter(|p| executable(p))
    } else {
        std::env::split_paths(path?)
            // An empty PATH entry means the current directory, to `sh` as to execvp.
            .map(|d| {
                if d.as_os_str().is_empty() {
                    dir.join(first)
                } else {
                    d.join(first)
                }
            })
            .find(|p| executable(p))
    }?;
    Some(Direct { program, args })
}

/// A word the shell passes on unchanged: letters, digits and `-_./:,+@%=` only (`=` makes
/// an assignment only in front, which the caller rules out).
fn plain(word: &str) -> bool {
    word.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_./:,+@%=".contains(&b))
}

/// An executable file the kernel can start itself: a binary or a script with a `#!` line.
/// `sh` runs any other executable file as a shell script, which only `sh` can do.
fn executable(p: &Path) -> bool {
    use std::io::Read;
    let runnable = std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
    let mut head = [0u8; 4];
    runnable
        && std::fs::File::open(p)
            .and_then(|mut f| f.read_exact(&mut head))
            .is_ok_and(|()| head.starts_with(b"#!") || head == *b"\x7fELF")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(run: &str) -> Option<Direct> {
        direct(run, &IndexMap::new(), Path::new("/"), Some("/usr/bin:/bin".as_ref()))
    }

    #[test]
    fn plain_words_run_directly() {
        let d = check("ls -la /tmp").expect("direct");
        assert!(d.program.ends_with("ls"), "{d:?}");
        assert_eq!(d.args, ["-la", "/tmp"]);
        let d = check("  /bin/ls\t--color=never  ").expect("direct");
        assert_eq!(d.program, Path::new("/bin/ls"));
        assert_eq!(d.args, ["--color=never"]);
    }

    #[test]
    fn anything_the_shell_reads_goes_to_sh() {
        for run in [
            "ls $HOME",
            "ls '/tmp'",
            "ls \"/tmp\"",
            "ls *.rs",
            "ls ~",
            "ls > out",
            "ls; ls",
            "ls && ls",
            "ls | wc",
            "ls &",
            "ls # comment",
            "ls \\n",
            "ls\nls",
            "ls {a,b}",
            "ls [ab]",
            "ls a?",
            "ls `pwd`",
            "ls $(pwd)",
            "FOO=1 ls",
            "ls (x)",
            "ls é",
            "",
            "   ",
        ] {
            assert_eq!(check(run), None, "{run:?}");
        }
    }

    #[test]
    fn builtins_and_keywords_stay_with_sh() {
        // /usr/bin/true, /usr/bin/echo and /usr/bin/test exist, but `sh` runs its own.
        for run in [
            "true",
            "echo hi",
            "test -f x",
            "[ -f x ]",
            "exit 3",
            "cd /tmp",
            "kill 1",
            "if",
        ] {
            assert_eq!(check(run), None, "{run:?}");
        }
    }

    #[test]
    fn unknown_programs_and_a_path_of_the_step_stay_with_sh() {
        // `sh` says "not found" and exits 127, in its own words.
        assert_eq!(check("no-such-program-anywhere"), None);
        assert_eq!(check("./no-such-file"), None);
        let mut env = IndexMap::new();
        env.insert("PATH".to_string(), "/opt/bin".to_string());
        assert_eq!(direct("ls", &env, Path::new("/"), Some("/usr/bin:/bin".as_ref())), None);
        assert_eq!(direct("ls", &IndexMap::new(), Path::new("/"), None), None);
    }

    #[test]
    fn relative_programs_are_found_from_the_step_directory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let script = dir.path().join("tool");
        std::fs::write(&script, "#!/bin/sh\n").expect("write");
        assert_eq!(check("./tool"), None, "not executable yet, and not in /");
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let d = direct("./tool a", &IndexMap::new(), dir.path(), Some("/usr/bin".as_ref())).expect("direct");
        assert_eq!(d.program, dir.path().join("./tool"));
        // Without a `#!` line only `sh` can run it (as a script of its own).
        std::fs::write(&script, "echo hi\n").expect("write");
        assert_eq!(
            direct("./tool a", &IndexMap::new(), dir.path(), Some("/usr/bin".as_ref())),
            None
        );
        // Not on the PATH by its bare name.
        assert_eq!(
            direct("tool", &IndexMap::new(), dir.path(), Some("/usr/bin".as_ref())),
            None
        );
    }
}

#[cfg(test)]
mod env_tests {
    use super::*;

    #[test]
    fn pwd_is_what_sh_would_set() {
        let dir = tempfile::tempdir().expect("tempdir");
        let real = dir.path().canonicalize().expect("canonical");
        let link = real.join("link");
        std::os::unix::fs::symlink(&real, &link).expect("symlink");
        let (real, link_s) = (real.to_str().unwrap(), link.to_str().unwrap());
        let none = IndexMap::new();
        let pwd = |given: Option<&str>, env: &IndexMap<String, String>| {
            sh_pwd(env, given.map(std::ffi::OsStr::new), &link).expect("text")
        };
        // A PWD naming the directory is kept, symlinks and all; any other is replaced by
        // the physical path.
        assert_eq!(pwd(Some(link_s), &none), link_s);
        assert_eq!(pwd(Some("/"), &none), real);
        assert_eq!(pwd(None, &none), real);
        assert_eq!(pwd(Some("relative"), &none), real);
        // The step's own PWD comes first.
        let mut env = IndexMap::new();
        env.insert("PWD".to_string(), "/".to_string());
        assert_eq!(pwd(Some(link_s), &env), real);
    }
}
