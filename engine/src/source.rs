//! Loaded source files, byte spans into them, and diagnostics rendered against them.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceCode};

/// A byte range in a source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub const fn new(start: usize, end: usize) -> Self {
        Span {
            start,
            end: if end < start { start } else { end },
        }
    }
    pub fn clamp(self, len: usize) -> Self {
        Span::new(self.start.min(len), self.end.min(len))
    }
}

/// A file's text, with the name it is shown under.
pub struct Source {
    /// The path as shown to users (relative to the working directory where possible).
    pub name: String,
    pub path: PathBuf,
    pub text: Arc<String>,
}

impl Source {
    pub fn new(path: &Path, text: String) -> Arc<Source> {
        Arc::new(Source {
            name: display_path(path),
            path: path.to_path_buf(),
            text: Arc::new(text),
        })
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..floor_char_boundary(&self.text, offset)];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
        let col = before[line_start..].chars().count() + 1;
        (line, col)
    }

    /// The text a span covers.
    pub fn slice(&self, span: Span) -> &str {
        let span = span.clamp(self.text.len());
        self.text.get(span.start..span.end).unwrap_or("")
    }
}

// The text can be megabytes: debug output names the file only.
impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "Source({})", self.name)
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// A path relative to the current directory when it is inside it, for shorter messages.
pub fn display_path(path: &Path) -> String {
    let cwd = std::env::current_dir().ok();
    let shown = cwd
        .as_deref()
        .and_then(|cwd| path.strip_prefix(cwd).ok())
        .unwrap_or(path);
    shown.display().to_string()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Error,
}

/// One finding about a file: an error that stops compilation or a lint warning.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    pub severity: Severity,
    pub message: String,
    pub file: Option<Arc<Source>>,
    pub span: Option<Span>,
    /// Text under the underline.
    pub label: Option<String>,
    pub help: Option<String>,
    /// The lint's name, for warnings (`mutating-without-rollback`).
    pub code: Option<&'static str>,
}

impl Diagnostic {
    pub fn error(message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            file: None,
            span: None,
            label: None,
            help: None,
            code: None,
        }
    }
    pub fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            code: Some(code),
            ..Diagnostic::error(message)
        }
    }
    pub fn at(mut self, file: &Arc<Source>, span: Span) -> Self {
        self.file = Some(file.clone());
        self.span = Some(span);
        self
    }
    pub fn in_file(mut self, file: &Arc<Source>) -> Self {
        self.file = Some(file.clone());
        self
    }
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// `path:line:col`, or the path alone.
    pub fn location(&self) -> Option<String> {
        let file = self.file.as_ref()?;
        Some(match self.span {
            Some(span) => {
                let (l, c) = file.line_col(span.start);
                format!("{}:{l}:{c}", file.name)
            }
            None => file.name.clone(),
        })
    }

    /// Renders the diagnostic: a `path:line:col: message` headline, then the offending line
    /// with the span underlined (miette).
    pub fn render(&self, color: bool) -> String {
        let kind = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let code = self.code.map(|c| format!("[{c}]")).unwrap_or_default();
        let mut out = match self.location() {
            Some(loc) => format!("{kind}{code}: {loc}: {}\n", self.message),
            None => format!("{kind}{code}: {}\n", self.message),
        };
        if let (Some(file), Some(span)) = (&self.file, self.span) {
            let theme = if color {
                GraphicalTheme::unicode()
            } else {
                GraphicalTheme::unicode_nocolor()
            };
            let handler = GraphicalReportHandler::new_themed(theme)
                .with_width(100)
                .with_links(false)
                .with_context_lines(1)
                .without_syntax_highlighting();
            let named = NamedSource::new(file.name.clone(), file.text.clone());
            let view = View {
                diag: self,
                file,
                named,
                span,
            };
            let mut snippet = String::new();
            if handler.render_report(&mut snippet, &view).is_ok() {
                // miette's first line is the (empty) headline: ours is printed above.
                let body = snippet.split_once('\n').map(|(_, rest)| rest).unwrap_or(&snippet);
                out.push_str(body);
            }
        } else if let Some(help) = &self.help {
            out.push_str(&format!("  help: {help}\n"));
        }
        out
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self.location() {
            Some(loc) => write!(f, "{loc}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// The miette view of a diagnostic with a span.
struct View<'a> {
    diag: &'a Diagnostic,
    file: &'a Arc<Source>,
    named: NamedSource<Arc<String>>,
    span: Span,
}

impl fmt::Debug for View<'_> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&self.diag.message)
    }
}

// The headline (`error: path:line:col: message`) is printed before the snippet; miette
// draws only the snippet.
impl fmt::Display for View<'_> {
    fn fmt(&self, _: &mut fmt::Formatter) -> fmt::Result {
        Ok(())
    }
}

impl std::error::Error for View<'_> {}

impl miette::Diagnostic for View<'_> {
    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diag.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }
    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.diag.help.as_ref().map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(&self.named)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let text = &self.file.text;
        let mut span = self.span.clamp(text.len());
        // Underline at least one character so the position shows.
        if span.end == span.start && span.start < text.len() {
            let next = text[span.start..].chars().next().map(|c| c.len_utf8()).unwrap_or(0);
            span.end = span.start + next;
        }
        let label = LabeledSpan::new(self.diag.label.clone(), span.start, span.end - span.start);
        Some(Box::new(std::iter::once(label)))
    }
}
