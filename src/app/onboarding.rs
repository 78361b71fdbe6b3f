//! Registering many people at once from a spreadsheet saved as CSV, with
//! the columns `name`, `email`, `role` and `project` (the first row names
//! them; `email` and `project` may be left empty). Every row is checked
//! before anything is written: a row at fault is named by its number as
//! the spreadsheet shows it (the column names are row 1), its column and
//! what is wrong, and then nothing at all is written.

use super::{App, Caller, NewPerson};
use crate::app::policy::{self, Action};
use crate::coproduction::values::{ParticipantId, ProjectId, Stage};
use crate::people::{check_email, checked_name, comparable};
use crate::refusal::Refusal;
use serde::Serialize;

/// Most people one file may register.
pub const MOST_ROWS: usize = 2000;

/// What is wrong with one cell (or row) of the file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Fault {
    /// The row as a spreadsheet numbers it: the column names are row 1.
    pub row: usize,
    pub column: String,
    pub problem: String,
}

/// One person the file registered.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Onboarded {
    pub row: usize,
    pub participant_id: ParticipantId,
    pub name: String,
    /// Their `participant.joined` record.
    pub seq: u64,
}

/// Why a file registered no one.
#[derive(Debug)]
pub enum NotOnboarded {
    /// Rows at fault: nothing was written.
    Faults(Vec<Fault>),
    Refused(Refusal),
}

impl From<Refusal> for NotOnboarded {
    fn from(r: Refusal) -> Self {
        NotOnboarded::Refused(r)
    }
}

impl NotOnboarded {
    /// As one refusal (for the API and the command line): invalid, its
    /// words listing every fault, pointing at the first.
    pub fn into_refusal(self) -> Refusal {
        match self {
            NotOnboarded::Refused(r) => r,
            NotOnboarded::Faults(faults) => {
                let words: Vec<String> = faults.iter().map(Fault::to_string).collect();
                let first = &faults[0];
                Refusal::invalid(format!("nothing was registered: {}", words.join("; ")))
                    .at(format!("/rows/{}/{}", first.row, first.column))
            }
        }
    }
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "row {}, {}: {}", self.row, self.column, self.problem)
    }
}

const COLUMNS: [&str; 4] = ["name", "email", "role", "project"];

impl App {
    /// Registers everyone in a CSV file, or no one (see the module).
    pub async fn register_from_csv(
        &self,
        caller: &Caller,
        bytes: &[u8],
    ) -> Result<Vec<Onboarded>, NotOnboarded> {
        policy::require(caller.author(), Action::RegisterPerson)?;
        let people = self.check_csv(bytes)?;
        let mut done = Vec::with_capacity(people.len());
        for (row, person) in people {
            let name = person.name.clone();
            let (id, seq) = self.register_person(caller, person).await.map_err(|r| {
                Refusal::new(
                    r.kind(),
                    format!(
                        "row {row}: {}; the {} rows before it were registered",
                        r.message(),
                        done.len()
                    ),
                )
            })?;
            done.push(Onboarded {
                row,
                participant_id: id,
                name,
                seq,
            });
        }
        Ok(done)
    }

    /// Every row read and checked; the people to register, by row.
    fn check_csv(&self, bytes: &[u8]) -> Result<Vec<(usize, NewPerson)>, NotOnboarded> {
        let fault = |row: usize, column: &str, problem: String| Fault {
            row,
            column: column.into(),
            problem,
        };
        let text = std::str::from_utf8(bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes))
            .map_err(|_| {
                NotOnboarded::Faults(vec![fault(
                    1,
                    "file",
                    "this is not text a spreadsheet saved as CSV (UTF-8)".into(),
                )])
            })?;
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(text.as_bytes());
        let mut rows = reader.records();
        let header = match rows.next() {
            Some(Ok(h)) => h,
            _ => {
                return Err(NotOnboarded::Faults(vec![fault(
                    1,
                    "file",
                    "the file is empty: its first row names the columns (name, email, role, project)".into(),
                )]));
            }
        };
        let mut at = [None; 4];
        let mut faults = Vec::new();
        for (i, cell) in header.iter().enumerate() {
            let name = cell.trim().to_lowercase();
            match COLUMNS.iter().position(|c| *c == name) {
                Some(c) if at[c].is_none() => at[c] = Some(i),
                Some(_) => faults.push(fault(1, &name, "this column is named twice".into())),
                None => faults.push(fault(
                    1,
                    cell.trim(),
                    "not a column this takes: the columns are name, email, role and project".into(),
                )),
            }
        }
        for (c, needed) in [(0, "name"), (2, "role")] {
            if at[c].is_none() {
                faults.push(fault(
                    1,
                    needed,
                    format!("the first row names no {needed} column"),
                ));
            }
        }
        if !faults.is_empty() {
            return Err(NotOnboarded::Faults(faults));
        }
        let model = self.read()?;
        let projects: Vec<(ProjectId, String, bool)> = model
            .projects
            .iter()
            .map(|(id, p)| {
                (
                    *id,
                    comparable(&model.text(&p.title)),
                    p.stage == Stage::Closed,
                )
            })
            .collect();
        drop(model);
        let registered = self.0.people.list().map_err(super::people_refusal)?;
        let mut names: std::collections::HashMap<String, usize> = registered
            .iter()
            .map(|p| (comparable(&p.name), 0))
            .collect();
        let mut emails: std::collections::HashMap<String, usize> = registered
            .iter()
            .filter_map(|p| p.email.as_deref().map(|e| (comparable(e), 0)))
            .collect();
        let mut people = Vec::new();
        for (i, record) in rows.enumerate() {
            let row = i + 2;
            let record = match record {
                Ok(r) => r,
                Err(e) => {
                    faults.push(fault(row, "row", format!("cannot be read: {e}")));
                    continue;
                }
            };
            if record.iter().all(|c| c.trim().is_empty()) {
                continue;
            }
            if people.len() + faults.len() >= MOST_ROWS {
                faults.push(fault(
                    row,
                    "row",
                    format!("a file may register at most {MOST_ROWS} people"),
                ));
                break;
            }
            let cell = |c: usize| {
                at[c]
                    .and_then(|i| record.get(i))
                    .unwrap_or("")
                    .trim()
                    .to_string()
            };
            let (name, email, role, project) = (cell(0), cell(1), cell(2), cell(3));
            let before = faults.len();
            match checked_name(&name) {
                Ok(n) => match names.get(&comparable(&n)) {
                    Some(0) => {
                        faults.push(fault(row, "name", format!("{n} is already registered")))
                    }
                    Some(r) => faults.push(fault(row, "name", format!("{n} is also on row {r}"))),
                    None => {
                        names.insert(comparable(&n), row);
                    }
                },
                Err(e) => faults.push(fault(row, "name", e.to_string())),
            }
            if !email.is_empty() {
                match check_email(&email) {
                    Ok(()) => match emails.get(&comparable(&email)) {
                        Some(0) => faults.push(fault(
                            row,
                            "email",
                            format!("{email} is already registered"),
                        )),
                        Some(r) => {
                            faults.push(fault(row, "email", format!("{email} is also on row {r}")))
                        }
                        None => {
                            emails.insert(comparable(&email), row);
                        }
                    },
                    Err(e) => faults.push(fault(row, "email", e.to_string())),
                }
            }
            let role = role.to_lowercase();
            if role != "partner" && role != "staff" {
                faults.push(fault(
                    row,
                    "role",
                    format!("{role:?}: write partner or staff"),
                ));
            }
            let project_id = if project.is_empty() {
                None
            } else {
                let by_id = uuid::Uuid::parse_str(&project).ok().map(ProjectId::from);
                let wanted = comparable(&project);
                let found: Vec<&(ProjectId, String, bool)> = projects
                    .iter()
                    .filter(|(id, title, _)| Some(*id) == by_id || *title == wanted)
                    .collect();
                match found.as_slice() {
                    [(id, _, false)] => Some(id.uuid()),
                    [(_, _, true)] => {
                        faults.push(fault(row, "project", format!("{project:?} is closed")));
                        None
                    }
                    [] => {
                        faults.push(fault(
                            row,
                            "project",
                            format!("there is no project called {project:?}"),
                        ));
                        None
                    }
                    _ => {
                        faults.push(fault(
                            row,
                            "project",
                            format!(
                                "more than one project is called {project:?}: give its id instead"
                            ),
                        ));
                        None
                    }
                }
            };
            if faults.len() == before {
                people.push((
                    row,
                    NewPerson {
                        role,
                        name,
                        email: Some(email).filter(|e| !e.is_empty()),
                        project_id,
                        // Checked above, against the store and the file.
                        another_person: true,
                    },
                ));
            }
        }
        if !faults.is_empty() {
            return Err(NotOnboarded::Faults(faults));
        }
        if people.is_empty() {
            return Err(NotOnboarded::Faults(vec![fault(
                2,
                "row",
                "the file names no one to register".into(),
            )]));
        }
        Ok(people)
    }
}
