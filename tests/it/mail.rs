//! Emails through a real mail server: aiosmtpd (Python, from PyPI;
//! `tools/test` installs it) saving into a Maildir, and `jointly serve
//! --smtp` as a child process, so the server can be killed between
//! queueing a message and sending it.

use crate::common::jointly;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PYTHON: &str = "python3";

/// A real SMTP server that saves each message it accepts as a file.
struct MailServer {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn listening(port: u16) -> bool {
    TcpStream::connect_timeout(
        &format!("127.0.0.1:{port}").parse().unwrap(),
        Duration::from_millis(200),
    )
    .is_ok()
}

impl MailServer {
    fn new(dir: &Path) -> MailServer {
        let ok = Command::new(PYTHON)
            .args(["-c", "import aiosmtpd"])
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok,
            "these tests need Python's aiosmtpd (python3 -m pip install aiosmtpd; tools/test installs it)"
        );
        let mut m = MailServer {
            port: free_port(),
            dir: dir.join("maildir"),
            child: None,
        };
        m.start();
        m
    }

    fn start(&mut self) {
        let child = Command::new(PYTHON)
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{}", self.port))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        wait_for(Duration::from_secs(15), || listening(self.port)).expect("aiosmtpd did not start");
    }

    /// As when a mail server goes down: killed, its port closed.
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        wait_for(Duration::from_secs(5), || !listening(self.port)).unwrap();
    }

    /// Every message saved, as text.
    fn messages(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.dir.join("new")) else {
            return Vec::new();
        };
        let mut out: Vec<(PathBuf, String)> = entries
            .flatten()
            .map(|e| {
                (
                    e.path(),
                    std::fs::read_to_string(e.path()).unwrap_or_default(),
                )
            })
            .collect();
        out.sort();
        out.into_iter().map(|(_, m)| unfold(&m)).collect()
    }

    /// Messages to `to` that contain `words` (in any part).
    fn to(&self, to: &str, words: &str) -> Vec<String> {
        self.messages()
            .into_iter()
            .filter(|m| m.contains(&format!("To: {to}")) && m.contains(words))
            .collect()
    }
}

impl Drop for MailServer {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A message with its quoted-printable soft line breaks joined, so words
/// can be looked for across them.
fn unfold(m: &str) -> String {
    m.replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=E2=80=9C", "\u{201c}")
        .replace("=E2=80=9D", "\u{201d}")
}

fn wait_for<T>(limit: Duration, mut f: impl FnMut() -> T) -> Option<T>
where
    T: IsTrue,
{
    let end = Instant::now() + limit;
    loop {
        let v = f();
        if v.is_true() {
            return Some(v);
        }
        if Instant::now() >= end {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

trait IsTrue {
    fn is_true(&self) -> bool;
}
impl IsTrue for bool {
    fn is_true(&self) -> bool {
        *self
    }
}
impl IsTrue for Vec<String> {
    fn is_true(&self) -> bool {
        !self.is_empty()
    }
}

/// `jointly serve --smtp` on `data`, as a child.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(data: &Path, smtp: u16) -> Server {
        Self::start_logging(data, smtp, Stdio::null())
    }

    /// [`start`](Self::start), with the server's log to `log`.
    fn start_logging(data: &Path, smtp: u16, log: impl Into<Stdio>) -> Server {
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_jointly"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--smtp", &format!("smtp://127.0.0.1:{smtp}")])
            .args(["--mail-from", "jointly@example.org"])
            .args(["--public-url", "http://jointly.test"])
            .env("JOINTLY_DATA", data)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        wait_for(Duration::from_secs(30), || listening(port)).expect("jointly serve did not start");
        Server { child, port }
    }

    /// POSTs JSON as the holder of `token`; the status and the answer.
    fn post(&self, path: &str, token: &str, body: &serde_json::Value) -> (u16, String) {
        let auth = format!("Authorization: Bearer {token}\r\n");
        self.post_raw(path, &auth, "application/json", &body.to_string())
    }

    /// POSTs `body` with the `extra` header lines, as a client with no
    /// cookie would.
    fn post_raw(&self, path: &str, extra: &str, content_type: &str, body: &str) -> (u16, String) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(
            s,
            "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{extra}Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        let status = answer[9..12].parse().unwrap();
        (status, answer)
    }

    /// Messages waiting in the outbox, from `/metrics` (an admin's).
    fn mail_queued(&self, admin: &str) -> u64 {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(
            s,
            "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {admin}\r\n\r\n"
        )
        .unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        answer
            .lines()
            .find_map(|l| l.strip_prefix("jointly_mail_queued "))
            .unwrap_or_else(|| panic!("{answer}"))
            .trim()
            .parse()
            .unwrap()
    }

    fn append(&self, token: &str, event_type: &str, payload: serde_json::Value) {
        let (status, answer) = self.post(
            "/v1/events",
            token,
            &serde_json::json!({"type": event_type, "payload": payload}),
        );
        assert_eq!(status, 201, "{event_type}: {answer}");
    }

    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn last_line(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_string()
}

/// A project led by a member of staff, with two partners, each with an
/// address; and their tokens.
struct Project {
    id: String,
    lead: String,
    partner: String,
    staff_token: String,
    partner_token: String,
    other_token: String,
    admin_token: String,
}

fn project(data: &Path) -> Project {
    let person = |role: &str, name: &str, email: &str, project: Option<&str>| {
        let mut args = vec![
            "person", "add", "--role", role, "--name", name, "--email", email,
        ];
        if let Some(p) = project {
            args.extend(["--project", p]);
        }
        last_line(&jointly(data, &args, None))
    };
    let lead = person("staff", "Lena Lead", "lead@example.org", None);
    let id = uuid::Uuid::new_v4().to_string();
    let append = |t: &str, payload: serde_json::Value| {
        let out = jointly(
            data,
            &["append", "--type", t, "--payload", "-"],
            Some(payload.to_string().as_bytes()),
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    append(
        "project.started",
        serde_json::json!({"project_id": id, "title": "Letters that make sense",
            "summary": "Clearer letters, made with the people who get them.",
            "involvement": "co-production", "lead": lead}),
    );
    append(
        "participant.joined",
        serde_json::json!({"participant_id": lead, "project_id": id, "role": "staff"}),
    );
    let partner = person("partner", "Pat Partner", "pat@example.org", Some(&id));
    let other = person("partner", "Sam Other", "sam@example.org", Some(&id));
    let token = |role: &str, name: &str, who: Option<&str>| {
        let mut args = vec!["token", "create", "--role", role, "--name", name];
        if let Some(w) = who {
            args.extend(["--participant", w]);
        }
        last_line(&jointly(data, &args, None))
    };
    Project {
        staff_token: token("staff", "lead", Some(&lead)),
        partner_token: token("partner", "pat", Some(&partner)),
        other_token: token("partner", "sam", Some(&other)),
        admin_token: token("admin", "admin", None),
        id,
        lead,
        partner,
    }
}

fn idea(srv: &Server, token: &str, project: &str, text: &str) -> String {
    let id = uuid::Uuid::new_v4().to_string();
    srv.append(
        token,
        "proposal.raised",
        serde_json::json!({"project_id": project, "proposal_id": id, "text": text}),
    );
    id
}

fn decline(srv: &Server, p: &Project, idea: &str, reason: &str) {
    srv.append(
        &p.staff_token,
        "decision.made",
        serde_json::json!({"project_id": p.id, "decision_id": uuid::Uuid::new_v4(),
            "question": "Should we take up this idea?", "outcome": "Not now.",
            "stage": "conception", "method": "staff-decision",
            "answers": [{"proposal_id": idea, "response": "declined", "reason": reason}],
            "participants": [{"participant_id": p.lead, "position": "agree"}],
            "reason": reason}),
    );
}

const SOON: Duration = Duration::from_secs(20);

/// A data directory with a project (see [`project`]) and a mail server.
fn world() -> (tempfile::TempDir, PathBuf, Project, MailServer) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let p = project(&data);
    let mail = MailServer::new(dir.path());
    (dir, data, p, mail)
}

#[test]
fn people_hear_what_happened_to_their_ideas_once_even_when_the_mail_server_was_down() {
    let (_dir, data, p, mut mail) = world();
    let srv = Server::start(&data, mail.port);

    // A partner's idea: the lead hears of it, and nobody else does.
    let first = idea(
        &srv,
        &p.partner_token,
        &p.id,
        "Put a phone number on every letter",
    );
    let to_lead = wait_for(SOON, || {
        mail.to("lead@example.org", "Put a phone number on every letter")
    });
    let to_lead = to_lead.expect("the lead heard of the new idea");
    assert!(
        to_lead[0].contains("A new idea in Letters that make sense"),
        "{}",
        to_lead[0]
    );
    assert!(
        !to_lead[0].contains("Pat Partner"),
        "staff are not told who: {}",
        to_lead[0]
    );

    // Staff decline it: the partner hears, in words, with the reason, a
    // link, and the one-click unsubscribe headers.
    decline(&srv, &p, &first, "The letters are being replaced next year");
    let m = wait_for(SOON, || {
        mail.to(
            "pat@example.org",
            "The letters are being replaced next year",
        )
    })
    .expect("the partner heard their idea was answered");
    let m = &m[0];
    for want in [
        "was not accepted",
        "\u{201c}Put a phone number on every letter\u{201d}",
        "http://jointly.test/decisions/",
        "List-Unsubscribe: <http://jointly.test/unsubscribe/",
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
        "Content-Type: text/html",
        "Content-Type: text/plain",
    ] {
        assert!(m.contains(want), "the email lacks {want:?}:\n{m}");
    }
    assert!(
        mail.to("sam@example.org", "").is_empty(),
        "the other partner heard nothing"
    );

    // The mail server goes down; another idea is declined meanwhile. It
    // is delivered once the server is back, exactly once.
    let second = idea(
        &srv,
        &p.partner_token,
        &p.id,
        "Print the letters in larger type",
    );
    wait_for(SOON, || {
        mail.to("lead@example.org", "Print the letters in larger type")
    })
    .unwrap();
    mail.stop();
    decline(
        &srv,
        &p,
        &second,
        "Large print is already offered on request",
    );
    std::thread::sleep(Duration::from_secs(3));
    mail.start();
    let got = wait_for(Duration::from_secs(45), || {
        mail.to(
            "pat@example.org",
            "Large print is already offered on request",
        )
    });
    assert!(
        got.is_some(),
        "the message queued while the server was down arrived"
    );
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        mail.to(
            "pat@example.org",
            "Large print is already offered on request"
        )
        .len(),
        1
    );
    drop(srv);
}

#[test]
fn a_message_queued_before_a_crash_is_sent_once_after_it() {
    let (_dir, data, p, mut mail) = world();
    mail.stop();
    // Queued while the mail server is down, then the server is killed.
    let srv = Server::start(&data, mail.port);
    let id = idea(
        &srv,
        &p.partner_token,
        &p.id,
        "Say who to call in the first line",
    );
    decline(
        &srv,
        &p,
        &id,
        "The first line must say what the letter is about",
    );
    std::thread::sleep(Duration::from_secs(2));
    srv.kill();
    mail.start();
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        mail.messages().is_empty(),
        "nothing was sent while the server was down"
    );
    // Started again: what was owed goes out, once each.
    let srv = Server::start(&data, mail.port);
    let got = wait_for(Duration::from_secs(45), || {
        mail.to(
            "pat@example.org",
            "The first line must say what the letter is about",
        )
    });
    assert!(
        got.is_some(),
        "the queued message was sent after the restart"
    );
    wait_for(SOON, || {
        mail.to("lead@example.org", "Say who to call in the first line")
    })
    .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        mail.to(
            "pat@example.org",
            "The first line must say what the letter is about"
        )
        .len(),
        1
    );
    assert_eq!(
        mail.to("lead@example.org", "Say who to call in the first line")
            .len(),
        1
    );
    drop(srv);
}

#[test]
fn an_erased_partners_queued_message_is_never_sent_and_unsubscribing_stops_the_rest() {
    let (_dir, data, p, mut mail) = world();
    let srv = Server::start(&data, mail.port);
    let mine = idea(
        &srv,
        &p.partner_token,
        &p.id,
        "Send the letters by text message too",
    );
    let theirs = idea(
        &srv,
        &p.other_token,
        &p.id,
        "Use plain words in the first paragraph",
    );
    wait_for(SOON, || mail.to("lead@example.org", "Use plain words")).unwrap();
    // Both answers queue while the mail server is down; then the first
    // partner is erased.
    mail.stop();
    decline(
        &srv,
        &p,
        &mine,
        "Text messages cannot carry the whole letter",
    );
    decline(&srv, &p, &theirs, "The first paragraph must give the date");
    let (status, answer) = srv.post(
        "/v1/erasures",
        &p.admin_token,
        &serde_json::json!({"participant_id": p.partner, "reason": "They asked us to"}),
    );
    assert!(status < 300, "{answer}");
    mail.start();
    wait_for(Duration::from_secs(45), || {
        mail.to("sam@example.org", "The first paragraph must give the date")
    })
    .expect("the other partner's message, queued beside it, arrived");
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        mail.to("pat@example.org", "").is_empty(),
        "the erased partner got nothing"
    );

    // The other partner stops their emails with the one-click address in
    // the message (no cookie, no form token); nothing more reaches them.
    let m = &mail.to("sam@example.org", "The first paragraph must give the date")[0];
    let at = m.find("List-Unsubscribe: <http://jointly.test").unwrap()
        + "List-Unsubscribe: <http://jointly.test".len();
    let path = &m[at..at + m[at..].find('>').unwrap()];
    let (status, answer) = srv.post_raw(
        path,
        "",
        "application/x-www-form-urlencoded",
        "List-Unsubscribe=One-Click",
    );
    assert_eq!(status, 200, "{answer}");
    let again = idea(
        &srv,
        &p.other_token,
        &p.id,
        "Number the pages of long letters",
    );
    decline(&srv, &p, &again, "Long letters are being split up");
    wait_for(SOON, || mail.to("lead@example.org", "Number the pages")).unwrap();
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        mail.to("sam@example.org", "Long letters are being split up")
            .is_empty()
    );
    drop(srv);
}

#[test]
fn mail_test_says_what_the_server_answered() {
    let dir = tempfile::tempdir().unwrap();
    let mut mail = MailServer::new(dir.path());
    let smtp = format!("smtp://127.0.0.1:{}", mail.port);
    let run = |smtp: &str, from: &str| {
        jointly(
            dir.path(),
            &[
                "mail",
                "test",
                "--to",
                "you@example.org",
                "--smtp",
                smtp,
                "--mail-from",
                from,
            ],
            None,
        )
    };
    let sent = run(&smtp, "jointly@example.org");
    let said = String::from_utf8_lossy(&sent.stderr).to_string();
    assert_eq!(sent.status.code(), Some(0), "{said}");
    assert!(
        said.contains("took the message for you@example.org"),
        "{said}"
    );
    let m = wait_for(SOON, || {
        mail.to("you@example.org", "A test message from jointly")
    })
    .unwrap();
    assert!(
        !m[0].contains("List-Unsubscribe"),
        "a one-off test has nothing to unsubscribe from"
    );
    // Bad settings are bad input (2); a server that cannot be reached is a
    // failed check (1), and says where.
    assert_eq!(
        run("ftp://127.0.0.1", "jointly@example.org").status.code(),
        Some(2)
    );
    assert_eq!(run(&smtp, "not an address").status.code(), Some(2));
    mail.stop();
    let down = run(&smtp, "jointly@example.org");
    assert_eq!(down.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&down.stderr).contains(&format!("127.0.0.1:{}", mail.port)));
}

/// (issue 29) A lead who leaves the organisation hears nothing more: not
/// of the ideas that come after, nor of one queued for them while the
/// mail server was down. Leaving asks who leads their project next; the
/// member of staff named hears instead.
#[test]
fn a_lead_who_leaves_hears_nothing_more_and_the_next_lead_does() {
    let (_dir, data, p, mut mail) = world();
    let colleague = last_line(&jointly(
        &data,
        &[
            "person",
            "add",
            "--role",
            "staff",
            "--name",
            "Cole Colleague",
            "--email",
            "cole@example.org",
            "--project",
            &p.id,
        ],
        None,
    ));
    let srv = Server::start(&data, mail.port);
    idea(&srv, &p.partner_token, &p.id, "Say the date at the top");
    wait_for(SOON, || {
        mail.to("lead@example.org", "Say the date at the top")
    })
    .expect("control: the lead hears of a partner's idea before leaving");
    // An idea while the mail server is down: owed to the lead, queued.
    mail.stop();
    idea(&srv, &p.partner_token, &p.id, "Give a name to ask for");
    std::thread::sleep(Duration::from_secs(2));
    let leave = format!("/v1/people/{}/leave", p.lead);
    let auth = format!("Authorization: Bearer {}\r\n", p.admin_token);
    let (status, answer) = srv.post_raw(&leave, &auth, "application/json", "");
    assert_eq!(
        status, 409,
        "leaving as the lead asks who leads next: {answer}"
    );
    assert!(
        answer.contains("\"pointer\":\"/new_lead\"") && answer.contains("Letters that make sense"),
        "{answer}"
    );
    let (status, answer) = srv.post(
        &leave,
        &p.admin_token,
        &serde_json::json!({"new_lead": colleague}),
    );
    assert_eq!(status, 200, "{answer}");
    mail.start();
    idea(&srv, &p.partner_token, &p.id, "Print a phone number twice");
    wait_for(Duration::from_secs(45), || {
        mail.to("cole@example.org", "Print a phone number twice")
    })
    .expect("the member of staff who leads it now hears of a new idea");
    wait_for(SOON, || {
        mail.to("cole@example.org", "Give a name to ask for")
    })
    .expect("and of the one queued while the mail server was down");
    // Once nothing waits in the outbox, all that was owed has gone out.
    wait_for(Duration::from_secs(60), || {
        srv.mail_queued(&p.admin_token) == 0
    })
    .expect("the outbox empties");
    let to_lead: Vec<String> = mail
        .to("lead@example.org", "")
        .iter()
        .filter_map(|m| {
            m.lines()
                .find(|l| l.starts_with('\u{201c}'))
                .map(String::from)
        })
        .collect();
    assert_eq!(
        to_lead,
        ["\u{201c}Say the date at the top\u{201d}"],
        "the lead who left got nothing after the first"
    );
    drop(srv);
}

/// A mail server that refuses every recipient with `refusal`: one
/// connection at a time, on a thread, until the test ends.
fn hostile_mail_server(refusal: &'static str) -> u16 {
    use std::io::{BufRead, BufReader};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut out) = conn else { return };
            let mut lines = BufReader::new(out.try_clone().unwrap());
            let _ = out.write_all(b"220 mail.example.org ESMTP\r\n");
            let mut line = String::new();
            while lines.read_line(&mut line).is_ok_and(|n| n > 0) {
                let word = line.get(..4).unwrap_or("").to_ascii_uppercase();
                let reply: &[u8] = match word.as_str() {
                    "EHLO" | "HELO" => b"250 mail.example.org\r\n",
                    "RCPT" => refusal.as_bytes(),
                    "QUIT" => b"221 bye\r\n",
                    _ => b"250 ok\r\n",
                };
                if out.write_all(reply).is_err() {
                    break;
                }
                line.clear();
            }
        }
    });
    port
}

/// (issue 29) What a mail server answers goes to the server's log escaped:
/// a hostile server's escape sequences (clearing the screen, retitling the
/// terminal, a forged log line) are shown, never acted on.
#[test]
fn a_hostile_mail_servers_answer_is_logged_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let p = project(&data);
    let port =
        hostile_mail_server("550 5.1.1 no\x1b[2J\x1b]0;owned\x07jointly: all is well\x1b[0m\r\n");
    let log_path = dir.path().join("serve.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let srv = Server::start_logging(&data, port, log);
    idea(&srv, &p.partner_token, &p.id, "Send letters in Welsh too");
    let logged = wait_for(SOON, || {
        std::fs::read_to_string(&log_path)
            .unwrap_or_default()
            .contains("was given up")
    });
    assert!(logged.is_some(), "the refused email was logged");
    let text = std::fs::read(&log_path).unwrap();
    let text = String::from_utf8_lossy(&text);
    assert!(
        !text.contains('\x1b') && !text.contains('\x07'),
        "the mail server's words reached the log raw:\n{text:?}"
    );
    assert!(text.contains("\\u{1b}[2J"), "{text}");
    drop(srv);
}
