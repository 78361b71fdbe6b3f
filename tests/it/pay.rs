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

/// Through the API: each partner reads their own hours and payment and no
/// one else's; other partners and auditors read no one's time records;
/// staff see the project's figures exactly, an auditor only "fewer than
/// 5" partners and no hours; the text report has its section.
#[tokio::test]
async fn each_reads_their_own_time_and_figures_follow_the_rules() {
    use axum::http::StatusCode;
    let o = crate::common::office().await;
    let api = &o.api;
    let r_id = o.r.clone();
    let t_p = uuid::Uuid::new_v4().to_string();
    let t_r = uuid::Uuid::new_v4().to_string();
    let today = time::OffsetDateTime::now_utc().date();
    let day = |n: i64| (today - time::Duration::days(n)).to_string();
    for (t, who, hours, d) in [
        (&t_p, &o.p, "2.75", day(10)),
        (&t_r, &r_id, "1.25", day(40)),
    ] {
        let body = json!({"type": "time.recorded", "payload": {"time_id": t, "project_id": o.project,
            "participant_id": who, "hours": hours, "date": d, "what_for": "preparation"}});
        crate::common::post(api, &o.s_code, "/v1/events", body).await;
    }
    let pay = json!({"type": "payment.made", "payload": {"payment_id": uuid::Uuid::new_v4().to_string(),
        "project_id": o.project, "participant_id": o.p, "time_ids": [t_p], "amount_pence": 3137,
        "form": "bank-transfer", "date": day(0)}});
    crate::common::post(api, &o.s_code, "/v1/events", pay.clone()).await;
    // Paying the same time again is refused, and writes nothing.
    let before = api.app().size();
    let mut again = pay.clone();
    again["payload"]["payment_id"] = json!(uuid::Uuid::new_v4().to_string());
    let (s, _, b) = api.call(Some(&o.s_code), "POST", "/v1/events", again).await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    assert_eq!(api.app().size(), before);

    let (s, _, mine) = api
        .call(Some(&o.p_code), "GET", "/v1/me/time", Value::Null)
        .await;
    assert_eq!(s, StatusCode::OK, "{mine}");
    assert_eq!(
        (mine["hours_given"].as_f64(), mine["paid_pence"].as_u64()),
        (Some(2.75), Some(3137))
    );
    assert!(!mine.to_string().contains(&r_id), "{mine}");
    let (_, _, theirs) = api
        .call(Some(&o.r_code), "GET", "/v1/me/time", Value::Null)
        .await;
    assert_eq!(theirs["hours_waiting"].as_f64(), Some(1.25));
    assert!(
        !theirs.to_string().contains(&o.p) && theirs["paid_pence"] == json!(0),
        "{theirs}"
    );

    for (who, token) in [("partner R", &o.r_code), ("the auditor", &o.auditor)] {
        let (_, _, events) = api
            .call(Some(token), "GET", "/v1/events?limit=1000", Value::Null)
            .await;
        let seen: Vec<&Value> = events["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| {
                e["payload"].to_string().contains(&o.p)
                    && e["record"]["type"]
                        .as_str()
                        .is_some_and(|t| t.starts_with("time.") || t == "payment.made")
            })
            .collect();
        assert!(seen.is_empty(), "{who} reads partner P's time: {seen:?}");
    }
    let path = format!("/v1/projects/{}/projections/all", o.project);
    let (_, _, staff_view) = api.call(Some(&o.s_code), "GET", &path, Value::Null).await;
    let f = &staff_view["pay"]["totals"];
    assert_eq!(
        (
            f["hours_given"].as_f64(),
            f["hours_paid"].as_f64(),
            f["hours_waiting"].as_f64(),
            f["hours_waiting_over_30_days"].as_f64()
        ),
        (Some(4.0), Some(2.75), Some(1.25), Some(1.25)),
        "{staff_view}"
    );
    let (_, _, auditor_view) = api.call(Some(&o.auditor), "GET", &path, Value::Null).await;
    let f = &auditor_view["pay"]["totals"];
    assert!(
        f["hours_given"].is_null(),
        "two partners' hours are not shown to an auditor: {f}"
    );
    assert_eq!(f["partners_with_time"], json!({"fewer_than": 5}), "{f}");
    // The pages: each partner's home shows their own hours and payment,
    // not the other's; staff's lists the time waiting over 30 days.
    use crate::common::Browser;
    let (_, p_home) = Browser::sign_in(api, &o.p_code).await.get("/home").await;
    assert!(
        p_home.contains("Your time and pay")
            && p_home.contains("2.75 hours")
            && p_home.contains("£31.37"),
        "{p_home}"
    );
    assert!(
        !p_home.contains("1.25 hours"),
        "partner P's home shows R's time"
    );
    let (_, r_home) = Browser::sign_in(api, &o.r_code).await.get("/home").await;
    assert!(
        r_home.contains("1.25 hours") && r_home.contains("Waiting for payment"),
        "{r_home}"
    );
    assert!(
        !r_home.contains("2.75 hours") && !r_home.contains("£31.37"),
        "partner R's home shows P's time"
    );
    // The project's page: staff read its figures, an auditor that too few
    // partners gave time for them to be shown.
    let project_page = format!("/projects/{}", o.project);
    let (_, page) = Browser::sign_in(api, &o.s_code)
        .await
        .get(&project_page)
        .await;
    assert!(
        page.contains("Hours given by partners: 4 hours.")
            && page.contains("Hours paid: 2.75 hours."),
        "{page}"
    );
    let (_, page) = Browser::sign_in(api, &o.auditor)
        .await
        .get(&project_page)
        .await;
    assert!(
        page.contains("too few for their hours to be shown")
            && !page.contains("Hours given by partners"),
        "{page}"
    );
    let (_, s_home) = Browser::sign_in(api, &o.s_code).await.get("/home").await;
    assert!(
        s_home.contains("Time waiting for payment for 30 days or more")
            && s_home.contains("Rosamund Caddick: 1.25 hours"),
        "{s_home}"
    );
    let (_, _, text) = api
        .bytes(
            Some(&o.s_code),
            "GET",
            "/v1/report?format=text",
            None,
            "",
            &[],
        )
        .await;
    let text = String::from_utf8(text).unwrap();
    assert!(
        text.contains("WERE PARTNERS PAID FOR THEIR TIME?") && text.contains("4 hours"),
        "{text}"
    );
}
