//! The demo's output: one line per event, coloured when asked.
//!
//! Colour is on when stdout is a terminal, `NO_COLOR` is unset and
//! `--no-color` was not given; the styles come from `anstyle` (the crate
//! clap itself renders with).

use anstyle::{AnsiColor, Style};
use std::fmt::Display;
use std::io::Write as _;

/// Prints the demo's lines.
pub struct Out {
    color: bool,
    checks: usize,
}

const BOLD: Style = Style::new().bold();
const DIM: Style = Style::new().dimmed();
const NAME: Style = AnsiColor::Cyan.on_default().bold();
const HASH: Style = AnsiColor::Yellow.on_default();
const GOOD: Style = AnsiColor::Green.on_default().bold();
const BAD: Style = AnsiColor::Red.on_default().bold();

impl Out {
    /// Output with colour on or off.
    pub fn new(color: bool) -> Self {
        Out { color, checks: 0 }
    }

    fn paint(&self, style: Style, text: impl Display) -> String {
        if self.color {
            format!("{style}{text}{style:#}")
        } else {
            text.to_string()
        }
    }

    /// A node's or peer's name.
    pub fn name(&self, n: &str) -> String {
        self.paint(NAME, n)
    }

    /// Several names, comma-separated.
    pub fn names<'a>(&self, ns: impl IntoIterator<Item = &'a str>) -> String {
        ns.into_iter()
            .map(|n| self.name(n))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// A short hash or key.
    pub fn hash(&self, h: impl Display) -> String {
        self.paint(HASH, h)
    }

    /// A word that means "let in".
    pub fn good(&self, w: impl Display) -> String {
        self.paint(GOOD, w)
    }

    /// A word that means "kept out".
    pub fn bad(&self, w: impl Display) -> String {
        self.paint(BAD, w)
    }

    /// The title line.
    pub fn title(&self, text: &str) {
        self.line(&self.paint(BOLD, text));
    }

    /// A step's heading.
    pub fn step(&self, n: usize, text: &str) {
        self.line("");
        self.line(&self.paint(BOLD, format!("{n}. {text}")));
    }

    /// A fact, under a label.
    pub fn fact(&self, label: &str, text: impl Display) {
        self.line(&format!(
            "   {} {text}",
            self.paint(DIM, format!("{label:<9}"))
        ));
    }

    /// An expectation that held.
    pub fn ok(&mut self, text: impl Display) {
        self.checks += 1;
        self.line(&format!("   {} {text}", self.good("ok")));
    }

    /// How many expectations held.
    pub fn checks(&self) -> usize {
        self.checks
    }

    fn line(&self, s: &str) {
        let mut out = std::io::stdout().lock();
        // A closed pipe (`tka demo | head`) ends the output, not the demo.
        let _ = writeln!(out, "{s}");
        let _ = out.flush();
    }
}
