//! (issue 32) Every page tells the truth: a reply to an answer is a reply
//! (happy closes the challenge, not happy opens the same one again); a
//! meeting has a page saying what happened and who came, as the reader may
//! see it; a decision recorded as joint but disputed is its own class; a
//! corrected record shows its corrected words wherever it is read, marked,
//! with why and what it said before; the check page counts what the record
//! holds; and no page, for any role, has double punctuation, "0 of no" or
//! an ISO date.

use crate::common::{Browser, Office, office, post, record_of, token, written_since};
use axum::http::StatusCode;
use jointly::app::tokens::Role;
use serde_json::{Value, json};

/// The first number under `key` anywhere in `doc`.
fn number_at(doc: &Value, key: &str) -> Option<u64> {
    match doc {
        Value::Object(m) => m
            .get(key)
            .and_then(Value::as_u64)
            .or_else(|| m.values().find_map(|v| number_at(v, key))),
        Value::Array(a) => a.iter().find_map(|v| number_at(v, key)),
        _ => None,
    }
}

/// Challenges of the office's project not answered, as the API counts them.
async fn unanswered(o: &Office) -> u64 {
    let uri = format!("/v1/projects/{}/projections/tokenism", o.project);
    let (s, _, b) = o.api.call(Some(&o.auditor), "GET", &uri, Value::Null).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    number_at(&b, "challenges_unanswered").expect("a count of challenges not answered")
}

/// A challenge of the office's decision by P, answered by S: its id.
async fn answered_challenge(o: &Office, reason: &str, answer: &str) -> String {
    let c = uuid::Uuid::new_v4().to_string();
    let challenged = json!({"type": "decision.challenged", "payload": {"decision_id": o.decision,
        "challenge_id": c, "reason": reason}});
    post(&o.api, &o.p_code, "/v1/events", challenged).await;
    let answered = json!({"type": "challenge.answered", "payload": {"challenge_id": c,
        "answer": answer}});
    post(&o.api, &o.s_code, "/v1/events", answered).await;
    c
}

/// The words a reader sees in a page: no tags, scripts, styles, code or
/// what was typed into a form; a line a block.
fn prose(page: &str) -> String {
    let mut out = page.to_string();
    for tag in ["script", "style", "pre", "code", "textarea", "head"] {
        // "<head>" or "<head " only: not "<header>".
        let opens = |s: &str| {
            (s.match_indices(&format!("<{tag}")))
                .map(|(at, _)| at)
                .find(|at| matches!(s.as_bytes().get(at + tag.len() + 1), Some(b'>' | b' ')))
        };
        while let Some(at) = opens(&out) {
            let end = out[at..]
                .find(&format!("</{tag}>"))
                .map_or(out.len(), |e| at + e + tag.len() + 3);
            out.replace_range(at..end, "\n");
        }
    }
    let mut text = String::new();
    let mut in_tag = false;
    for c in out.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                text.push('\n');
            }
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    let text = text
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    text.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// What is wrong with a line of a page's words, if anything: a full stop
/// after punctuation (a quote that ends a sentence and a "." after it),
/// "0 of no", or a date written as 2026-12-07.
fn fault(line: &str) -> Option<&'static str> {
    let c: Vec<char> = line.chars().collect();
    let closing = |ch: char| matches!(ch, '”' | '’' | '"' | '\'' | ')' | ']' | '»');
    for i in 0..c.len() {
        // A full stop (not an ellipsis) after punctuation, with or without
        // a closing quote between: “…come.”. or "right?." or "end..".
        if c[i] == '.' && i > 0 && c.get(i + 1) != Some(&'.') {
            let mut j = i - 1;
            while j > 0 && closing(c[j]) {
                j -= 1;
            }
            let quoted = j + 1 < i;
            let marks: &[char] = if quoted {
                &['.', '?', '!', ',', ';', ':']
            } else {
                &['?', '!', ',', ';', ':', '.']
            };
            let ellipsis = j > 0 && matches!(c[j - 1], '.' | '…');
            if marks.contains(&c[j]) && !ellipsis {
                return Some("double punctuation");
            }
        }
        let digits = |from: usize, n: usize| {
            (from..from + n).all(|k| c.get(k).is_some_and(char::is_ascii_digit))
        };
        if digits(i, 4)
            && c.get(i + 4) == Some(&'-')
            && digits(i + 5, 2)
            && c.get(i + 7) == Some(&'-')
            && digits(i + 8, 2)
            && (i == 0 || !c[i - 1].is_ascii_digit())
            && !c.get(i + 10).is_some_and(char::is_ascii_digit)
        {
            return Some("an ISO date");
        }
    }
    line.contains("0 of no ").then_some("“0 of no”")
}

#[test]
fn the_crawls_pattern_finds_what_it_should_and_nothing_else() {
    fn check(line: &str, expect: Option<&str>) {
        assert_eq!(fault(line), expect, "{line}");
    }
    check(
        "You said: “Can we meet on Thursdays?”.",
        Some("double punctuation"),
    );
    check(
        "He wrote “They can come.”. Then left.",
        Some("double punctuation"),
    );
    check("Is it right?.", Some("double punctuation"));
    check("It ended..", Some("double punctuation"));
    check("0 of no decisions made jointly.", Some("“0 of no”"));
    check("Decided on 2026-12-07.", Some("an ISO date"));
    check("You said: “Can we meet on Thursdays?”", None);
    check("You said: “Free tea”.", None);
    check("And so on...", None);
    check("Decided on 7 December 2026.", None);
    check("2 of 3 decisions made jointly.", None);
    check("Card no. 000006.", None);
}

#[tokio::test]
async fn a_happy_reply_closes_the_challenge_and_an_unhappy_one_opens_it_again() {
    let o = office().await;
    let c = answered_challenge(
        &o,
        "Why only three libraries?",
        "Three is what we can staff.",
    )
    .await;
    let before = unanswered(&o).await;
    let mut p = Browser::sign_in(&o.api, &o.p_code).await;
    let (_, home) = p.get("/home").await;
    assert!(
        home.contains(&format!("/challenges/{c}/reply")),
        "P's home page offers a reply to the answer"
    );
    // The form asks whether they are happy, and says which decision.
    let (_, form) = p.get(&format!("/challenges/{c}/reply")).await;
    assert!(form.contains("Which libraries first?"), "{form}");
    assert!(form.contains("Are you happy with the answer?"), "{form}");
    // Not happy, with no reason: nothing written, and why.
    let n = o.api.app().size();
    let (s, page) = p
        .submit(
            &format!("/challenges/{c}/reply"),
            &[("happy", "no"), ("reason", "")],
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    assert!(page.contains("Say why you still disagree"), "{page}");
    assert!(written_since(&o.api, n).is_empty());
    // Happy: the challenge closes, with their thanks; nothing to answer.
    let (s, _) = p
        .submit(
            &format!("/challenges/{c}/reply"),
            &[("happy", "yes"), ("reason", "Thank you. That is fair.")],
        )
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let written = written_since(&o.api, n);
    assert_eq!(written.len(), 1, "{written:?}");
    assert_eq!(written[0].0, "challenge.accepted");
    assert_eq!(written[0].1["challenge_id"], json!(c));
    assert_eq!(written[0].1["reply"], json!("Thank you. That is fair."));
    assert_eq!(
        unanswered(&o).await,
        before,
        "a thank-you is not a challenge"
    );
    let (_, home) = p.get("/home").await;
    assert!(home.contains("Closed: the answer was accepted"), "{home}");
    assert!(!home.contains(&format!("/challenges/{c}/reply")));
    let mut s_web = Browser::sign_in(&o.api, &o.s_code).await;
    let (_, staff_home) = s_web.get("/home").await;
    assert!(!staff_home.contains("Thank you. That is fair."));
    // Only whoever made a challenge may accept its answer, once.
    let accept = |who: &str| {
        let who = who.to_string();
        let api = &o.api;
        let c = c.clone();
        async move {
            let body = json!({"type": "challenge.accepted", "payload": {"challenge_id": c}});
            api.call(Some(&who), "POST", "/v1/events", body).await.0
        }
    };
    assert_eq!(accept(&o.r_code).await, StatusCode::FORBIDDEN);
    assert_eq!(accept(&o.p_code).await, StatusCode::CONFLICT);

    // Not happy: the same challenge opens again, under it.
    let c2 = answered_challenge(
        &o,
        "The rooms close too early.",
        "They close when the libraries do.",
    )
    .await;
    let before = unanswered(&o).await;
    let n = o.api.app().size();
    let (s, _) = p
        .submit(
            &format!("/challenges/{c2}/reply"),
            &[
                ("happy", "no"),
                ("reason", "Then open them somewhere else in the evening."),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let written = written_since(&o.api, n);
    assert_eq!(written[0].0, "decision.challenged");
    assert_eq!(written[0].1["in_reply_to"], json!(c2));
    assert_eq!(unanswered(&o).await, before + 1, "open again");
    let (_, home) = p.get("/home").await;
    let item = home
        .split("<li")
        .find(|li| li.contains("The rooms close too early."))
        .expect("the challenge on P's home page");
    assert!(
        item.contains("Then open them somewhere else in the evening."),
        "threaded: {item}"
    );
    assert!(
        item.contains("Open again: waiting for a new answer"),
        "{item}"
    );
    let (_, decision) = p.get(&format!("/decisions/{}", o.decision)).await;
    let item = decision
        .split("<li")
        .find(|li| li.contains("The rooms close too early."))
        .expect("the challenge on the decision's page");
    assert!(
        item.contains("Then open them somewhere else in the evening."),
        "{item}"
    );
    // A reply goes to the latest answer of a thread, once.
    let again = json!({"type": "decision.challenged", "payload": {"decision_id": o.decision,
        "challenge_id": uuid::Uuid::new_v4(), "reason": "Again", "in_reply_to": c2}});
    let (s, _, b) = o
        .api
        .call(Some(&o.p_code), "POST", "/v1/events", again)
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
}

#[tokio::test]
async fn a_meeting_has_a_page_that_says_what_happened_and_who_came() {
    let o = office().await;
    let r = o.api.app().size(); // (only to show nothing else is written)
    let meeting = |attendees: Vec<&str>, summary: &str, day: &str, papers: bool| {
        let id = uuid::Uuid::new_v4().to_string();
        let body = json!({"type": "meeting.held", "payload": {"project_id": o.project,
            "meeting_id": id, "date": day, "attendees": attendees,
            "materials_in_advance": papers, "summary": summary}});
        (id, body)
    };
    let r_id = {
        let model = o.api.app().read().unwrap();
        (model.projects.values())
            .flat_map(|p| p.members.keys())
            .find(|m| m.to_string() != o.s && m.to_string() != o.p)
            .expect("R is a member")
            .to_string()
    };
    let (mixed, body) = meeting(
        vec![&o.s, &o.p, &r_id],
        "We chose the rooms.",
        "2026-11-02",
        true,
    );
    post(&o.api, &o.s_code, "/v1/events", body).await;
    let (staff_only, body) = meeting(vec![&o.s], "Staff booked the rooms.", "2026-11-03", false);
    post(&o.api, &o.s_code, "/v1/events", body).await;
    assert_eq!(o.api.app().size(), r + 2);

    // (reader, meeting, what the page must say, what it must not)
    let cases: [(&str, &str, &[&str], &[&str]); 6] = [
        (
            &o.s_code,
            &mixed,
            &[
                "We chose the rooms.",
                "3 people came: 2 partners and 1 member of staff.",
                "Marigold Ashcombe (partner)",
                "Papers were sent out before it.",
            ],
            &["fewer than"],
        ),
        (
            &o.p_code,
            &mixed,
            &[
                "We chose the rooms.",
                "People who came: fewer than 5, of them partners: fewer than 5.",
                "The record says you came.",
            ],
            &["Rosamund Caddick", "Sally Brightwater", "2 partners"],
        ),
        (
            &o.auditor,
            &mixed,
            &["We chose the rooms.", "fewer than 5"],
            &["Marigold Ashcombe", "2 partners", "you came"],
        ),
        (
            &o.s_code,
            &staff_only,
            &[
                "Staff booked the rooms.",
                "No partners came; 1 member of staff came.",
            ],
            &[],
        ),
        (
            &o.p_code,
            &staff_only,
            &["No partners came.", "Papers were not sent out before it."],
            &["you came"],
        ),
        (&o.auditor, &staff_only, &["No partners came."], &[]),
    ];
    for (code, id, has, lacks) in cases {
        let mut b = Browser::sign_in(&o.api, code).await;
        // Reached from the project's story.
        let (_, project) = b.get(&format!("/projects/{}", o.project)).await;
        let href = format!("/projects/{}/meetings/{id}", o.project);
        assert!(project.contains(&href), "the story links {href}");
        let (s, page) = b.get(&href).await;
        assert_eq!(s, StatusCode::OK);
        for want in has {
            assert!(page.contains(want), "{want:?} in {page}");
        }
        for not in lacks {
            assert!(!page.contains(not), "{not:?} not in {page}");
        }
    }
    // A meeting of another project, or none, is not found.
    let mut p = Browser::sign_in(&o.api, &o.p_code).await;
    let other = uuid::Uuid::new_v4();
    let (s, _) = p
        .get(&format!("/projects/{}/meetings/{other}", o.project))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_disputed_joint_decision_keeps_its_method_and_shows_the_dispute() {
    let o = office().await;
    let (_, _, j) = o
        .api
        .call(
            Some(&o.auditor),
            "GET",
            "/v1/projections/jointness",
            Value::Null,
        )
        .await;
    assert_eq!(number_at(&j, "joint_disputed"), Some(1), "{j}");
    assert_eq!(number_at(&j, "joint"), Some(0), "{j}");
    let mut a = Browser::sign_in(&o.api, &o.auditor).await;
    let (_, page) = a.get(&format!("/decisions/{}", o.decision)).await;
    let page = prose(&page);
    assert!(page.contains("Everyone agreed (consensus). A partner disputes their part in the record; staff have not answered yet."), "{page}");
    assert!(page.contains("Said to be joint, disputed:"), "{page}");
    assert!(!page.contains("decided by staff"), "{page}");
}

#[tokio::test]
async fn a_corrected_record_shows_its_corrected_words_wherever_it_is_read() {
    let o = office().await;
    // A decision that answers P's idea, so "You said, we did" shows it.
    let d = uuid::Uuid::new_v4().to_string();
    let made = json!({"type": "decision.made", "payload": {"project_id": o.project, "decision_id": d,
        "question": "Should the rooms be on the council map?", "outcome": "Yes, from January",
        "stage": "conception", "method": "consensus", "reason": "Everyone agreed",
        "participants": [{"participant_id": o.s, "position": "agree"}, {"participant_id": o.p, "position": "agree"}],
        "answers": [{"proposal_id": o.idea, "response": "accepted", "reason": "A good idea"}]}});
    post(&o.api, &o.s_code, "/v1/events", made).await;
    let record = record_of(&o.api, &d);
    let correct = |body: Value| {
        let api = &o.api;
        let s_code = o.s_code.clone();
        async move {
            let (s, _, b) = api
                .call(
                    Some(&s_code),
                    "POST",
                    "/v1/events",
                    json!({"type": "record.corrected", "payload": body}),
                )
                .await;
            (s, b)
        }
    };
    // Words the record does not hold, or a correction of a correction: refused.
    let (s, b) =
        correct(json!({"corrects": record, "field": "evidence", "correction": "C", "reason": "R"}))
            .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert!(b.to_string().contains("/payload/field"), "{b}");
    let (s, _) = correct(
        json!({"corrects": record, "correction": "Yes, from February",
        "reason": "The minutes say February."}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let size = o.api.app().size();
    let correction = o
        .api
        .app()
        .ledger()
        .get(size - 1)
        .unwrap()
        .unwrap()
        .record
        .id()
        .to_string();
    let (s, b) = correct(json!({"corrects": correction, "correction": "C", "reason": "R"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");

    // As P, who took part: the decision's page.
    let mut p = Browser::sign_in(&o.api, &o.p_code).await;
    let (_, page) = p.get(&format!("/decisions/{d}")).await;
    assert!(
        page.contains("What was decided: Yes, from February (corrected on"),
        "{page}"
    );
    assert!(page.contains("What was decided was corrected on"), "{page}");
    assert!(page.contains("The minutes say February."), "{page}");
    let shown = page.replace(
        &page[page.find("<details>").unwrap()..page.find("</details>").unwrap()],
        "",
    );
    assert!(
        !shown.contains("Yes, from January"),
        "the earlier words only folded away: {page}"
    );
    // "You said, we did", in the pages and in the API.
    let (_, ysw) = p
        .get(&format!("/projects/{}/you-said-we-did", o.project))
        .await;
    assert!(ysw.contains("Yes, from February (corrected on"), "{ysw}");
    assert!(!ysw.contains("Yes, from January"), "{ysw}");
    let uri = format!("/v1/projects/{}/projections/you-said-we-did", o.project);
    let (_, _, y) = o.api.call(Some(&o.p_code), "GET", &uri, Value::Null).await;
    let response = crate::common::find_object(&y, &d).expect("the decision in the projection");
    assert_eq!(response["outcome"], json!("Yes, from February"));
    assert_eq!(
        response["corrected"][0]["reason"],
        json!("The minutes say February.")
    );
    assert_eq!(
        response["corrected"][0]["before"],
        json!("Yes, from January")
    );
    assert_eq!(response["corrected"][0]["field"], json!("outcome"));
    // Whoever may read the record may read its correction.
    let (_, _, evs) = o
        .api
        .call(
            Some(&o.p_code),
            "GET",
            &format!("/v1/events?after={}", size - 2),
            Value::Null,
        )
        .await;
    assert!(
        evs["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["record"]["type"] == "record.corrected"),
        "{evs}"
    );
}

#[tokio::test]
async fn the_check_page_counts_what_the_record_holds() {
    let o = office().await;
    let mut a = Browser::sign_in(&o.api, &o.auditor).await;
    let (_, page) = a.get("/check").await;
    let size = o.api.app().size();
    assert!(
        page.contains(&format!("The record holds {size} entries.")),
        "{page}"
    );
}

/// Every page each role reaches from their home page, and what is wrong
/// with its words.
#[tokio::test]
async fn no_page_for_any_role_has_double_punctuation_0_of_no_or_an_iso_date() {
    let o = office().await;
    // A project with no decisions yet (where "0 of no" was said).
    let started = json!({"type": "project.started", "payload": {"project_id": uuid::Uuid::new_v4(),
        "title": "Nothing decided yet", "summary": "A new project", "involvement": "consultation",
        "lead": o.s, "aims": []}});
    post(&o.api, &o.s_code, "/v1/events", started).await;
    let c = answered_challenge(&o, "Why “three”?", "Three is what we can staff.").await;
    let _ = c;
    let admin = token(o.api.app(), Role::Admin, "admin-crawl", None);
    let mut faults = Vec::new();
    let mut crawled = 0;
    for (who, code) in [
        ("staff", &o.s_code),
        ("partner", &o.p_code),
        ("other partner", &o.r_code),
        ("auditor", &o.auditor),
        ("admin", &admin),
    ] {
        let mut b = Browser::sign_in(&o.api, code).await;
        let mut seen = std::collections::BTreeSet::from(["/home".to_string()]);
        let mut queue = vec!["/home".to_string()];
        while let Some(path) = queue.pop() {
            let (s, page) = b.get(&path).await;
            if s != StatusCode::OK {
                continue;
            }
            crawled += 1;
            for line in prose(&page).lines() {
                if let Some(f) = fault(line) {
                    faults.push(format!("{who} {path}: {f} in {line:?}"));
                }
            }
            for href in page
                .split("href=\"")
                .skip(1)
                .filter_map(|h| h.split('"').next())
            {
                let href = href.replace("&amp;", "&");
                let skip = !href.starts_with('/')
                    || href.starts_with("/static")
                    || href.starts_with("/v1")
                    || href.contains("sign-out")
                    || href.ends_with(".json")
                    || href.contains('#');
                if !skip && seen.len() < 200 && seen.insert(href.clone()) {
                    queue.push(href);
                }
            }
        }
    }
    assert!(crawled > 40, "only {crawled} pages crawled");
    assert!(faults.is_empty(), "{}", faults.join("\n"));
    // A partner with a name on file is greeted by it.
    let mut p = Browser::sign_in(&o.api, &o.p_code).await;
    let (_, home) = p.get("/home").await;
    assert!(
        home.contains("Signed in as Marigold Ashcombe (a partner)"),
        "{home}"
    );
}

/// "Who takes part" says a question no one has answered in words, not as a
/// table of zeros; the jointness page says what each kind of involvement
/// means where the kinds are named.
#[tokio::test]
async fn zeros_are_words_and_kinds_of_involvement_are_explained() {
    let o = office().await;
    let mut a = Browser::sign_in(&o.api, &o.auditor).await;
    let (_, page) = a.get("/who-is-present").await;
    assert!(page.contains("no answers yet."), "{page}");
    assert!(!page.contains("<td>0</td>"), "{page}");
    let (_, page) = a.get("/jointly").await;
    for kind in ["Co-production", "Co-design", "Engagement", "Consultation"] {
        assert!(
            page.contains(&format!("<dt>{kind}</dt><dd>")),
            "{kind} in {page}"
        );
    }
}
