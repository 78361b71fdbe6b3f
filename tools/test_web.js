#!/usr/bin/env node
// Browser tests of jointly's web pages, in headless Chromium (Debian's
// `chromium`), driven with playwright-core. Run by tools/test:
//   NODE_PATH=<dir with playwright-core and axe-core> node tools/test_web.js
// It starts `jointly serve` on a fresh data directory with the example
// history, and checks:
//   1. every page each role can reach has no axe-core violations of the
//      WCAG 2.0/2.1/2.2 A and AA rules, at phone and desktop widths, and
//      partner pages use no technical words;
//   2. a keyboard-only journey reaches and submits every form, and every
//      element that takes focus shows it visibly;
//   3. the whole journey: a partner puts forward an idea, staff record a
//      decision answering it with the partner taking part, the partner
//      confirms, and "You said, we did" shows it;
//   4. sign-in: a wrong code is refused in words, too many tries are
//      refused, forms without the session's token are refused.
// Screenshots of each page at both widths go to target/screenshots/.

const { chromium } = require('playwright-core');
const fs = require('fs');
const path = require('path');
const { spawn, execFileSync } = require('child_process');
const net = require('net');
const os = require('os');

const root = path.resolve(__dirname, '..');
const bin = process.env.JOINTLY_BIN || path.join(root, 'target', 'release', 'jointly');
const axeSource = fs.readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const shots = path.join(root, 'target', 'screenshots');
const JARGON = /\b(hash|payload|projection|merkle|idempotency|sequencer|sled|blake3)\b/i;
const WIDTHS = { small: { width: 320, height: 640 }, phone: { width: 390, height: 844 }, desktop: { width: 1280, height: 900 } };

let failures = 0;
function check(ok, what) {
  if (ok) { console.log(`ok   ${what}`); } else { failures++; console.log(`FAIL ${what}`); }
}

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

function jointly(data, args) {
  return execFileSync(bin, args, { env: { ...process.env, JOINTLY_DATA: data }, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
}

function lastLine(text) { return text.trim().split('\n').pop().trim(); }

async function signIn(browser, base, code, viewport) {
  // The pages forbid every script; axe-core is injected round that policy.
  const ctx = await browser.newContext({ viewport, bypassCSP: true });
  const page = await ctx.newPage();
  await page.goto(base + '/sign-in');
  await page.fill('input[name=code]', code);
  await Promise.all([page.waitForNavigation(), page.press('input[name=code]', 'Enter')]);
  return { ctx, page };
}

async function axe(page) {
  await page.addScriptTag({ content: axeSource });
  return page.evaluate(async () => (await axe.run(document, {
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] },
  })).violations.map((v) => `${v.id} (${v.nodes.length}): ${v.nodes[0].target}`));
}

function shotName(role, width, url) {
  const p = new URL(url).pathname.replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, 'ID').replace(/\W+/g, '-').replace(/^-|-$/g, '') || 'home';
  return path.join(shots, `${role}-${width}-${p}.png`);
}

// 1. Every reachable page, every role, both widths.
async function crawl(browser, base, role, code) {
  for (const [width, viewport] of Object.entries(WIDTHS)) {
    const { ctx, page } = await signIn(browser, base, code, viewport);
    const seen = new Set();
    const queue = [page.url()];
    let pages = 0;
    const problems = [];
    while (queue.length && seen.size < 40) {
      const url = queue.shift();
      if (seen.has(url)) continue;
      seen.add(url);
      const resp = await page.goto(url);
      if (!resp || resp.status() >= 400) { problems.push(`${url}: status ${resp && resp.status()}`); continue; }
      if (!(resp.headers()['content-type'] || '').includes('text/html')) continue;
      pages++;
      await page.screenshot({ path: shotName(role, width, url), fullPage: true });
      for (const v of await axe(page)) problems.push(`${url}: ${v}`);
      // WCAG 2.2 reflow: nothing scrolls sideways, even at 320 px.
      const wide = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      if (wide > 1) problems.push(`${url}: scrolls sideways by ${wide} px`);
      const iso = (await page.innerText('body')).match(/\b\d{4}-\d{2}-\d{2}\b/);
      if (iso) problems.push(`${url}: a date written ${iso[0]}`);
      const plural = (await page.innerText('body')).match(/\b1 (ideas|decisions|projects|partners|meetings|challenges|actions|days|entries|witnesses|are|were|have)\b/);
      if (plural) problems.push(`${url}: "${plural[0]}"`);
      if (role === 'partner') {
        const m = (await page.innerText('main')).match(JARGON);
        if (m) problems.push(`${url}: the word "${m[0]}"`);
      }
      for (const l of await page.$$eval('a[href]', (as) => as.map((a) => a.href))) {
        const u = l.split('#')[0];
        if (u.startsWith(base) && !seen.has(u)) queue.push(u);
      }
    }
    check(pages >= 4, `${role} at ${width} width: ${pages} pages reached`);
    check(problems.length === 0, `${role} at ${width} width: no accessibility violations, sideways scrolling, ISO dates, wrong plurals or jargon${problems.length ? '\n     ' + problems.slice(0, 10).join('\n     ') : ''}`);
    await ctx.close();
  }
}

// 2. Keyboard only: Tab to each field, fill it from the keyboard, Tab to
// the button and press Enter; each focused element must show its focus.
async function keyboardForm(page, url, fill) {
  await page.goto(url);
  const unfocusable = [];
  const done = new Set();
  for (let i = 0; i < 240; i++) {
    await page.keyboard.press('Tab');
    const f = await page.evaluate(() => {
      const e = document.activeElement;
      if (!e || e === document.body) return null;
      const s = getComputedStyle(e);
      const visible = (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== 'none';
      return { tag: e.tagName, type: e.type || '', name: e.name || '', value: e.value || '', visible, text: (e.innerText || '').trim(), inForm: !!e.closest('main form') };
    });
    if (!f) continue;
    if (!f.visible) unfocusable.push(`${f.tag} ${f.name || f.text}`);
    if (!f.inForm) continue;
    const key = `${f.name}=${f.value}`;
    if (f.tag === 'BUTTON') {
      await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
      return { submitted: true, unfocusable, url: page.url(), status: await page.title() };
    }
    if ((done.has(key) || done.has(`${f.name}=*`)) && f.type !== 'checkbox') continue;
    done.add(key);
    const want = fill(f);
    if (want === undefined) continue;
    if (f.type === 'radio' && typeof want === 'string') {
      // A group of radio buttons is one stop: arrows move the choice.
      for (let k = 0; k < 8; k++) {
        const now = await page.evaluate(() => document.activeElement.value);
        if (now === want) break;
        await page.keyboard.press('ArrowDown');
      }
      // Arrows choose as they move; a first stop with nothing chosen yet
      // needs Space.
      await page.keyboard.press('Space');
      done.add(`${f.name}=*`);
    } else if (f.type === 'radio' || f.type === 'checkbox') {
      if (want === true) await page.keyboard.press('Space');
    } else {
      await page.keyboard.type(String(want));
    }
  }
  return { submitted: false, unfocusable, url: page.url() };
}

// Tab to the button with these words and press Enter.
async function pressButton(page, words) {
  for (let i = 0; i < 120; i++) {
    await page.keyboard.press('Tab');
    const text = await page.evaluate(() => (document.activeElement && document.activeElement.tagName === 'BUTTON' ? document.activeElement.innerText.trim() : ''));
    if (text === words) {
      await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
      return true;
    }
  }
  return false;
}

// Screenshots of the page now at each width, named `name`.
async function shootAtEachWidth(page, name) {
  const was = page.viewportSize();
  for (const [width, viewport] of Object.entries(WIDTHS)) {
    await page.setViewportSize(viewport);
    await page.screenshot({ path: path.join(shots, `${name}-${width}.png`), fullPage: true });
  }
  await page.setViewportSize(was);
}

async function main() {
  fs.mkdirSync(shots, { recursive: true });
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'jointly-web-'));
  jointly(data, ['demo']);
  // A partner of the example history, and a staff member who leads a project.
  const records = jointly(data, ['log']).trim().split('\n').map((l) => JSON.parse(l));
  const joined = records.filter((r) => r.record.type === 'participant.joined').map((r) => r.payload);
  const partnerId = joined.find((p) => p.role === 'partner').participant_id;
  const staffId = joined.find((p) => p.role === 'staff').participant_id;
  const token = (role, name, p) => lastLine(jointly(data, ['token', 'create', '--role', role, '--name', name, ...(p ? ['--participant', p] : [])]));
  const codes = { partner: token('partner', 'web-partner', partnerId), staff: token('staff', 'web-staff', staffId), auditor: token('auditor', 'web-auditor') };
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = spawn(bin, ['serve', '--listen', `127.0.0.1:${port}`], { env: { ...process.env, JOINTLY_DATA: data }, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  server.stderr.on('data', (d) => { log += d; });
  for (let i = 0; i < 100; i++) {
    try { const r = await fetch(base + '/healthz'); if (r.ok) break; } catch (_) { /* not yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'] });
  try {
    // 4. Sign-in problems, in words.
    {
      const ctx = await browser.newContext({ bypassCSP: true });
      const page = await ctx.newPage();
      await page.goto(base + '/sign-in');
      await page.fill('input[name=code]', 'jly_not-a-real-code-at-all');
      await Promise.all([page.waitForNavigation(), page.press('input[name=code]', 'Enter')]);
      check((await page.innerText('main')).includes('did not work'), 'a wrong access code is refused in words, next to the field');
      check((await axe(page)).length === 0, 'the sign-in error page is accessible');
      const forged = await page.request.post(base + '/sign-out', { form: { csrf: 'forged' }, maxRedirects: 0 });
      check(forged.status() >= 300, 'sign-out without a session does nothing');
      await ctx.close();
    }

    // 1. Accessibility of every page.
    for (const [role, code] of Object.entries(codes)) await crawl(browser, base, role, code);

    // 3 and 2. The whole journey, by keyboard only.
    const partner = await signIn(browser, base, codes.partner, WIDTHS.phone);
    const staff = await signIn(browser, base, codes.staff, WIDTHS.desktop);
    const projectUrl = await partner.page.$eval('main .cards a[href^="/projects/"]', (a) => a.href);
    const idea = `Keyboard idea ${Date.now()}: a quiet room before every workshop.`;
    let r = await keyboardForm(partner.page, projectUrl + '/propose', (f) => (f.name === 'text' ? idea : undefined));
    check(r.submitted && r.unfocusable.length === 0, `partner puts forward an idea by keyboard, focus always visible ${r.unfocusable.join(', ')}`);
    r = await keyboardForm(partner.page, projectUrl + '/propose', () => undefined);
    check(r.submitted && (await partner.page.innerText('main')).includes('Write your idea'), 'an empty idea is refused, with the error beside the field');

    const decisionForm = projectUrl.replace('127.0.0.1', '127.0.0.1') + '/decision';
    const staffFill = (f) => {
      if (f.name === 'question') return 'Shall we have a quiet room?';
      if (f.name === 'outcome') return 'Yes, from next month.';
      if (f.name === 'reason') return 'Partners asked for it and everyone agreed.';
      if (f.name === 'method') return 'consensus';
      return undefined;
    };
    // Staff's home page starts with their projects, and opens the
    // decision form from the new idea with it ticked.
    await staff.page.goto(base + '/home');
    const firstHeading = await staff.page.$eval('main h2', (h) => h.innerText).catch(() => '');
    check(firstHeading === 'My projects', `staff's home page starts with "My projects" (${firstHeading})`);
    await shootAtEachWidth(staff.page, 'journey-staff-home');
    const fromIdea = await staff.page.evaluate((t) => {
      const li = [...document.querySelectorAll('main li.item')].find((e) => e.innerText.includes(t));
      const a = li && [...li.querySelectorAll('a')].find((x) => x.innerText.startsWith('Record a decision that answers'));
      return a ? a.href : null;
    }, idea);
    check(fromIdea !== null, "the new idea on staff's home page has 'Record a decision that answers' it, by its words");
    // Answer the new idea and say where the partner stood, by keyboard:
    // find the idea's response first, by its words.
    await staff.page.goto(fromIdea || decisionForm);
    const ideaGroup = await staff.page.$$eval('fieldset', (fs, t) => { const f = fs.find((x) => x.id.startsWith('response-') && x.querySelector('legend').innerText.includes(t)); return f ? f.id : null; }, idea);
    check(ideaGroup !== null, 'the decision form offers the new idea, with a choice of response');
    const ideaId = (ideaGroup || '').replace('response-', '');
    const ticked = await staff.page.$eval(`input[name=answers][value="${ideaId}"]`, (i) => i.checked).catch(() => false);
    check(ticked, 'the decision form opened from the idea has it ticked');
    r = await keyboardForm(staff.page, fromIdea || decisionForm, (f) => {
      if (f.name === ideaGroup) return 'accepted';
      if (f.name === `why-${ideaId}`) return 'Partners asked for it.';
      if (f.name === `position-${partnerId}` || f.name === `position-${staffId}`) return 'agree';
      return staffFill(f);
    });
    const checkPage = await staff.page.innerText('main');
    check(r.submitted && checkPage.includes('Check the decision before you record it') && checkPage.includes(idea), `sending the decision form shows it to check first, with the idea it answers (${r.url}: ${checkPage.includes('Check the decision') ? '' : checkPage.replace(/\s+/g, ' ').slice(0, 300)})`);
    const checkProblems = await axe(staff.page);
    check(checkProblems.length === 0, `the check-your-answers page is accessible${checkProblems.length ? ': ' + checkProblems.join('; ') : ''}`);
    await shootAtEachWidth(staff.page, 'journey-staff-check-the-decision');
    check(await pressButton(staff.page, 'Record the decision'), 'staff confirm the decision by keyboard');
    r = { ...r, url: staff.page.url() };
    check(r.url.includes('/decisions/'), `staff record a decision answering the idea, with the partner, by keyboard (${r.url})`);
    const decisionUrl = r.url;
    // The partner's home page shows where their idea stands, in words.
    const entryOf = async (page, text) => page.evaluate((t) => {
      const li = [...document.querySelectorAll('main li.item')].find((e) => e.innerText.includes(t));
      return li ? li.innerText.replace(/\s+/g, ' ') : '';
    }, text);
    await partner.page.goto(base + '/home');
    const entry = await entryOf(partner.page, idea);
    check(/Accepted\./.test(entry) && entry.includes('Partners asked for it.'), `the partner's home page shows their idea as accepted, with the reason (${entry.slice(0, 160)})`);
    await partner.page.screenshot({ path: path.join(shots, 'journey-partner-390-home-idea-accepted.png'), fullPage: true });
    check(r.unfocusable.length === 0, `focus is visible on every element of the decision form ${r.unfocusable.join(', ')}`);

    r = await keyboardForm(partner.page, decisionUrl + '/confirm', (f) => (f.name === 'answer' ? f.value === 'confirm' : undefined));
    check(r.submitted && (await partner.page.innerText('main')).includes('You confirmed this is right'), 'the partner confirms their part by keyboard, and the decision says so');
    check((await partner.page.innerText('main [role=status]').catch(() => '')).length > 0, 'the partner sees a confirmation after confirming');
    await partner.page.goto(projectUrl + '/you-said-we-did');
    const said = await entryOf(partner.page, idea);
    check(said.includes('Accepted') && said.includes('Yes, from next month.'), `"You said, we did" shows the idea, its status and what was decided (${said.slice(0, 160)})`);

    // Every other form, by keyboard.
    const forms = [
      [partner.page, decisionUrl + '/challenge', (f) => (f.name === 'reason' ? 'It was decided before we could all come.' : undefined), '/decisions/'],
      [partner.page, base + '/me/equality', (f) => (f.name === 'region' ? f.value === 'wales' : f.name === 'age' ? f.value === 'prefer_not_to_say' : undefined), '/who-is-present'],
      [staff.page, base + '/projects/new', (f) => ({ title: 'Quiet rooms', summary: 'Somewhere calm before workshops.', aim: 'Everyone can take part calmly.' }[f.name] ?? (f.name === 'involvement' ? f.value === 'co-production' : undefined)), '/projects/'],
      [staff.page, projectUrl + '/meeting', (f) => ({ date: '01022026', summary: 'We planned the quiet room.' }[f.name] ?? (f.name === 'attendees' ? f.value === partnerId : f.name === 'materials' ? f.value === 'yes' : undefined)), '/projects/'],
      [staff.page, decisionUrl + '/action', (f) => ({ what: 'Book a quiet room.', due: '01032026' }[f.name] ?? (f.name === 'owner' ? f.value === staffId : undefined)), '/decisions/'],
      [staff.page, projectUrl + '/review', (f) => ({ summary: 'We looked back with partners: evenings work.', next_review: '01062027' }[f.name]), '/projects/'],
      [staff.page, projectUrl + '/outcome', (f) => ({ outcome: 'Six libraries opened a warm room.', evidence: 'Their opening lists.' }[f.name] ?? (f.name === 'aim_id' ? f.value : undefined)), '/projects/'],
      [staff.page, projectUrl + '/stage', () => undefined, '/projects/'],
      [staff.page, projectUrl + '/involvement', (f) => (f.name === 'reason' ? 'Partners asked to design it with us.' : f.name === 'involvement' ? otherInvolvement : undefined), '/projects/'],
    ];
    await staff.page.goto(projectUrl);
    const involvedNow = ((await staff.page.innerText('main')).match(/says it works by ([a-z-]+)/) || [])[1];
    const otherInvolvement = involvedNow === 'co-design' ? 'consultation' : 'co-design';
    for (const [page, url, fill, lands] of forms) {
      const res = await keyboardForm(page, url, fill);
      check(res.submitted && res.url.includes(lands) && res.unfocusable.length === 0, `keyboard: ${new URL(url).pathname} submitted (${res.url}) ${res.unfocusable.join(', ')}`);
    }
    await staff.page.goto(decisionUrl);
    const complete = await staff.page.$eval('a[href*="/complete"]', (a) => a.href).catch(() => null);
    const answer = await staff.page.$eval('a[href*="/answer"]', (a) => a.href).catch(() => null);
    for (const [url, fill] of [[complete, (f) => (f.name === 'what_changed' ? 'The room is booked every week.' : undefined)], [answer, (f) => (f.name === 'answer' ? 'We will move the date so everyone can come.' : undefined)]]) {
      check(url !== null, `the decision page links to ${url}`);
      if (url) {
        const res = await keyboardForm(staff.page, url, fill);
        check(res.submitted && res.url.includes('/decisions/'), `keyboard: ${new URL(url).pathname} submitted`);
      }
    }

    // The partner reads the answer to their challenge on their home page.
    await partner.page.goto(base + '/home');
    const challenged = await entryOf(partner.page, 'It was decided before we could all come.');
    check(challenged.includes('Answered') && challenged.includes('We will move the date so everyone can come.'), `the partner's home page shows their challenge and its answer (${challenged.slice(0, 160)})`);
    await partner.page.screenshot({ path: path.join(shots, 'journey-partner-390-home-challenge-answered.png'), fullPage: true });
    // Not satisfied, the partner says so: the same challenge opens again,
    // the reply under it, and it waits on staff.
    const reply = await partner.page.$eval('main li.item a[href$="/reply"]', (a) => a.href).catch(() => null);
    check(reply !== null, 'the partner can reply to the answer to their challenge');
    if (reply) {
      const res = await keyboardForm(partner.page, reply, (f) => (f.name === 'reason' ? 'Thursdays are hard too.' : f.name === 'happy' ? 'no' : undefined));
      const thread = await entryOf(partner.page, 'It was decided before we could all come.');
      check(res.submitted && res.url.endsWith('/home') && thread.includes('Thursdays are hard too.') && thread.includes('Open again'), `"no, I still disagree" opens the same challenge again, the reply under it (${res.url}: ${thread.slice(0, 200)})`);
      await shootAtEachWidth(partner.page, 'journey-partner-home-challenge-open-again');
      await staff.page.goto(base + '/home');
      check((await entryOf(staff.page, 'Thursdays are hard too.')).includes('No answer yet'), "the reply waits for an answer on staff's home page");
      // Staff answer again; now the partner is happy, and it closes.
      const again = await staff.page.$eval('main a[href$="/answer"]', (a) => a.href).catch(() => null);
      if (again) {
        await keyboardForm(staff.page, again, (f) => (f.name === 'answer' ? 'We will meet on Mondays instead.' : undefined));
        await partner.page.goto(base + '/home');
        const last = await partner.page.$eval('main li.item a[href$="/reply"]', (a) => a.href).catch(() => null);
        check(last !== null, 'the partner can reply to the new answer');
        if (last) {
          const done = await keyboardForm(partner.page, last, (f) => (f.name === 'reason' ? 'Thank you. Mondays suit me.' : f.name === 'happy' ? 'yes' : undefined));
          const closed = await entryOf(partner.page, 'It was decided before we could all come.');
          check(done.submitted && closed.includes('Closed: the answer was accepted') && closed.includes('Thank you. Mondays suit me.'), `"yes, happy" closes the challenge (${closed.slice(0, 200)})`);
          await shootAtEachWidth(partner.page, 'journey-partner-home-challenge-closed');
          await staff.page.goto(base + '/home');
          check(!(await staff.page.innerText('main')).includes('Thank you. Mondays suit me.'), "a thank-you asks nothing of staff");
        }
      } else {
        check(false, "staff's home page links to the reply to answer");
      }
    }
    // The meeting recorded above has a page, reached from the story: what
    // happened, and who came as each reader may see it.
    for (const [who, page, counts] of [['staff', staff.page, /\d+ (partner|partners|people) came/], ['partner', partner.page, /fewer than 5/]]) {
      await page.goto(projectUrl);
      // The story's line for the meeting says what happened, and links its page.
      const meetingUrl = await page.$$eval('main li', (lis) => {
        const li = lis.find((e) => e.innerText.includes('We planned the quiet room.'));
        const a = li && li.querySelector('a[href*="/meetings/"]');
        return a ? a.href : null;
      }).catch(() => null);
      check(meetingUrl !== null, `the project's story links each meeting's page (${who})`);
      if (meetingUrl) {
        await page.goto(meetingUrl);
        const text = await page.innerText('main');
        check(text.includes('We planned the quiet room.') && counts.test(text), `the meeting's page says what happened and who came, as ${who} may see it (${text.slice(0, 200).replace(/\s+/g, ' ')})`);
        await shootAtEachWidth(page, `journey-${who}-meeting`);
      }
    }
    // Staff correct what was decided; the partner reads the corrected words.
    await staff.page.goto(decisionUrl);
    const correctUrl = await staff.page.$eval('main a[href*="/correct"]', (a) => a.href).catch(() => null);
    check(correctUrl !== null, "the decision's page links its correction form for staff");
    if (correctUrl) {
      const res = await keyboardForm(staff.page, correctUrl, (f) => (f.name === 'correction' ? 'Yes, from the month after next.' : f.name === 'reason' ? 'The minutes say the month after next.' : undefined));
      check(res.submitted, 'staff correct the decision by keyboard');
      await partner.page.goto(decisionUrl);
      const text = await partner.page.innerText('main');
      check(text.includes('Yes, from the month after next. (corrected on') && text.includes('The minutes say the month after next.'), `the partner reads the corrected words, marked, with why (${text.slice(0, 240).replace(/\s+/g, ' ')})`);
      await shootAtEachWidth(partner.page, 'journey-partner-decision-corrected');
    }
    // "Check this record" counts what the record holds now; a partner is
    // greeted by their own name where it is on file.
    await partner.page.goto(base + '/check');
    check(/The record holds \d+ entries\./.test(await partner.page.innerText('main')), '"Check this record" says how many entries the record holds');
    await shootAtEachWidth(partner.page, 'journey-partner-check');

    // Staff answer a partner's dispute; the partner reads the answer.
    await staff.page.goto(base + '/home');
    const disputeForm = await staff.page.$eval('main a[href$="/answer-dispute"]', (a) => a.href).catch(() => null);
    check(disputeForm !== null, "staff's home page lists a dispute to answer");
    if (disputeForm) {
      const res = await keyboardForm(staff.page, disputeForm, (f) => (f.name === 'answer' ? 'We will test it with more people before the next version.' : f.name === 'participant_id' ? true : undefined));
      check(res.submitted && res.url.includes('/decisions/') && (await staff.page.innerText('main')).includes('Staff answered: We will test it'), `staff answer a dispute by keyboard (${res.url})`);
      await staff.page.screenshot({ path: path.join(shots, 'journey-staff-1280-dispute-answered.png'), fullPage: true });
    }

    // A trustee (an auditor) prints a project's report: dated, whole, no names.
    {
      const trustee = await signIn(browser, base, codes.auditor, WIDTHS.desktop);
      await trustee.page.goto(projectUrl + '/report');
      const text = await trustee.page.innerText('main');
      check(/This report was made from the record on \d{1,2} [A-Z][a-z]+ \d{4}/.test(text) && text.includes('You said, we did') && text.includes('Were decisions made jointly?'), 'a trustee opens a dated project report with the story, you said / we did, and jointness');
      await trustee.page.emulateMedia({ media: 'print' });
      const navShown = await trustee.page.$eval('nav', (n) => getComputedStyle(n).display !== 'none').catch(() => false);
      check(!navShown, 'the printed report leaves out the navigation');
      await trustee.page.pdf({ path: path.join(shots, 'trustee-report.pdf'), format: 'A4' });
      check(fs.statSync(path.join(shots, 'trustee-report.pdf')).size > 10000, 'the report prints to a PDF');
      await trustee.ctx.close();
    }

    // Staff make a sign-in card; the partner opens its link on a phone.
    {
      await staff.page.goto(projectUrl + '/cards');
      // A card for the partner whose own code the journey has, so that she can claim it later.
      const hers = await staff.page.$(`main form[action="/people/${partnerId}/card"] button`);
      check(hers !== null, "the project's cards page offers a card for the journey's partner");
      await Promise.all([staff.page.waitForNavigation(), (hers || await staff.page.$('main form button')).click()]);
      const link = (await staff.page.$eval('main .card code', (c) => c.innerText).catch(() => '')).trim();
      const qr = await staff.page.$('main .qr svg');
      check(link.includes('/sign-in/link/jll_') && qr !== null, `staff make a sign-in card with a QR code and a link (${link.replace(/jll_.*/, 'jll_...')})`);
      await staff.page.screenshot({ path: path.join(shots, 'journey-staff-1280-sign-in-card.png'), fullPage: true });
      const phone = await browser.newContext({ viewport: WIDTHS.phone, bypassCSP: true });
      const p = await phone.newPage();
      await p.goto(link);
      await Promise.all([p.waitForNavigation(), p.click('main form button')]);
      check(new URL(p.url()).pathname === '/home' && (await p.innerText('main')).includes('Your ideas'), `the card's link signs the partner in on their phone (${p.url()})`);
      // A card staff made says so, and its session asks the partner to show it is theirs.
      check((await p.innerText('header')).includes('with a sign-in card a member of staff made'), 'a session on a card staff made says so in the header');
      const homeProblems = await axe(p);
      check(homeProblems.length === 0, `the partner's home on a card staff made is accessible${homeProblems.length ? ': ' + homeProblems.join('; ') : ''}`);
      await p.screenshot({ path: path.join(shots, 'journey-partner-390-home-on-a-staff-card.png'), fullPage: true });
      await p.goto(base + '/me/equality');
      check((await p.innerText('main')).includes('Show this card is yours') && (await p.$$('input[type=radio]:checked')).length === 0, 'the equality answers are not shown on a card staff made; the page asks for the partner\'s own code');
      const claimProblems = await axe(p);
      check(claimProblems.length === 0, `the page that asks for the partner's own code is accessible${claimProblems.length ? ': ' + claimProblems.join('; ') : ''}`);
      await p.screenshot({ path: path.join(shots, 'journey-partner-390-show-this-card-is-yours.png'), fullPage: true });
      await p.fill('input[name=code]', codes.partner);
      await Promise.all([p.waitForNavigation(), p.press('input[name=code]', 'Enter')]);
      check((await p.innerText('main')).includes('this card is now shown to be yours'), 'the partner shows the card is theirs with their own code');
      await phone.close();
      // The partner, in her own session, sees the card in her list, who made it and when it was used.
      const own = await signIn(browser, base, codes.partner, WIDTHS.desktop);
      const listed = await own.page.innerText('main');
      check(/A sign-in card made for you by .+ on \d{1,2} [A-Z][a-z]+ \d{4} at \d\d:\d\d GMT\. First used on /.test(listed) && listed.includes('Stop this card'), "the partner's home lists the card, who made it, when, and its first use, with a button to stop it");
      await own.page.screenshot({ path: path.join(shots, 'journey-partner-1280-how-you-sign-in.png'), fullPage: true });
      await own.ctx.close();
    }

    // A partner withdraws an idea of theirs from their home page.
    {
      const second = `Withdrawn idea ${Date.now()}: a minibus.`;
      await keyboardForm(partner.page, projectUrl + '/propose', (f) => (f.name === 'text' ? second : undefined));
      await partner.page.goto(base + '/home');
      const withdraw = await partner.page.evaluate((t) => {
        const li = [...document.querySelectorAll('main li.item')].find((e) => e.innerText.includes(t));
        const a = li && [...li.querySelectorAll('a')].find((x) => x.innerText.startsWith('Withdraw your idea'));
        return a ? a.href : null;
      }, second);
      check(withdraw !== null, "the partner's waiting idea has 'Withdraw your idea' on their home page");
      if (withdraw) {
        const res = await keyboardForm(partner.page, withdraw, (f) => (f.name === 'reason' ? 'The council runs one already.' : undefined));
        check(res.submitted && res.url.endsWith('/home') && (await entryOf(partner.page, second)).includes('Withdrawn'), `the partner withdraws their idea by keyboard, and their home page says so (${res.url})`);
        await partner.page.screenshot({ path: path.join(shots, 'journey-partner-390-idea-withdrawn.png'), fullPage: true });
      }
    }

    // Staff print a card for every partner of the project on one page.
    {
      await staff.page.goto(projectUrl + '/cards');
      check(await pressButton(staff.page, (await staff.page.$eval('main form button', (b) => b.innerText.trim()).catch(() => 'none'))), 'staff press "Print a card for every partner" by keyboard');
      const cards = await staff.page.$$('main .card');
      check(cards.length >= 2 && (await staff.page.innerText('main')).includes('Sign in to jointly:'), `the project's cards are on one page, each naming its partner (${cards.length})`);
      const cardProblems = await axe(staff.page);
      check(cardProblems.length === 0, `the page of every partner's card is accessible${cardProblems.length ? ': ' + cardProblems.join('; ') : ''}`);
      await shootAtEachWidth(staff.page, 'journey-staff-every-partners-card');
      await staff.page.emulateMedia({ media: 'print' });
      await staff.page.pdf({ path: path.join(shots, 'staff-every-partners-card.pdf'), format: 'A4' });
      // As printed, on a page as wide as A4 (794 px at 96 dpi).
      const was = staff.page.viewportSize();
      await staff.page.setViewportSize({ width: 794, height: 1123 });
      await staff.page.screenshot({ path: path.join(shots, 'journey-staff-every-partners-card-printed.png'), fullPage: true });
      await staff.page.setViewportSize(was);
      await staff.page.emulateMedia({ media: 'screen' });
      check(fs.statSync(path.join(shots, 'staff-every-partners-card.pdf')).size > 10000, "every partner's card prints to a PDF");
    }

    // The session ends while a partner types; what they typed comes back.
    {
      const c = await signIn(browser, base, codes.partner, WIDTHS.phone);
      const words = 'Typed before my session ended: a lift at the new venue.';
      await c.page.goto(projectUrl + '/propose');
      await c.page.fill('textarea[name=text]', words);
      await c.ctx.clearCookies();
      await Promise.all([c.page.waitForNavigation(), c.page.click('main form button[type=submit]')]);
      check((await c.page.innerText('main')).includes('nothing has been recorded yet'), 'a form sent after the session ended goes to sign-in, saying nothing was recorded');
      await c.page.fill('input[name=code]', codes.partner);
      await Promise.all([c.page.waitForNavigation(), c.page.press('input[name=code]', 'Enter')]);
      await Promise.all([c.page.waitForNavigation(), c.page.click('main form button')]);
      const back = await c.page.$eval('textarea[name=text]', (t) => t.value).catch(() => '');
      check(back === words, `after signing in again, the idea typed before is back in its form (${back.slice(0, 60)})`);
      await c.page.screenshot({ path: path.join(shots, 'journey-partner-390-typed-text-offered-back.png'), fullPage: true });
      await c.ctx.close();
    }

    // A form post without the session's token is refused.
    const forged = await staff.page.request.post(projectUrl + '/meeting', { form: { csrf: 'forged', summary: 'Forged summary' }, maxRedirects: 0 });
    check(forged.status() === 403 && (await forged.text()).includes('nothing was sent'), 'a form without the session token records nothing (403) and offers back what was typed');
    const headers = (await staff.page.request.get(base + '/home')).headers();
    check((headers['content-security-policy'] || '').includes("frame-ancestors 'none'") && headers['x-content-type-options'] === 'nosniff', 'pages carry the security headers');

    // Last, since it locks this address out of signing in for a minute.
    {
      const c = await browser.newContext({ bypassCSP: true });
      const p = await c.newPage();
      let limited = false;
      // Up to 25: the minute that counts failures may roll over part way.
      for (let i = 0; i < 25 && !limited; i++) {
        await p.goto(base + '/sign-in');
        await p.fill('input[name=code]', `jly_wrong-${i}-xxxxxxxxxxxxxxxx`);
        await Promise.all([p.waitForNavigation(), p.press('input[name=code]', 'Enter')]);
        limited = (await p.innerText('main')).includes('Too many tries');
      }
      check(limited, `sign-in attempts are rate limited: ${(await p.innerText('main')).slice(0, 200)}`);
      await c.close();
    }
    // Nothing secret or personal in the server's own output.
    await new Promise((r) => setTimeout(r, 200));
    const leaked = [...Object.values(codes), idea, 'It was decided before we could all come.'].filter((x) => log.includes(x));
    check(leaked.length === 0, `the server's log holds no access code and no one's words${leaked.length ? ': ' + leaked.join(', ') : ''}`);
  } finally {
    await browser.close();
    // The server saves its model as it stops: wait for it to be gone
    // before taking its data directory away (up to 30 s).
    await new Promise((r) => {
      if (server.exitCode !== null || server.signalCode !== null) return r();
      server.once('exit', r);
      setTimeout(r, 30000);
      server.kill('SIGTERM');
    });
    fs.rmSync(data, { recursive: true, force: true });
  }
  console.log(failures === 0 ? 'web tests: all passed' : `web tests: ${failures} failed\n${log.slice(-2000)}`);
  process.exit(failures === 0 ? 0 : 1);
}

main().catch((e) => { console.log(`FAIL ${e.stack}`); process.exit(1); });
