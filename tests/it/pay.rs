//! (issue 34) Time partners give and payments for it: who may record
//! what, the rules a payment keeps (never the same time twice, only the
//! partner's own time in its project, agreed first when they recorded it
//! themself, 0 when declined), and who reads whose hours.

use crate::coproduction::{P, World, id, partner, staff};
use jointly::app::policy;
use jointly::coproduction::author::Author;
use jointly::ledger::Actor;
use jointly::refusal::Kind;
use serde_json::{Value, json};

fn time(n: u32, who: u32, hours: &str) -> Value {
    json!({"time_id": id(n), "project_id": id(P), "participant_id": id(who), "hours": hours,
        "date": "2025-02-03", "what_for": "preparation"})
}

fn payment(n: u32, who: u32, times: &[u32], pence: u32, form: &str) -> Value {
    json!({"payment_id": id(n), "project_id": id(P), "participant_id": id(who),
        "time_ids": times.iter().map(|t| id(*t)).collect::<Vec<_>>(), "amount_pence": pence,
        "form": form, "date": "2025-02-10"})
}

/// A world where staff recorded 2.75 hours for partner 2 (time 70) and
/// partner 3 recorded 1.25 of their own (time 71), not yet agreed.
fn world() -> World {
    let mut w = World::new();
    w.ok(&staff(), "time.recorded", time(70, 2, "2.75"));
    w.ok(&partner(3), "time.recorded", time(71, 3, "1.25"));
    w
}

fn check(actor: &Actor, kind: &str, payload: Value, expect: Result<(), (Kind, &str)>) {
    let mut w = world();
    let before = w.ledger.head().size;
    match (w.append(actor, kind, payload.clone()), expect) {
        (Ok(()), Ok(())) => assert_eq!(w.ledger.head().size, before + 1),
        (Err(r), Err((kind_, pointer))) => {
            assert_eq!(
                (r.kind(), r.pointer()),
                (kind_, Some(pointer)),
                "{payload}: {r}"
            );
            assert_eq!(w.ledger.head().size, before, "nothing is written");
        }
        (got, want) => panic!("{kind} {payload}: got {got:?}, want {want:?}"),
    }
}

#[test]
fn time_and_payments_keep_their_rules() {
    use Kind::*;
    let s = staff();
    check(
        &s,
        "payment.made",
        payment(80, 2, &[70], 3137, "bank-transfer"),
        Ok(()),
    );
    check(
        &s,
        "payment.made",
        payment(80, 2, &[70], 0, "declined"),
        Ok(()),
    );
    check(
        &s,
        "payment.made",
        payment(80, 2, &[70], 500, "declined"),
        Err((Invalid, "/payload/amount_pence")),
    );
    check(
        &s,
        "payment.made",
        payment(80, 2, &[70], 0, "voucher"),
        Err((Invalid, "/payload/amount_pence")),
    );
    check(
        &s,
        "payment.made",
        payment(80, 3, &[70], 100, "voucher"),
        Err((Invalid, "/payload/time_ids/0")),
    );
    check(
        &s,
        "payment.made",
        payment(80, 2, &[70, 70], 100, "voucher"),
        Err((Invalid, "/payload/time_ids/1")),
    );
    check(
        &s,
        "payment.made",
        payment(80, 2, &[99], 100, "voucher"),
        Err((Invalid, "/payload/time_ids/0")),
    );
    check(
        &s,
        "payment.made",
        payment(80, 2, &[], 100, "voucher"),
        Err((Invalid, "/payload/time_ids")),
    );
    // Time a partner recorded themself is agreed before it is paid.
    check(
        &s,
        "payment.made",
        payment(80, 3, &[71], 100, "voucher"),
        Err((Invalid, "/payload/time_ids/0")),
    );
    check(&s, "time.agreed", json!({"time_id": id(71)}), Ok(()));
    check(
        &s,
        "time.agreed",
        json!({"time_id": id(70)}),
        Err((Conflict, "/payload/time_id")),
    );
    // A partner records their own time only, and never pays or agrees.
    check(
        &partner(3),
        "time.recorded",
        time(72, 2, "1"),
        Err((Forbidden, "/payload/participant_id")),
    );
    check(&partner(3), "time.recorded", time(72, 3, "1"), Ok(()));
    check(
        &partner(3),
        "time.agreed",
        json!({"time_id": id(71)}),
        Err((Forbidden, "/type")),
    );
    check(
        &partner(2),
        "payment.made",
        payment(80, 2, &[70], 1, "voucher"),
        Err((Forbidden, "/type")),
    );
    // Time is a partner's of the project, on a day that has come.
    check(
        &s,
        "time.recorded",
        time(72, 1, "1"),
        Err((Invalid, "/payload/participant_id")),
    );
    check(
        &s,
        "time.recorded",
        time(72, 4, "1"),
        Err((Invalid, "/payload/participant_id")),
    );
    check(
        &s,
        "time.recorded",
        time(70, 2, "1"),
        Err((Conflict, "/payload/time_id")),
    );
    let mut later = time(72, 2, "1");
    later["date"] = json!("2999-01-01");
    check(&s, "time.recorded", later, Err((Invalid, "/payload/date")));
    let mut at_a_meeting = time(72, 2, "1");
    at_a_meeting["meeting_id"] = json!(id(99));
    check(
        &s,
        "time.recorded",
        at_a_meeting,
        Err((Invalid, "/payload/meeting_id")),
    );
}

#[test]
fn time_is_never_paid_twice() {
    let mut w = world();
    w.ok(
        &staff(),
        "payment.made",
        payment(80, 2, &[70], 3137, "bank-transfer"),
    );
    let before = w.ledger.head().size;
    let r = w
        .append(
            &staff(),
            "payment.made",
            payment(81, 2, &[70], 3137, "bank-transfer"),
        )
        .unwrap_err();
    assert_eq!(
        (r.kind(), r.pointer()),
        (Kind::Conflict, Some("/payload/time_ids/0"))
    );
    assert!(r.message().contains("paid already"), "{r}");
    assert_eq!(w.ledger.head().size, before);
    let m = w.model();
    let t = m
        .time
        .values()
        .find(|t| t.hours.to_string() == "2.75")
        .unwrap();
    assert!(t.paid_by.is_some());
}

#[test]
fn whose_hours_and_pay_each_reader_reads() {
    let w = world();
    let m = w.model();
    let subject = jointly::app::participant_id(&id(3), "").unwrap();
    // (reader, may read partner 3's time and pay)
    let table = [
        ("admin:a", true),
        ("operator:o", true),
        ("auditor:t", false),
    ];
    for (actor, want) in table {
        let r = Author::from_actor(&Actor::new(actor).unwrap());
        assert_eq!(policy::may_read_personal(&r, subject), want, "{actor}");
    }
    for (actor, want) in [(staff(), true), (partner(3), true), (partner(2), false)] {
        let r = Author::from_actor(&actor);
        assert_eq!(
            policy::may_read_personal(&r, subject),
            want,
            "{}",
            actor.as_str()
        );
    }
    // Each time and payment record is personal to its partner.
    for t in m.time.values() {
        let ev = jointly::coproduction::events::Event::TimeAgreed(
            jointly::coproduction::events::TimeAgreed { time_id: t.id },
        );
        assert_eq!(policy::personal_to(&m, Some(&ev)), Some(t.who));
    }
}
