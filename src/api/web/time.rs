//! Time and pay on the pages: a partner's own hours and payments on their
//! home page ("Your time and pay"), and on staff's, the time waiting for
//! payment for 30 days or more, oldest first. Figures over a project are
//! the report's (`coproduction::pay`); nothing here shows one person's
//! hours to anyone but them and staff.

use super::words;
use crate::coproduction::model::Model;
use crate::coproduction::pay::{self, Mine, WAITING_TOO_LONG_DAYS};
use crate::coproduction::values::{Date, Hours, ParticipantId, PaymentForm};

/// "2.75 hours", "1 hour".
pub(super) fn hours(h: f64) -> String {
    let h = Hours::from_hundredths((h * 100.0).round() as u32);
    if h.hundredths() == 100 {
        "1 hour".into()
    } else {
        format!("{h} hours")
    }
}

/// "£31.37".
pub(super) fn pounds(pence: u64) -> String {
    format!("£{}.{:02}", pence / 100, pence % 100)
}

/// A partner's own time and pay, in words.
pub(super) struct MyTimeView {
    pub summary: String,
    /// (day, hours, what for and where, where it stands)
    pub rows: Vec<(String, String, String, String)>,
    pub payments: Vec<String>,
}

pub(super) fn mine(model: &Model, mine: &Mine) -> MyTimeView {
    let summary = if mine.time.is_empty() {
        "No time is recorded for you yet. When you give time to a project (a meeting, preparing for one, travelling to it), staff record it here, and you are paid for it in the way you choose.".to_string()
    } else {
        format!(
            "You have given {}. {} paid; {} waiting for payment.",
            hours(
                mine.hours_given
                    + mine
                        .time
                        .iter()
                        .filter(|t| t.to_agree)
                        .map(|t| t.hours.as_f64())
                        .sum::<f64>()
            ),
            if mine.hours_paid > 0.0 {
                hours(mine.hours_paid)
            } else {
                "None".into()
            },
            if mine.hours_waiting > 0.0 {
                hours(mine.hours_waiting)
            } else {
                "none".into()
            },
        )
    };
    let rows = mine
        .time
        .iter()
        .map(|t| {
            let status = match (t.paid_by.and_then(|p| model.payments.get(&p)), t.to_agree) {
                (Some(p), _) => format!("Paid on {}", words::day(p.date)),
                (None, true) => "Waiting for staff to agree it".into(),
                (None, false) => "Waiting for payment".into(),
            };
            (
                words::day(t.date),
                hours(t.hours.as_f64()),
                format!("For {}. Project: {}.", t.what_for.words(), t.project),
                status,
            )
        })
        .collect();
    let payments = mine
        .payments
        .iter()
        .map(|p| match p.form {
            PaymentForm::Declined => format!(
                "On {}: {} settled without payment, as you chose.",
                words::day(p.date),
                hours(p.hours)
            ),
            form => format!(
                "On {}: {} paid {} for {}.",
                words::day(p.date),
                pounds(u64::from(p.amount_pence)),
                form.words(),
                hours(p.hours)
            ),
        })
        .collect();
    MyTimeView {
        summary,
        rows,
        payments,
    }
}

/// Staff's list: time waiting for payment too long, oldest first, each
/// with the partner's name (staff see names) and the project.
pub(super) fn waiting_too_long(
    model: &Model,
    today: Date,
    name: &dyn Fn(&ParticipantId) -> String,
) -> (String, Vec<String>) {
    let late = pay::waiting_too_long(model, today);
    let heading = format!("Time waiting for payment for {WAITING_TOO_LONG_DAYS} days or more");
    let lines = late
        .iter()
        .map(|t| {
            format!(
                "{}: {} given on {}, waiting {} days. Project: {}.",
                name(&t.who),
                hours(t.hours.as_f64()),
                words::day(t.date),
                t.date.days_until(today),
                model
                    .projects
                    .get(&t.project)
                    .map(|p| model.text(&p.title))
                    .unwrap_or_default()
            )
        })
        .collect();
    (heading, lines)
}

/// A project's figures for its page, as the reader may see them: a
/// sentence, and each figure on a line of its own.
pub(super) fn project_figures(
    model: &Model,
    id: &crate::coproduction::values::ProjectId,
    exact: bool,
) -> (String, Vec<String>) {
    let settings = crate::coproduction::report::Settings {
        exact,
        ..crate::coproduction::report::Settings::today()
    };
    let f = pay::figures(model, &|p| p == id, settings, exact);
    let mut lines = Vec::new();
    if let Some(given) = f
        .hours_given
        .filter(|_| f.partners_with_time != crate::coproduction::report::Shown::Count(0))
    {
        lines.push(format!("Hours given by partners: {}.", hours(given)));
        for (what, v) in [
            ("Hours paid", f.hours_paid),
            ("Hours waiting for payment", f.hours_waiting),
            (
                "Hours waiting 30 days or more",
                f.hours_waiting_over_30_days,
            ),
        ] {
            if let Some(v) = v {
                lines.push(format!("{what}: {}.", hours(v)));
            }
        }
        if let Some(d) = f.median_days_to_payment {
            lines.push(format!(
                "Paid a median of {} after the time was given.",
                words::count(d.round() as u64, "day", "days")
            ));
        }
    }
    (f.words("This project"), lines)
}
