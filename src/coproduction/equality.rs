//! Equality monitoring: "who is present?" Partners answer for themselves
//! only, every question is optional and has "prefer not to say". Answers
//! live in the erasable people store, never in the log, and are published
//! only as counts over the whole partner group or one project, with small
//! counts hidden so that no one can be picked out.
//!
//! Protection against working a hidden count out:
//! - within a table, [`suppress`](super::report::suppress): counts under k
//!   show as "fewer than k", and if only one is hidden another is hidden
//!   too, so it cannot be found by subtracting from the total;
//! - between the whole group's table and a project's: a project's count is
//!   also hidden when the partners *outside* the project with that answer
//!   number 1 to k-1 (else the group's count minus the project's would
//!   give them away).

use super::report::{Shown, suppress, suppress_also};
use super::values::{ProjectId, Role};
use crate::people::People;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

/// The answer every question offers.
pub const PREFER_NOT_TO_SAY: &str = "prefer_not_to_say";
/// How a question nobody answered is counted.
pub const NOT_ANSWERED: &str = "not_answered";

/// Each partner's answers: participant id → (question → answer).
pub type Answers = BTreeMap<Uuid, BTreeMap<String, String>>;

/// One question: its key, its words, and the answers it offers.
pub struct Question {
    pub key: &'static str,
    pub words: &'static str,
    pub answers: &'static [&'static str],
}

const YES_NO: &[&str] = &["yes", "no"];

/// The questions: lived experience, household, region, and the nine
/// protected characteristics of the Equality Act 2010.
pub const QUESTIONS: &[Question] = &[
    Question {
        key: "lived_experience",
        words: "Have you lived in poverty in the last two years?",
        answers: YES_NO,
    },
    Question {
        key: "single_parent",
        words: "Are you a single parent?",
        answers: YES_NO,
    },
    Question {
        key: "region",
        words: "Where do you live?",
        answers: &[
            "north_east",
            "north_west",
            "yorkshire_and_the_humber",
            "east_midlands",
            "west_midlands",
            "east_of_england",
            "london",
            "south_east",
            "south_west",
            "wales",
            "scotland",
            "northern_ireland",
        ],
    },
    Question {
        key: "age",
        words: "How old are you?",
        answers: &["16_24", "25_34", "35_44", "45_54", "55_64", "65_and_over"],
    },
    Question {
        key: "disability",
        words: "Do you consider yourself to have a disability?",
        answers: YES_NO,
    },
    Question {
        key: "gender_reassignment",
        words: "Is your gender different from the sex you were registered at birth?",
        answers: YES_NO,
    },
    Question {
        key: "marriage_or_civil_partnership",
        words: "Are you married or in a civil partnership?",
        answers: YES_NO,
    },
    Question {
        key: "pregnancy_or_maternity",
        words: "Are you pregnant, or have you had a baby in the last year?",
        answers: YES_NO,
    },
    Question {
        key: "ethnic_group",
        words: "What is your ethnic group?",
        answers: &[
            "asian_or_asian_british",
            "black_african_caribbean_or_black_british",
            "mixed_or_multiple",
            "white",
            "other",
        ],
    },
    Question {
        key: "religion_or_belief",
        words: "What is your religion or belief?",
        answers: &[
            "no_religion",
            "buddhist",
            "christian",
            "hindu",
            "jewish",
            "muslim",
            "sikh",
            "other",
        ],
    },
    Question {
        key: "sex",
        words: "What is your sex?",
        answers: &["female", "male"],
    },
    Question {
        key: "sexual_orientation",
        words: "What is your sexual orientation?",
        answers: &[
            "straight_or_heterosexual",
            "gay_or_lesbian",
            "bisexual",
            "other",
        ],
    },
];

/// An answer as people write it ("16 to 24", "Black, African, Caribbean
/// or Black British"), for forms and tables; the stored value is the key.
pub fn answer_words(answer: &str) -> &'static str {
    match answer {
        "yes" => "Yes",
        "no" => "No",
        "north_east" => "North East",
        "north_west" => "North West",
        "yorkshire_and_the_humber" => "Yorkshire and the Humber",
        "east_midlands" => "East Midlands",
        "west_midlands" => "West Midlands",
        "east_of_england" => "East of England",
        "london" => "London",
        "south_east" => "South East",
        "south_west" => "South West",
        "wales" => "Wales",
        "scotland" => "Scotland",
        "northern_ireland" => "Northern Ireland",
        "16_24" => "16 to 24",
        "25_34" => "25 to 34",
        "35_44" => "35 to 44",
        "45_54" => "45 to 54",
        "55_64" => "55 to 64",
        "65_and_over" => "65 and over",
        "asian_or_asian_british" => "Asian or Asian British",
        "black_african_caribbean_or_black_british" => "Black, African, Caribbean or Black British",
        "mixed_or_multiple" => "Mixed or multiple ethnic groups",
        "white" => "White",
        "no_religion" => "No religion",
        "buddhist" => "Buddhist",
        "christian" => "Christian",
        "hindu" => "Hindu",
        "jewish" => "Jewish",
        "muslim" => "Muslim",
        "sikh" => "Sikh",
        "female" => "Female",
        "male" => "Male",
        "straight_or_heterosexual" => "Straight or heterosexual",
        "gay_or_lesbian" => "Gay or lesbian",
        "bisexual" => "Bisexual",
        "other" => "Other",
        PREFER_NOT_TO_SAY => "Prefer not to say",
        NOT_ANSWERED => "Not answered",
        _ => "Another answer",
    }
}

/// Checks a partner's answers: known questions, offered answers. Returns
/// (JSON pointer, what is wrong) for the first fault.
pub fn check_answers(answers: &BTreeMap<String, String>) -> Result<(), (String, String)> {
    for (q, a) in answers {
        let Some(question) = QUESTIONS.iter().find(|x| x.key == q) else {
            let keys: Vec<&str> = QUESTIONS.iter().map(|x| x.key).collect();
            return Err((
                format!("/{q}"),
                format!(
                    "there is no question {q:?}; the questions are {}",
                    keys.join(", ")
                ),
            ));
        };
        if a != PREFER_NOT_TO_SAY && !question.answers.contains(&a.as_str()) {
            return Err((
                format!("/{q}"),
                format!(
                    "{a:?} is not an answer to {q:?}; choose one of {}, or {PREFER_NOT_TO_SAY}",
                    question.answers.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// One question's counts, as published.
#[derive(Serialize, Debug, utoipa::ToSchema)]
#[schema(as = EqualityRow)]
pub struct Row {
    pub question: &'static str,
    pub words: &'static str,
    /// (answer, count as shown) in a fixed order: the answers offered, then
    /// "prefer not to say", then "not answered".
    #[schema(schema_with = counts_schema)]
    pub counts: Vec<(String, Shown)>,
}

/// The schema of [`Row::counts`]: pairs of an answer and its count as
/// shown. Written out because the derived one closes each pair with
/// `items: false`, which some client generators cannot read.
fn counts_schema() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::Ref;
    use utoipa::openapi::schema::{
        AllOfBuilder, ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, Type,
    };
    let answer = || Schema::from(ObjectBuilder::new().schema_type(Type::String).build());
    let shown = || {
        Schema::from(
            AllOfBuilder::new()
                .item(Ref::from_schema_name("Shown"))
                .build(),
        )
    };
    let pair = ArrayBuilder::new()
        .min_items(Some(2))
        .max_items(Some(2))
        .prefix_items([answer(), shown()])
        .items(OneOfBuilder::new().item(answer()).item(shown()))
        .description(Some("The answer, and how many gave it (as shown)."));
    ArrayBuilder::new().items(pair).build()
}

/// The published table for a group of partners.
#[derive(Serialize, Debug, utoipa::ToSchema)]
#[schema(as = EqualityTable)]
pub struct Table {
    /// "all partners" or the project's id.
    pub group: String,
    /// When the answers it counts were taken (the figures are published,
    /// not live): UTC, RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub as_of: Option<String>,
    /// How many partners the table counts ("fewer than k" withholds it all).
    pub partners: Shown,
    pub k: u64,
    /// Empty when there are fewer than k partners: any table would then
    /// say something about someone.
    pub rows: Vec<Row>,
}

fn options(q: &Question) -> Vec<&'static str> {
    let mut o = q.answers.to_vec();
    o.push(PREFER_NOT_TO_SAY);
    o.push(NOT_ANSWERED);
    o
}

/// Raw counts per question and answer for these partners. Only those who
/// answered are looked at (the rest are "not answered"), from whichever
/// of the two lists is shorter: a group of thousands has few answers.
fn counts(answers: &Answers, who: &BTreeSet<Uuid>) -> Vec<Vec<u64>> {
    let answered: Vec<&BTreeMap<String, String>> = if answers.len() < who.len() {
        answers
            .iter()
            .filter(|(id, _)| who.contains(id))
            .map(|(_, a)| a)
            .collect()
    } else {
        who.iter().filter_map(|id| answers.get(id)).collect()
    };
    QUESTIONS
        .iter()
        .map(|q| {
            let opts = options(q);
            let mut c = vec![0u64; opts.len()];
            for a in &answered {
                let a = a.get(q.key).map_or(NOT_ANSWERED, String::as_str);
                let i = opts.iter().position(|o| *o == a).unwrap_or(opts.len() - 1);
                c[i] += 1;
            }
            c[opts.len() - 1] += (who.len() - answered.len()) as u64;
            c
        })
        .collect()
}

/// The partner group's answers, read from the people store: the partners
/// still with the organisation and their answers.
pub fn partner_answers(
    people: &People,
    model: &super::model::Model,
) -> Result<(BTreeSet<Uuid>, Answers), crate::people::PeopleError> {
    let mut group: BTreeSet<Uuid> = model
        .people
        .values()
        .filter(|p| p.role == Some(Role::Partner) && !model.erased.contains(&p.id))
        .map(|p| p.id.uuid())
        .collect();
    let mut answers = BTreeMap::new();
    for p in people.list()? {
        if p.role == "partner" && p.left.is_some() {
            group.remove(&p.id);
        }
        if !p.answers.is_empty() {
            answers.insert(p.id, p.answers);
        }
    }
    Ok((group, answers))
}

fn table(name: String, shown: Vec<Vec<Shown>>, partners: u64, k: u64) -> Table {
    if partners > 0 && partners < k {
        return Table {
            group: name,
            as_of: None,
            partners: Shown::FewerThan(k),
            k,
            rows: Vec::new(),
        };
    }
    Table {
        group: name,
        as_of: None,
        partners: Shown::Count(partners),
        k,
        rows: QUESTIONS
            .iter()
            .zip(shown)
            .map(|(q, cells)| Row {
                question: q.key,
                words: q.words,
                counts: options(q)
                    .into_iter()
                    .map(str::to_string)
                    .zip(cells)
                    .collect(),
            })
            .collect(),
    }
}

impl Table {
    /// The table as published: every count shown exactly is rounded to the
    /// nearest 5 on its own (the total too), so that no total less the
    /// counts beside it gives a hidden one away; and the time its answers
    /// were taken.
    pub fn published(mut self, as_of: &str) -> Table {
        self.as_of = Some(as_of.to_string());
        self.partners = self.partners.rounded();
        for row in &mut self.rows {
            for (_, c) in &mut row.counts {
                *c = c.rounded();
            }
        }
        self
    }
}

/// The partner group behind published figures: who was in it, their
/// answers, and the counts over all of them (kept, as every table needs
/// them and the group has thousands of people).
pub struct Group {
    members: BTreeSet<Uuid>,
    answers: Answers,
    counts: Vec<Vec<u64>>,
}

impl Group {
    pub fn new(members: BTreeSet<Uuid>, answers: Answers) -> Group {
        let counts = counts(&answers, &members);
        Group {
            members,
            answers,
            counts,
        }
    }

    /// Takes these people and their answers out of the figures.
    pub fn remove(&mut self, people: impl IntoIterator<Item = Uuid>) {
        let mut changed = false;
        for who in people {
            changed |= self.members.remove(&who) | self.answers.remove(&who).is_some();
        }
        if changed {
            self.counts = counts(&self.answers, &self.members);
        }
    }
}

/// The table for the whole partner group.
pub fn whole_group(group: &Group, k: u64) -> Table {
    let shown = group.counts.iter().map(|row| suppress(row, k).0).collect();
    table("all partners".into(), shown, group.members.len() as u64, k)
}

/// The table for one project's partners, also protecting the partners
/// outside it from being counted by difference with the group's table.
pub fn project(project: ProjectId, members: &BTreeSet<Uuid>, group: &Group, k: u64) -> Table {
    let inside: BTreeSet<Uuid> = members.intersection(&group.members).copied().collect();
    let raw = counts(&group.answers, &inside);
    let small = |n: u64| n > 0 && n < k;
    let shown = raw
        .iter()
        .zip(&group.counts)
        .map(|(row, all_row)| {
            let also: Vec<bool> = row
                .iter()
                .zip(all_row)
                .map(|(&n, &a)| small(a - n))
                .collect();
            suppress_also(row, k, &also).0
        })
        .collect();
    table(project.to_string(), shown, inside.len() as u64, k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_answer_offered_has_words() {
        for q in QUESTIONS {
            for a in q.answers.iter().chain([&PREFER_NOT_TO_SAY, &NOT_ANSWERED]) {
                let w = answer_words(a);
                assert_ne!(w, "Another answer", "{}: {a}", q.key);
                assert!(w.starts_with(|c: char| c.is_uppercase() || c.is_ascii_digit()));
            }
        }
    }
}
