//! Label texts interned into label sets (action, policy type, state, status, queue reason,
//! and the client's names for the per-client families): a record holds one `u32` for all of
//! them, and the tables are shared by every record.

use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::collect::label::cap_label;
use crate::config::ClientsConfig;
use crate::netbackup::lenient::{Num, Text};
use crate::netbackup::models::JobAttributes;

/// An interned label text.
pub(super) type Sym = u32;

/// Label texts and sets a table may hold beyond twice what the stored jobs reference before it
/// is rebuilt.
pub(super) const LABEL_SLACK: usize = 1024;

/// A numeric label (status, queue reason): `None` when absent or invalid.
pub(super) type Code = Option<i64>;

/// The labels of a job, interned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct LabelSet {
    /// `jobType`.
    pub(super) action: Sym,
    /// `policyType`.
    pub(super) policy: Sym,
    /// `state`.
    pub(super) state: Sym,
    /// `status`.
    pub(super) status: Code,
    /// Only for queued jobs (`QUEUED`, `REQUEUED`).
    pub(super) reason: Option<Code>,
    /// `clientName` and `policyName`, only for clients of the per-client allowlist.
    pub(super) client: Option<(Sym, Sym)>,
}

/// Interned label texts and label sets. Ids stay valid as the table grows.
#[derive(Debug, Clone, Default)]
pub struct LabelTable {
    text_ids: FxHashMap<Box<str>, Sym>,
    texts: Vec<Box<str>>,
    set_ids: FxHashMap<LabelSet, u32>,
    pub(super) sets: Vec<LabelSet>,
    /// The clients whose jobs carry their client and policy names (the per-client families).
    pub(super) clients: Option<Arc<ClientsConfig>>,
}

impl LabelTable {
    fn intern(&mut self, text: &str) -> Sym {
        if let Some(id) = self.text_ids.get(text) {
            return *id;
        }
        let id = Sym::try_from(self.texts.len()).unwrap_or(Sym::MAX);
        self.texts.push(text.into());
        self.text_ids.insert(text.into(), id);
        id
    }

    pub(super) fn text(&self, id: Sym) -> &str {
        self.texts.get(id as usize).map_or("", |t| t)
    }

    /// Label texts plus label sets held.
    pub(super) fn held(&self) -> usize {
        self.texts.len() + self.sets.len()
    }

    /// A table of only the label sets `ids` name, with each id rewritten to it.
    pub(super) fn compacted<'r>(&self, ids: impl IntoIterator<Item = &'r mut u32>) -> LabelTable {
        let mut table = LabelTable {
            clients: self.clients.clone(),
            ..LabelTable::default()
        };
        let mut new_ids: Vec<Option<u32>> = vec![None; self.sets.len()];
        for id in ids {
            let old = *id as usize;
            let (Some(slot), Some(set)) = (new_ids.get_mut(old), self.sets.get(old)) else {
                continue;
            };
            *id = match slot {
                Some(id) => *id,
                None => {
                    let set = LabelSet {
                        action: table.intern(self.text(set.action)),
                        policy: table.intern(self.text(set.policy)),
                        state: table.intern(self.text(set.state)),
                        client: set.client.map(|(client, policy)| {
                            (
                                table.intern(self.text(client)),
                                table.intern(self.text(policy)),
                            )
                        }),
                        ..*set
                    };
                    *slot.insert(table.set_id(set))
                }
            };
        }
        table
    }

    pub(super) fn set_id(&mut self, set: LabelSet) -> u32 {
        if let Some(id) = self.set_ids.get(&set) {
            return *id;
        }
        let id = u32::try_from(self.sets.len()).unwrap_or(u32::MAX);
        self.sets.push(set);
        self.set_ids.insert(set, id);
        id
    }

    pub(super) fn label(&mut self, text: &Text<'_>, absent: &str, invalid: &mut u8) -> Sym {
        match text {
            Text::Valid(t) => {
                let (t, cut) = cap_label(t);
                if cut {
                    *invalid = invalid.saturating_add(1);
                }
                self.intern(t)
            }
            Text::Absent => self.intern(absent),
            Text::Invalid => {
                *invalid = invalid.saturating_add(1);
                self.intern(absent)
            }
        }
    }

    /// The interned client and policy names of a job of an allowlisted client.
    pub(super) fn client_labels(&mut self, job: &JobAttributes<'_>) -> Option<(Sym, Sym)> {
        let allowlist = self.clients.as_ref()?;
        let client = job.client_name.as_str().filter(|c| allowlist.allows(c))?;
        let (client, _) = cap_label(client);
        let (policy, _) = cap_label(job.policy_name.as_str().unwrap_or(""));
        let client = client.to_owned();
        let policy = policy.to_owned();
        Some((self.intern(&client), self.intern(&policy)))
    }
}

/// A numeric label of a job, counting an invalid one in `invalid`.
pub(super) fn code(value: Num<i64>, invalid: &mut u8) -> Code {
    match value {
        Num::Valid(v) => Some(v),
        Num::Absent => None,
        Num::Invalid => {
            *invalid = invalid.saturating_add(1);
            None
        }
    }
}
