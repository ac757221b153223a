//! Notifications a parent's failure explains (sheepdog(7), RULES): the
//! rule file's `suppress(Host, Tag)`, asked of the store when a mail is
//! about to go, holds those notifications back; the mail they came with
//! names them, and their recovery is held too.

use crate::base::error::Result;
use crate::base::sqlite::json_text as text;
use crate::base::{cli, time};
use crate::rules::Rules;
use crate::server::maintenance::Recurrences;
use crate::store::Store;
use std::collections::HashSet;
use std::path::PathBuf;

pub struct Suppression {
    rules: Rules,
    store: PathBuf,
    /// The configuration's recurring maintenance windows, which the
    /// rules see as `maintenance(Host, Tag, Until)`.
    recurring: Recurrences,
    /// The store could not be read last time (said once, not per mail).
    warned: bool,
}

impl Suppression {
    /// Suppression from the rule file, if it has `suppress` rules.
    pub fn new(rules: Rules, store: PathBuf, recurring: Recurrences) -> Option<Suppression> {
        rules.defines("suppress").then_some(Suppression {
            rules,
            store,
            recurring,
            warned: false,
        })
    }

    /// The file the rules came from, for the mail.
    pub fn origin(&self) -> &str {
        self.rules.origin()
    }

    /// The host and tag pairs held back now. A store that cannot be read
    /// holds nothing back: better a mail too many than one lost.
    pub fn held(&mut self) -> HashSet<(String, String)> {
        match self.ask() {
            Ok(held) => {
                self.warned = false;
                held
            }
            Err(e) => {
                if !self.warned {
                    cli::warn(format!("{e}; mailing without suppression"));
                    self.warned = true;
                }
                HashSet::new()
            }
        }
    }

    fn ask(&self) -> Result<HashSet<(String, String)>> {
        let conn = Store::open_read_only(&self.store)?;
        let now = time::now_ms();
        self.recurring.offer_to_rules(&conn, now)?;
        let answers = self.rules.ask(&conn, "suppress(Host, Tag)", now)?;
        Ok(answers
            .rows
            .iter()
            .map(|row| (text(&row[0]), text(&row[1])))
            .collect())
    }
}
