//! The node's configuration: one YAML file (`orama.yaml`), one section per process.
//!
//! Reading happens in two steps (the ripgrep "low args / high args" split): the text becomes a
//! tree of nodes with line numbers ([`yaml`]), then each section is read into typed values
//! with every problem collected. Unknown keys are problems. Every field has a default, so an
//! empty file, or no file at all, is a valid config.
//!
//! The modules form layers that only point down: [`yaml`] (the tree), [`read`] (typed reads
//! of a field, problems), [`durations`] and [`child`] (what several sections share), one
//! module per section (each with its types and its reader), and [`node_config`], which
//! assembles the sections into [`NodeConfig`] and checks across them. No section imports
//! from `node_config` or from this module.

mod anon;
mod cache;
mod child;
mod durations;
mod externals;
mod gateway;
mod node;
mod node_config;
mod pubsub;
mod read;
mod sql;
mod storage;
mod supervisor;
mod tls;
mod wasm;
mod yaml;

use std::fmt;
use std::path::{Path, PathBuf};

pub use anon::*;
pub use cache::*;
pub use child::*;
pub use externals::*;
pub use gateway::*;
pub use node::*;
pub use node_config::*;
pub use pubsub::*;
pub use read::Problem;
pub use sql::*;
pub use storage::*;
pub use supervisor::*;
pub use tls::*;
pub use wasm::*;

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not well-formed YAML.
    #[error("{origin}: not valid YAML: {message}")]
    Syntax {
        /// Where the text came from.
        origin: String,
        /// The parser's message.
        message: String,
    },
    /// The file is YAML but some values are wrong; every problem is listed.
    #[error("{origin}: {} problem(s):\n{}", problems.len(), ProblemList(problems))]
    Invalid {
        /// Where the text came from.
        origin: String,
        /// Every problem found.
        problems: Vec<Problem>,
    },
}

struct ProblemList<'a>(&'a [Problem]);

impl fmt::Display for ProblemList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "  - {problem}")?;
        }
        Ok(())
    }
}

impl NodeConfig {
    /// Reads and validates the file at `path`.
    pub fn load(path: &Path) -> Result<NodeConfig, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        NodeConfig::parse(&text, &path.display().to_string())
    }

    /// Reads `path` when given, else the all-defaults config.
    pub fn load_or_default(path: Option<&Path>) -> Result<NodeConfig, ConfigError> {
        match path {
            Some(path) => NodeConfig::load(path),
            None => Ok(NodeConfig::default()),
        }
    }

    /// Parses and validates `text`; `origin` names it in messages (usually the file path).
    pub fn parse(text: &str, origin: &str) -> Result<NodeConfig, ConfigError> {
        let tree = yaml::parse(text).map_err(|message| ConfigError::Syntax { origin: origin.to_owned(), message })?;
        let mut problems = read::Problems::default();
        let config = node_config::read_node_config(&tree, &mut problems);
        if problems.0.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::Invalid { origin: origin.to_owned(), problems: problems.0 })
        }
    }
}
