//! The bounds a YAML text must keep before it is parsed into values: its size, how deep it
//! nests, and how large its aliases make it.
//!
//! The parser behind the `config` crate builds the whole document in memory, copying an
//! anchored node at every alias that refers to it, and walks nested collections by recursion.
//! So a few hundred bytes of anchors and aliases (the "billion laughs") expand into gigabytes,
//! and ten thousand nested levels overflow the stack: both would abort the process, and the
//! hot reload would take the running agent down with them. [`check`] walks the parser's event
//! stream once, without building anything and without recursion, and refuses such a text
//! before it reaches the parser. A text that does not parse passes the check: the parser then
//! reports its own error, at the same place.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, Parser};

use crate::file_limits::{Bytes, MAX_CONFIG_FILE_BYTES};

/// The deepest nesting of mappings and sequences accepted. The deepest key of the
/// configuration (`sites[].sources.clients.allowlist[]`) is six levels down.
pub const MAX_YAML_DEPTH: usize = 32;

/// The most values (scalars, mappings and sequences) a document may hold once every alias is
/// replaced by a copy of its anchor. A configuration of a hundred sites holds a few thousand.
pub const MAX_YAML_VALUES: u64 = 100_000;

/// The most text (the bytes of every scalar) a document may hold once every alias is replaced
/// by a copy of its anchor.
pub const MAX_YAML_TEXT_BYTES: u64 = 4 * 1024 * 1024;

/// Why a YAML text was refused before parsing. Each message names the limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum YamlLimitError {
    /// The text is longer than [`MAX_CONFIG_FILE_BYTES`].
    #[error("the file is larger than {}, the limit of a configuration file", Bytes(*limit))]
    TooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
    /// Mappings and sequences nest deeper than [`MAX_YAML_DEPTH`].
    #[error(
        "mappings and sequences nest more than {limit} levels deep (line {line}); \
         refused before parsing"
    )]
    TooDeep {
        /// The limit, in levels.
        limit: usize,
        /// Where the limit was crossed (1-based).
        line: usize,
    },
    /// Aliases expand the document beyond [`MAX_YAML_VALUES`] values.
    #[error(
        "the document holds more than {limit} values once its aliases are expanded \
         (line {line}); refused before parsing"
    )]
    TooManyValues {
        /// The limit, in values.
        limit: u64,
        /// Where the limit was crossed (1-based).
        line: usize,
    },
    /// Aliases expand the document beyond [`MAX_YAML_TEXT_BYTES`] of text.
    #[error(
        "the document holds more than {} of text once its aliases are expanded \
         (line {line}); refused before parsing",
        Bytes(*limit)
    )]
    TooMuchText {
        /// The limit, in bytes.
        limit: u64,
        /// Where the limit was crossed (1-based).
        line: usize,
    },
}

/// How large a node is once its aliases are expanded.
#[derive(Debug, Clone, Copy)]
struct Size {
    values: u64,
    text: u64,
}

impl Size {
    const ONE: Size = Size { values: 1, text: 0 };

    fn add(&mut self, other: Size) {
        self.values = self.values.saturating_add(other.values);
        self.text = self.text.saturating_add(other.text);
    }
}

/// Checks `text` against [`MAX_CONFIG_FILE_BYTES`], [`MAX_YAML_DEPTH`], [`MAX_YAML_VALUES`]
/// and [`MAX_YAML_TEXT_BYTES`], in time linear in its length and memory bounded by its
/// anchors.
pub fn check(text: &str) -> Result<(), YamlLimitError> {
    if text.len() as u64 > MAX_CONFIG_FILE_BYTES {
        return Err(YamlLimitError::TooLarge {
            limit: MAX_CONFIG_FILE_BYTES,
        });
    }
    let mut parser = Parser::new_from_str(text);
    // The expanded size of every anchored node seen whole.
    let mut anchors: HashMap<usize, Size> = HashMap::new();
    // The collections open around the current event: their anchor and their size so far.
    let mut open: Vec<(usize, Size)> = Vec::new();
    let mut total = Size { values: 0, text: 0 };
    loop {
        // A syntax error is the parser's to report, with its own words.
        let Ok((event, mark)) = parser.next_token() else {
            return Ok(());
        };
        let line = mark.line();
        let node = match event {
            Event::StreamEnd => return Ok(()),
            Event::Scalar(value, _, anchor, _) => {
                let size = Size {
                    values: 1,
                    text: value.len() as u64,
                };
                if anchor > 0 {
                    anchors.insert(anchor, size);
                }
                size
            }
            Event::Alias(anchor) => anchors.get(&anchor).copied().unwrap_or(Size::ONE),
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if open.len() >= MAX_YAML_DEPTH {
                    return Err(YamlLimitError::TooDeep {
                        limit: MAX_YAML_DEPTH,
                        line,
                    });
                }
                open.push((anchor, Size::ONE));
                total.add(Size::ONE);
                within_bounds(total, line)?;
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some((anchor, size)) = open.pop() {
                    if anchor > 0 {
                        anchors.insert(anchor, size);
                    }
                    if let Some((_, parent)) = open.last_mut() {
                        parent.add(size);
                    }
                }
                continue;
            }
            Event::Nothing | Event::StreamStart | Event::DocumentStart | Event::DocumentEnd => {
                continue;
            }
        };
        total.add(node);
        if let Some((_, parent)) = open.last_mut() {
            parent.add(node);
        }
        within_bounds(total, line)?;
    }
}

fn within_bounds(total: Size, line: usize) -> Result<(), YamlLimitError> {
    if total.values > MAX_YAML_VALUES {
        return Err(YamlLimitError::TooManyValues {
            limit: MAX_YAML_VALUES,
            line,
        });
    }
    if total.text > MAX_YAML_TEXT_BYTES {
        return Err(YamlLimitError::TooMuchText {
            limit: MAX_YAML_TEXT_BYTES,
            line,
        });
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The "billion laughs": nine levels of ten aliases each, 10^9 strings once expanded, in
    /// under 600 bytes.
    pub(crate) fn alias_bomb() -> String {
        let mut text = String::from(
            "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
        );
        let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
        for pair in names.windows(2) {
            let (prev, name) = (pair[0], pair[1]);
            let items = vec![format!("*{prev}"); 10].join(",");
            text.push_str(&format!("{name}: &{name} [{items}]\n"));
        }
        text
    }

    /// `depth` sequences nested in block style, on one line (`- - - x`): 10,000 levels take
    /// 20 kB.
    pub(crate) fn deep_block(depth: usize) -> String {
        format!("{}x\n", "- ".repeat(depth))
    }

    #[test]
    fn an_alias_bomb_is_refused_before_it_expands() {
        let bomb = alias_bomb();
        assert!(bomb.len() < 600, "{} bytes", bomb.len());
        let err = check(&bomb).expect_err("10^9 values");
        assert!(
            matches!(
                err,
                YamlLimitError::TooManyValues {
                    limit: MAX_YAML_VALUES,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("100000 values"), "{err}");
    }

    #[test]
    fn aliases_of_long_strings_are_bounded_by_their_text() {
        let long = "x".repeat(100_000);
        let items = vec!["*s"; 100].join(", ");
        let text = format!("s: &s \"{long}\"\nlist: [{items}]\n");
        let err = check(&text).expect_err("10 MB of text from 100 kB");
        assert!(matches!(err, YamlLimitError::TooMuchText { .. }), "{err}");
        assert!(err.to_string().contains("4 MiB"), "{err}");
    }

    #[test]
    fn nesting_beyond_the_limit_is_refused_in_block_and_flow_style() {
        let err = check(&deep_block(10_000)[..]).expect_err("10,000 levels");
        assert_eq!(
            err,
            YamlLimitError::TooDeep {
                limit: MAX_YAML_DEPTH,
                line: 1
            }
        );
        // (Beyond 255 flow levels the scanner stops on its own, before any event.)
        let flow = format!("a: {}{}", "[".repeat(200), "]".repeat(200));
        let err = check(&flow).expect_err("200 levels");
        assert!(matches!(err, YamlLimitError::TooDeep { .. }), "{err}");
        assert!(err.to_string().contains("32 levels"), "{err}");
    }

    #[test]
    fn nesting_up_to_the_limit_passes() {
        check(&deep_block(MAX_YAML_DEPTH - 1)).unwrap_or_else(|e| panic!("{e}"));
    }

    #[test]
    fn a_text_larger_than_a_configuration_file_is_refused_before_it_is_scanned() {
        let text = format!("a: \"{}\"\n", "x".repeat(MAX_CONFIG_FILE_BYTES as usize));
        let err = check(&text).expect_err("more than 1 MiB");
        assert_eq!(
            err.to_string(),
            "the file is larger than 1 MiB, the limit of a configuration file"
        );
    }

    #[test]
    fn ordinary_anchors_and_aliases_pass() {
        let text = "defaults: &d\n  jobs_interval: 30s\n  request_timeout: 10s\n\
                    sites:\n  - name: a\n    collection: *d\n  - name: b\n    collection: *d\n";
        check(text).unwrap_or_else(|e| panic!("{e}"));
    }

    #[test]
    fn a_syntax_error_is_left_to_the_parser() {
        check("a: [1, 2\nb: }").unwrap_or_else(|e| panic!("{e}"));
    }
}
