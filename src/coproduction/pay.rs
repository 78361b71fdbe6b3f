//! "Were partners paid for their time?": hours partners gave, paid and
//! waiting, how long payment took, per project and over the organisation.
//!
//! Hours are about people, so the figures follow the small-number rule for
//! readers who do not see exact counts (partners, auditors): a project's
//! figures are shown only when at least `k` partners gave time to it, and
//! never per person. Staff and admins see them exactly
//! (`policy::sees_exact_counts`). A person's own hours and payments are
//! theirs to read ([`Mine`]).

use super::model::{Model, TimeGiven};
use super::report::{Settings, Shown, people};
use super::values::{
    Date, Hours, ParticipantId, PaymentForm, PaymentId, ProjectId, TimeFor, TimeId,
};
use serde::Serialize;
use std::collections::BTreeSet;

/// Time given this many days ago or more and not paid is "waiting too
/// long": the one place this threshold is kept (docs/ACCOUNTABILITY.md).
pub const WAITING_TOO_LONG_DAYS: i64 = 30;

/// The figures of one project, or of several together.
#[derive(Clone, Debug, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PayFigures {
    /// Partners who gave time (a count of people).
    pub partners_with_time: Shown,
    /// Hours partners gave (agreed, or recorded by staff); `null` when
    /// too few partners gave time for it to be shown to this reader.
    pub hours_given: Option<f64>,
    /// Of those, hours paid (declined payments included: settled).
    pub hours_paid: Option<f64>,
    /// Hours not yet paid.
    pub hours_waiting: Option<f64>,
    /// Hours given 30 days ago or more and not paid.
    pub hours_waiting_over_30_days: Option<f64>,
    /// The median days from the day time was given to the day it was
    /// paid, over every paid time record; `null` with none paid.
    pub median_days_to_payment: Option<f64>,
    /// Hours recorded by partners themselves, waiting for staff to agree.
    pub hours_to_agree: Option<f64>,
}

/// Sums of hundredths of an hour, and who gave them.
#[derive(Default)]
struct Tally {
    partners: BTreeSet<ParticipantId>,
    given: u64,
    paid: u64,
    waiting: u64,
    late: u64,
    to_agree: u64,
    days: Vec<i64>,
}

impl Tally {
    fn add(&mut self, model: &Model, t: &TimeGiven, today: Date) {
        self.partners.insert(t.who);
        let h = u64::from(t.hours.hundredths());
        if !t.agreed {
            self.to_agree += h;
            return;
        }
        self.given += h;
        match t.paid_by.and_then(|p| model.payments.get(&p)) {
            Some(pay) => {
                self.paid += h;
                self.days.push(t.date.days_until(pay.date));
            }
            None => {
                self.waiting += h;
                if t.date.days_until(today) >= WAITING_TOO_LONG_DAYS {
                    self.late += h;
                }
            }
        }
    }

    fn figures(mut self, exact: bool, k: u64) -> PayFigures {
        let n = self.partners.len() as u64;
        let shown = exact || n == 0 || n >= k;
        let hours = |h: u64| shown.then(|| h as f64 / 100.0);
        self.days.sort_unstable();
        let median = match self.days.len() {
            0 => None,
            n if n % 2 == 1 => Some(self.days[n / 2] as f64),
            n => Some((self.days[n / 2 - 1] + self.days[n / 2]) as f64 / 2.0),
        };
        PayFigures {
            partners_with_time: if exact { Shown::Count(n) } else { people(n, k) },
            hours_given: hours(self.given),
            hours_paid: hours(self.paid),
            hours_waiting: hours(self.waiting),
            hours_waiting_over_30_days: hours(self.late),
            median_days_to_payment: median.filter(|_| shown),
            hours_to_agree: hours(self.to_agree),
        }
    }
}

/// The figures over the projects `include` admits.
pub fn figures(
    model: &Model,
    include: &dyn Fn(&ProjectId) -> bool,
    s: Settings,
    exact: bool,
) -> PayFigures {
    let mut t = Tally::default();
    for time in model.time.values().filter(|t| include(&t.project)) {
        t.add(model, time, s.today);
    }
    t.figures(exact, s.k)
}

impl PayFigures {
    /// The figures in a sentence, after `what` ("Over every project").
    pub fn words(&self, what: &str) -> String {
        let h = |x: Option<f64>| {
            x.map_or("not shown".to_string(), |v| {
                format!(
                    "{} hours",
                    Hours::from_hundredths((v * 100.0).round() as u32)
                )
            })
        };
        match (self.partners_with_time, self.hours_given) {
            (Shown::Count(0), _) => format!("{what}: no time recorded for partners yet."),
            (partners, None) => format!(
                "{what}: {} partners gave time, too few for their hours to be shown.",
                partners.words()
            ),
            (partners, Some(_)) => format!(
                "{what}: {} partners gave {}; {} paid, {} waiting ({} of them for {WAITING_TOO_LONG_DAYS} days or more){}.",
                partners.words(),
                h(self.hours_given),
                h(self.hours_paid),
                h(self.hours_waiting),
                h(self.hours_waiting_over_30_days),
                self.median_days_to_payment
                    .map(|d| format!("; paid a median of {d} days after it was given"))
                    .unwrap_or_default()
            ),
        }
    }
}

/// One project's row.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct PayProject {
    pub project_id: ProjectId,
    pub title: String,
    #[serde(flatten)]
    pub figures: PayFigures,
}

/// "Were partners paid for their time?" over some projects.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct PayReport {
    pub projects: Vec<PayProject>,
    /// Over every project the reader sees.
    pub totals: PayFigures,
    /// Time waiting this many days or more counts as waiting too long.
    pub waiting_too_long_days: i64,
}

/// The report over `projects` (their rows), with totals over `include`.
pub fn report(
    model: &Model,
    projects: &[&super::model::Project],
    include: &dyn Fn(&ProjectId) -> bool,
    s: Settings,
    exact: bool,
) -> PayReport {
    PayReport {
        projects: projects
            .iter()
            .map(|p| PayProject {
                project_id: p.id,
                title: model.text(&p.title),
                figures: figures(model, &|id| *id == p.id, s, exact),
            })
            .collect(),
        totals: figures(model, include, s, exact),
        waiting_too_long_days: WAITING_TOO_LONG_DAYS,
    }
}

/// One time record of a person's own, as they read it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct MyTime {
    pub time_id: TimeId,
    pub project_id: ProjectId,
    pub project: String,
    pub date: Date,
    /// Hours, as a decimal ("2.75").
    #[schema(value_type = String)]
    pub hours: Hours,
    pub what_for: TimeFor,
    /// Recorded by them, and not yet agreed by staff.
    pub to_agree: bool,
    /// The payment that paid it, if paid.
    pub paid_by: Option<PaymentId>,
}

/// One payment to a person, as they read it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct MyPayment {
    pub payment_id: PaymentId,
    pub project_id: ProjectId,
    pub date: Date,
    pub amount_pence: u32,
    pub form: PaymentForm,
    /// Hours it paid.
    pub hours: f64,
}

/// A person's own time and payments: only they (and staff) read these.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Mine {
    pub hours_given: f64,
    pub hours_paid: f64,
    pub hours_waiting: f64,
    pub paid_pence: u64,
    pub time: Vec<MyTime>,
    pub payments: Vec<MyPayment>,
}

/// `who`'s own time and payments, newest first.
pub fn mine(model: &Model, who: &ParticipantId) -> Mine {
    let mut time: Vec<&TimeGiven> = model.time.values().filter(|t| t.who == *who).collect();
    time.sort_by_key(|t| std::cmp::Reverse((t.date, t.seq)));
    let sum = |f: &dyn Fn(&&TimeGiven) -> bool| {
        time.iter()
            .filter(|t| f(t))
            .map(|t| u64::from(t.hours.hundredths()))
            .sum::<u64>() as f64
            / 100.0
    };
    let mut payments: Vec<MyPayment> = model
        .payments
        .values()
        .filter(|p| p.who == *who)
        .map(|p| MyPayment {
            payment_id: p.id,
            project_id: p.project,
            date: p.date,
            amount_pence: p.amount_pence,
            form: p.form,
            hours: p
                .time
                .iter()
                .filter_map(|t| model.time.get(t))
                .map(|t| f64::from(t.hours.hundredths()))
                .sum::<f64>()
                / 100.0,
        })
        .collect();
    payments.sort_by_key(|p| std::cmp::Reverse(p.date));
    Mine {
        hours_given: sum(&|t| t.agreed),
        hours_paid: sum(&|t| t.paid_by.is_some()),
        hours_waiting: sum(&|t| t.paid_by.is_none()),
        paid_pence: payments.iter().map(|p| u64::from(p.amount_pence)).sum(),
        time: time
            .iter()
            .map(|t| MyTime {
                time_id: t.id,
                project_id: t.project,
                project: model
                    .projects
                    .get(&t.project)
                    .map(|p| model.text(&p.title))
                    .unwrap_or_default(),
                date: t.date,
                hours: t.hours,
                what_for: t.what_for,
                to_agree: !t.agreed,
                paid_by: t.paid_by,
            })
            .collect(),
        payments,
    }
}

/// Time given `WAITING_TOO_LONG_DAYS` or more ago and not paid, oldest
/// first: staff's to pay.
pub fn waiting_too_long(model: &Model, today: Date) -> Vec<&TimeGiven> {
    let mut late: Vec<&TimeGiven> = model
        .time
        .values()
        .filter(|t| {
            t.agreed && t.paid_by.is_none() && t.date.days_until(today) >= WAITING_TOO_LONG_DAYS
        })
        .collect();
    late.sort_by_key(|t| (t.date, t.seq));
    late
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(partners: u64, exact: bool, expect_shown: bool) {
        let mut t = Tally::default();
        for i in 0..partners {
            t.partners
                .insert(ParticipantId::new(uuid::Uuid::from_u128(u128::from(i) + 1)));
        }
        t.given = 400;
        let f = t.figures(exact, 5);
        assert_eq!(
            f.hours_given.is_some(),
            expect_shown,
            "{partners} partners, exact {exact}"
        );
    }

    #[test]
    fn hours_follow_the_small_number_rule() {
        check(0, false, true);
        check(1, false, false);
        check(4, false, false);
        check(5, false, true);
        check(1, true, true);
        check(4, true, true);
    }

    #[test]
    fn the_median_of_an_even_count_is_between_the_two() {
        let t = Tally {
            days: vec![10, 2, 4, 30],
            ..Tally::default()
        };
        assert_eq!(t.figures(true, 5).median_days_to_payment, Some(7.0));
    }
}
