// A phone of web apps for stepgym's Mobile-v0. All app state lives in S (read by phone.state());
// the screen (app, view, open menu/dialog, form fields) lives in U. Input comes as touch events:
// taps, long presses (>= 400 ms) and swipes are recognised here, so the gestures the env sends
// through Chromium's touch emulation are what drives every app.
"use strict";
(() => {
  const APPS = [
    { id: "contacts", name: "Contacts", color: "#1a73e8", glyph: "C" },
    { id: "messages", name: "Messages", color: "#0b8043", glyph: "M" },
    { id: "clock", name: "Clock", color: "#455a64", glyph: "◷" },
    { id: "notes", name: "Notes", color: "#f29900", glyph: "N" },
    { id: "settings", name: "Settings", color: "#5f6368", glyph: "⚙" },
  ];
  const COLORS = ["#e8710a", "#1e8e3e", "#d93025", "#9334e6", "#12b5cb", "#f439a0", "#1a73e8", "#795548"];
  const SETTINGS = [
    ["wifi", "Wi-Fi", "Network & internet"], ["airplane", "Airplane mode", null], ["bluetooth", "Bluetooth", "Connected devices"],
    ["location", "Location", "Privacy"], ["dnd", "Do Not Disturb", "Sound"], ["dark", "Dark theme", "Display"],
  ];
  let S = null, U = null, nextId = 1;
  const esc = (s) => String(s == null ? "" : s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  const pad = (n) => String(n).padStart(2, "0");
  const hm = (a) => `${pad(a.hour)}:${pad(a.minute)}`;
  const norm = (s) => String(s || "").trim().toLowerCase();
  const digits = (s) => String(s || "").replace(/[^0-9+]/g, "");
  const color = (s) => COLORS[[...String(s)].reduce((h, c) => h + c.charCodeAt(0), 0) % COLORS.length];

  function defaults() {
    return {
      contacts: [], threads: [], alarms: [], notes: [],
      settings: { wifi: true, airplane: false, bluetooth: false, location: true, dnd: false, dark: false, device_name: "Pixel" },
      about: { model: "Pixel 7", android: "14", build: "UQ1A.240105.004" },
    };
  }
  const contactById = (id) => S.contacts.find((c) => c.id === id);
  const displayName = (who) => { const c = S.contacts.find((c) => digits(c.phone) === digits(who) && digits(who)); return c ? c.name : who; };
  const sortedContacts = () => [...S.contacts].sort((a, b) => a.name.localeCompare(b.name));
  const sortedAlarms = () => [...S.alarms].sort((a, b) => a.hour * 60 + a.minute - (b.hour * 60 + b.minute));
  const sortedNotes = () => [...S.notes].sort((a, b) => (b.pinned ? 1 : 0) - (a.pinned ? 1 : 0));

  // -- navigation ----------------------------------------------------------------------------
  function go(app, view, arg = null, push = true) {
    if (push && U.app !== "home") U.stack.push({ app: U.app, view: U.view, arg: U.arg, form: U.form });
    Object.assign(U, { app, view, arg, form: {}, menu: null, dialog: null, error: null, focus: null });
  }
  function openApp(id) { U.stack = []; Object.assign(U, { app: "home" }); go(id, "list", null, false); }
  function back() {
    if (U.menu || U.dialog) { U.menu = U.dialog = null; return; }
    const prev = U.stack.pop();
    if (prev) Object.assign(U, prev, { menu: null, dialog: null, error: null, focus: null });
    else home();
  }
  function home() { U = { app: "home", view: "home", arg: null, form: {}, menu: null, dialog: null, error: null, focus: null, stack: [] }; }
  const field = (name, fallback = "") => (name in U.form ? U.form[name] : fallback);

  // -- actions (data-act on an element; arg in data-arg) --------------------------------------
  const ACTS = {
    open: (id) => openApp(id), back: () => back(), home: () => home(), recents: () => home(),
    newContact: () => go("contacts", "edit", null),
    openContact: (id) => go("contacts", "detail", +id),
    editContact: (id) => { const c = contactById(+id); go("contacts", "edit", +id); U.form = { name: c.name, phone: c.phone, email: c.email || "" }; },
    fav: (id) => { const c = contactById(+id); if (c) c.favorite = !c.favorite; },
    saveContact: () => {
      const name = field("name").trim(), phone = field("phone").trim(), email = field("email").trim();
      if (!name) { U.error = "Name is required"; return; }
      if (U.arg == null) S.contacts.push({ id: nextId++, name, phone, email, favorite: false });
      else Object.assign(contactById(U.arg), { name, phone, email });
      back();
    },
    contactMenu: (id) => { const c = contactById(+id); U.menu = { kind: "contact", id: +id, items: [[c.favorite ? "Unfavorite" : "Favorite", "favMenu"], ["Delete", "askDeleteContact"]] }; },
    favMenu: () => { ACTS.fav(U.menu.id); U.menu = null; },
    askDeleteContact: () => { const c = contactById(U.menu.id); U.dialog = { kind: "confirm", title: `Delete ${c.name}?`, ok: "Delete", act: "deleteContact", id: c.id }; U.menu = null; },
    deleteContact: () => { S.contacts = S.contacts.filter((c) => c.id !== U.dialog.id); U.dialog = null; },
    messageContact: (id) => { const c = contactById(+id); const t = threadFor(c.phone || c.name, true); go("messages", "thread", t.id); t.unread = 0; },
    openThread: (id) => { const t = S.threads.find((t) => t.id === +id); t.unread = 0; go("messages", "thread", +id); },
    newMessage: () => go("messages", "compose", null),
    send: () => {
      const body = field("body").trim();
      if (!body) { U.error = "Type a message first"; return; }
      let t;
      if (U.view === "compose") {
        const to = field("to").trim();
        if (!to) { U.error = "Add a recipient"; return; }
        const c = S.contacts.find((c) => norm(c.name) === norm(to));
        t = threadFor(c ? (c.phone || c.name) : to, true);
        U.view = "thread"; U.arg = t.id;
      } else t = S.threads.find((x) => x.id === U.arg);
      t.messages.push({ from: "me", text: body });
      S.threads = [t, ...S.threads.filter((x) => x !== t)];
      U.form = {}; U.error = null;
    },
    threadMenu: (id) => { U.menu = { kind: "thread", id: +id, items: [["Mark as read", "markRead"], ["Delete", "askDeleteThread"]] }; },
    markRead: () => { S.threads.find((t) => t.id === U.menu.id).unread = 0; U.menu = null; },
    askDeleteThread: () => { const t = S.threads.find((t) => t.id === U.menu.id); U.dialog = { kind: "confirm", title: `Delete conversation with ${displayName(t.with)}?`, ok: "Delete", act: "deleteThread", id: t.id }; U.menu = null; },
    deleteThread: () => { S.threads = S.threads.filter((t) => t.id !== U.dialog.id); U.dialog = null; },
    newAlarm: () => go("clock", "edit", null),
    editAlarm: (id) => { const a = S.alarms.find((a) => a.id === +id); go("clock", "edit", +id); U.form = { hour: pad(a.hour), minute: pad(a.minute), label: a.label }; },
    toggleAlarm: (id) => { const a = S.alarms.find((a) => a.id === +id); a.enabled = !a.enabled; },
    saveAlarm: () => {
      const h = field("hour").trim(), m = field("minute").trim(), label = field("label").trim();
      if (!/^\d{1,2}$/.test(h) || +h > 23 || !/^\d{1,2}$/.test(m) || +m > 59) { U.error = "Enter an hour 0-23 and a minute 0-59"; return; }
      if (U.arg == null) S.alarms.push({ id: nextId++, hour: +h, minute: +m, label, enabled: true });
      else Object.assign(S.alarms.find((a) => a.id === U.arg), { hour: +h, minute: +m, label });
      back();
    },
    alarmMenu: (id) => { U.menu = { kind: "alarm", id: +id, items: [["Delete", "deleteAlarm"]] }; },
    deleteAlarm: () => { S.alarms = S.alarms.filter((a) => a.id !== U.menu.id); U.menu = null; },
    newNote: () => go("notes", "edit", null),
    openNote: (id) => { const n = S.notes.find((n) => n.id === +id); go("notes", "edit", +id); U.form = { title: n.title, body: n.body }; },
    saveNote: () => {
      const title = field("title").trim(), body = field("body").trim();
      if (!title && !body) { U.error = "Empty note"; return; }
      if (U.arg == null) S.notes.push({ id: nextId++, title, body, pinned: false });
      else Object.assign(S.notes.find((n) => n.id === U.arg), { title, body });
      back();
    },
    pinTitle: () => { if (U.arg != null) { const n = S.notes.find((n) => n.id === U.arg); n.pinned = !n.pinned; } },
    noteMenu: (id) => { const n = S.notes.find((n) => n.id === +id); U.menu = { kind: "note", id: +id, items: [[n.pinned ? "Unpin" : "Pin", "pinNote"], ["Delete", "askDeleteNote"]] }; },
    pinNote: () => { const n = S.notes.find((n) => n.id === U.menu.id); n.pinned = !n.pinned; U.menu = null; },
    askDeleteNote: () => { const n = S.notes.find((n) => n.id === U.menu.id); U.dialog = { kind: "confirm", title: `Delete "${n.title}"?`, ok: "Delete", act: "deleteNote", id: n.id }; U.menu = null; },
    deleteNote: () => { S.notes = S.notes.filter((n) => n.id !== U.dialog.id); U.dialog = null; },
    toggle: (key) => { S.settings[key] = !S.settings[key]; },
    askName: () => { U.dialog = { kind: "name", title: "Device name", ok: "OK", act: "saveName" }; U.form = { device_name: S.settings.device_name }; },
    saveName: () => { const v = field("device_name").trim(); if (v) S.settings.device_name = v; U.dialog = null; U.form = {}; },
    about: () => go("settings", "about", null),
    dialogOk: () => ACTS[U.dialog.act](),
    dialogCancel: () => { if (U.dialog.kind === "name") U.form = {}; U.dialog = null; },
    closeMenu: () => { U.menu = null; },
  };
  function threadFor(who, create) {
    let t = S.threads.find((t) => digits(t.with) && digits(t.with) === digits(who) || norm(t.with) === norm(who) || norm(displayName(t.with)) === norm(who));
    if (!t && create) { t = { id: nextId++, with: who, messages: [], unread: 0 }; S.threads.unshift(t); }
    return t;
  }

  // -- rendering ----------------------------------------------------------------------------
  const attrs = (o) => Object.entries(o).filter(([, v]) => v != null && v !== false).map(([k, v]) => ` ${k}="${esc(v)}"`).join("");
  const ui = (cls, o, inner, tag = "div") => `<${tag}${attrs({ "data-c": cls, ...o })}>${inner}</${tag}>`;
  const appbar = (title, extra = "") => `<div class="appbar">${ui("ImageButton", { class: "ib", "aria-label": "Navigate up", "data-act": "back", "data-key": "up" }, "←")}<h1>${esc(title)}</h1>${extra}</div>`;
  const fab = (act, label) => ui("ImageButton", { class: "fab", "aria-label": label, "data-act": act, "data-key": "fab" }, "+");
  const input = (name, label, value, extra = {}) => `<label>${esc(label)}</label>` + ui("EditText", { name, "data-key": `field:${name}`, "aria-label": label, value, autocomplete: "off", ...extra }, "", "input").replace("></input>", ">");
  const btn = (text, act, key, cls = "btn") => ui("Button", { class: cls, "data-act": act, "data-key": key }, esc(text));
  const err = () => (U.error ? `<div class="error">${esc(U.error)}</div>` : "");
  const avatar = (name) => `<div class="avatar" style="background:${color(name)}">${esc((name || "?")[0].toUpperCase())}</div>`;

  const VIEWS = {
    home: () => `<div class="home"><div class="widget"><div class="big">12:30</div><div class="date">Friday, 27 November</div></div><div class="grid">${APPS.map((a) => ui("TextView", { class: "icon", "data-act": "open", "data-arg": a.id, "aria-label": a.name, "data-key": `app:${a.id}`, "data-text": a.name }, `<div class="glyph" style="background:${a.color}">${a.glyph}</div><span>${a.name}</span>`)).join("")}</div></div>`,
    "contacts/list": () => appbar("Contacts") + `<div class="scroll">${S.contacts.length ? "" : '<div class="empty">No contacts</div>'}${sortedContacts().map((c) => ui("TextView", { class: "row", "data-act": "openContact", "data-arg": c.id, "data-long": "contactMenu", "data-key": `contact:${c.name}`, "data-text": c.name + (c.favorite ? " ★" : "") }, avatar(c.name) + `<div class="main"><div class="t">${esc(c.name)}${c.favorite ? ' <span class="pin">★</span>' : ""}</div></div>`)).join("")}</div>` + fab("newContact", "Create contact"),
    "contacts/detail": () => {
      const c = contactById(U.arg);
      if (!c) return appbar("Contact") + '<div class="empty">Contact deleted</div>';
      return appbar("", ui("ImageButton", { class: "ib", "aria-label": c.favorite ? "Remove from favorites" : "Add to favorites", "data-act": "fav", "data-arg": c.id, "data-key": "fav", "aria-checked": String(!!c.favorite) }, c.favorite ? "★" : "☆") + ui("ImageButton", { class: "ib", "aria-label": "Edit contact", "data-act": "editContact", "data-arg": c.id, "data-key": "edit" }, "✎"))
        + `<div class="scroll"><div class="detail">${avatar(c.name)}${ui("TextView", { class: "name" }, esc(c.name))}<div class="actions">${btn("Message", "messageContact", "message")}</div>`
        + `<div class="field">${ui("TextView", {}, esc(c.phone || "No phone"))}<div class="s">Mobile</div></div><div class="field">${ui("TextView", {}, esc(c.email || "No email"))}<div class="s">Email</div></div></div></div>`.replace('data-act="messageContact"', `data-act="messageContact" data-arg="${c.id}"`);
    },
    "contacts/edit": () => appbar(U.arg == null ? "Create contact" : "Edit contact", btn("Save", "saveContact", "save", "btn flat"))
      + `<div class="scroll"><div class="form">${input("name", "Name", field("name"))}${input("phone", "Phone", field("phone"), { inputmode: "tel" })}${input("email", "Email", field("email"))}${err()}</div></div>`,
    "messages/list": () => appbar("Messages") + `<div class="scroll">${S.threads.length ? "" : '<div class="empty">No conversations</div>'}${S.threads.map((t) => { const last = t.messages[t.messages.length - 1]; const n = displayName(t.with); return ui("TextView", { class: "row" + (t.unread ? " unread" : ""), "data-act": "openThread", "data-arg": t.id, "data-long": "threadMenu", "data-key": `thread:${n}`, "data-text": `${n}${t.unread ? ` (${t.unread} unread)` : ""}: ${last ? (last.from === "me" ? "You: " : "") + last.text : ""}` }, avatar(n) + `<div class="main"><div class="t">${esc(n)}${t.unread ? ` (${t.unread})` : ""}</div><div class="s">${esc(last ? (last.from === "me" ? "You: " : "") + last.text : "")}</div></div>`); }).join("")}</div>` + fab("newMessage", "Start chat"),
    "messages/thread": () => {
      const t = S.threads.find((t) => t.id === U.arg);
      if (!t) return appbar("Messages") + '<div class="empty">Conversation deleted</div>';
      return appbar(displayName(t.with)) + `<div class="scroll" data-stick="bottom"><div class="bubbles">${t.messages.map((m) => ui("TextView", { class: "bubble " + m.from }, esc(m.text))).join("")}</div></div>`
        + `${err()}<div class="composer">${ui("EditText", { name: "body", "data-key": "field:body", "aria-label": "Text message", placeholder: "Text message", value: field("body"), "data-enter": "send" }, "", "input").replace("></input>", ">")}${btn("Send", "send", "send")}</div>`;
    },
    "messages/compose": () => appbar("New conversation") + `<div class="scroll"><div class="form">${input("to", "To (name or number)", field("to"))}${err()}</div></div>`
      + `<div class="composer">${ui("EditText", { name: "body", "data-key": "field:body", "aria-label": "Text message", placeholder: "Text message", value: field("body"), "data-enter": "send" }, "", "input").replace("></input>", ">")}${btn("Send", "send", "send")}</div>`,
    "clock/list": () => appbar("Alarms") + `<div class="scroll">${S.alarms.length ? "" : '<div class="empty">No alarms</div>'}${sortedAlarms().map((a) => ui("TextView", { class: "row alarm" + (a.enabled ? "" : " off"), "data-act": "editAlarm", "data-arg": a.id, "data-long": "alarmMenu", "data-key": `alarm:${hm(a)}`, "data-text": `${hm(a)} ${a.label || "Alarm"}` }, `<div class="main"><div class="time">${hm(a)}</div><div class="s">${esc(a.label || "Alarm")}</div></div>` + ui("Switch", { class: "switch" + (a.enabled ? " on" : ""), "data-act": "toggleAlarm", "data-arg": a.id, "data-key": `switch:${hm(a)}`, "aria-label": `Alarm ${hm(a)} ${a.enabled ? "on" : "off"}`, "aria-checked": String(!!a.enabled), role: "switch" }, ""))).join("")}</div>` + fab("newAlarm", "Add alarm"),
    "clock/edit": () => appbar(U.arg == null ? "New alarm" : "Edit alarm", btn("Save", "saveAlarm", "save", "btn flat"))
      + `<div class="scroll"><div class="form">${input("hour", "Hour (0-23)", field("hour"), { inputmode: "numeric" })}${input("minute", "Minute (0-59)", field("minute"), { inputmode: "numeric" })}${input("label", "Label", field("label"))}${err()}</div></div>`,
    "notes/list": () => appbar("Notes") + `<div class="scroll">${S.notes.length ? "" : '<div class="empty">No notes</div>'}${sortedNotes().map((n) => ui("TextView", { class: "row", "data-act": "openNote", "data-arg": n.id, "data-long": "noteMenu", "data-key": `note:${n.title}`, "data-text": `${n.title || "(untitled)"}${n.pinned ? " (pinned)" : ""}: ${n.body}` }, `<div class="main"><div class="t">${esc(n.title || "(untitled)")}${n.pinned ? ' <span class="pin">• pinned</span>' : ""}</div><div class="s">${esc(n.body)}</div></div>`)).join("")}</div>` + fab("newNote", "New note"),
    "notes/edit": () => appbar(U.arg == null ? "New note" : "Edit note", btn("Save", "saveNote", "save", "btn flat"))
      + `<div class="scroll"><div class="form">${ui("TextView", { class: "s", "data-dbl": "pinTitle", "data-key": "pinhint" }, U.arg != null && S.notes.find((n) => n.id === U.arg).pinned ? "Pinned (double-tap to unpin)" : "Double-tap here to pin")}${input("title", "Title", field("title"))}${input("body", "Note", field("body"))}${err()}</div></div>`,
    "settings/list": () => appbar("Settings") + `<div class="scroll">${SETTINGS.map(([k, label, header]) => (header ? `<div class="header">${header}</div>` : "") + ui("Switch", { class: "row", "data-act": "toggle", "data-arg": k, "data-key": `switch:${k}`, "aria-label": label, "aria-checked": String(!!S.settings[k]), role: "switch" }, `<div class="main"><div class="t">${label}</div><div class="s">${S.settings[k] ? "On" : "Off"}</div></div><div class="switch${S.settings[k] ? " on" : ""}"></div>`)).join("")}`
      + `<div class="header">System</div>${ui("TextView", { class: "row", "data-act": "askName", "data-key": "row:device_name" }, `<div class="main"><div class="t">Device name</div><div class="s">${esc(S.settings.device_name)}</div></div>`)}`
      + `<div class="row"><div class="main"><div class="t">Battery</div><div class="s">87% - about 1 day left</div></div></div><div class="row"><div class="main"><div class="t">Storage</div><div class="s">41.2 GB used of 128 GB</div></div></div>`
      + `${ui("TextView", { class: "row", "data-act": "about", "data-key": "row:about" }, '<div class="main"><div class="t">About phone</div><div class="s">Model, Android version</div></div>')}</div>`,
    "settings/about": () => appbar("About phone") + `<div class="scroll">${[["Device name", S.settings.device_name], ["Model", S.about.model], ["Android version", S.about.android], ["Build number", S.about.build]].map(([k, v]) => `<div class="row"><div class="main">${ui("TextView", { class: "t" }, esc(k))}${ui("TextView", { class: "s" }, esc(v))}</div></div>`).join("")}</div>`,
  };

  function overlay() {
    if (U.menu) return `<div class="scrim" data-act="closeMenu"></div><div class="menu" style="top:${U.menu.y || 200}px">${U.menu.items.map(([t, a]) => ui("TextView", { "data-act": a, "data-key": `menu:${t}`, role: "menuitem" }, esc(t))).join("")}</div>`;
    if (U.dialog) {
      const d = U.dialog;
      const body = d.kind === "name" ? ui("EditText", { name: "device_name", "data-key": "field:device_name", "aria-label": "Device name", value: field("device_name"), "data-enter": "dialogOk" }, "", "input").replace("></input>", ">") : "";
      return `<div class="scrim"><div class="dialog">${ui("TextView", {}, `<h2>${esc(d.title)}</h2>`)}${body}<div class="buttons">${btn("Cancel", "dialogCancel", "dialog:Cancel", "btn flat")}${btn(d.ok, "dialogOk", `dialog:${d.ok}`, "btn flat")}</div></div></div>`;
    }
    return "";
  }

  const scrolls = {};
  function render() {
    const screen = document.getElementById("screen");
    const old = screen.querySelector(".scroll");
    if (old && U.lastView) scrolls[U.lastView] = old.scrollTop;
    const key = U.app === "home" ? "home" : `${U.app}/${U.view}`;
    screen.innerHTML = VIEWS[key]() + overlay();
    const sc = screen.querySelector(".scroll");
    if (sc) sc.scrollTop = sc.dataset.stick === "bottom" ? sc.scrollHeight : (scrolls[key + ":" + U.arg] || 0);
    U.lastView = key + ":" + U.arg;
    const s = S.settings;
    document.body.classList.toggle("dark", !!s.dark);
    document.getElementById("status").innerHTML = `<span>12:30</span><span class="icons">${s.dnd ? "<span>⊖</span>" : ""}${s.location ? "<span>◎</span>" : ""}${s.bluetooth ? "<span>ᛒ</span>" : ""}${s.airplane ? "<span>✈</span>" : s.wifi ? "<span>◥</span>" : ""}<span>87%</span></span>`;
    document.getElementById("nav").innerHTML = ui("ImageButton", { "data-act": "back", "aria-label": "Back", "data-key": "nav:back" }, "◀") + ui("ImageButton", { "data-act": "home", "aria-label": "Home", "data-key": "nav:home" }, "●") + ui("ImageButton", { "data-act": "recents", "aria-label": "Overview", "data-key": "nav:recents" }, "■");
    if (U.focus) { const f = document.querySelector(`[data-key="${U.focus}"]`); if (f) f.focus(); }
  }
  function run(act, arg) { if (ACTS[act]) { ACTS[act](arg); render(); } }

  // -- gestures -----------------------------------------------------------------------------
  let touch = null, lastTap = null;
  function tap(target) {
    const inp = target.closest("input");
    if (inp) { inp.focus(); U.focus = inp.dataset.key; return; }
    if (document.activeElement && document.activeElement.tagName === "INPUT") document.activeElement.blur();
    U.focus = null;
    const dbl = target.closest("[data-dbl]"), now = Date.now();
    if (dbl && lastTap && lastTap.el === dbl.dataset.key && now - lastTap.t < 350) { lastTap = null; run(dbl.dataset.dbl); return; }
    lastTap = dbl ? { el: dbl.dataset.key, t: now } : null;
    const a = target.closest("[data-act]");
    if (a) run(a.dataset.act, a.dataset.arg);
  }
  document.addEventListener("touchstart", (e) => {
    e.preventDefault();  // no synthesized mouse events, no native panning: this file decides
    const t = e.touches[0], sc = e.target.closest(".scroll");
    touch = { x0: t.clientX, y0: t.clientY, target: e.target, sc, st: sc ? sc.scrollTop : 0, moved: false, long: false };
    const cur = touch;
    cur.timer = setTimeout(() => {
      if (touch !== cur || cur.moved) return;
      cur.long = true;
      const l = cur.target.closest("[data-long]");
      if (l) { run(l.dataset.long, l.dataset.arg); if (U.menu) { U.menu.y = Math.min(Math.max(cur.y0 - 20, 40), window.innerHeight - 200); render(); } }
    }, 400);
  }, { passive: false });
  document.addEventListener("touchmove", (e) => {
    if (!touch) return;
    e.preventDefault();
    const t = e.touches[0];
    if (Math.hypot(t.clientX - touch.x0, t.clientY - touch.y0) > 10) touch.moved = true;
    if (touch.sc) touch.sc.scrollTop = touch.st - (t.clientY - touch.y0);
  }, { passive: false });
  document.addEventListener("touchend", (e) => {
    e.preventDefault();
    const t = touch; touch = null;
    if (!t) return;
    clearTimeout(t.timer);
    if (!t.moved && !t.long) tap(t.target);
  }, { passive: false });
  document.addEventListener("click", (e) => tap(e.target));  // mouse users (debugging in a desktop browser)
  document.addEventListener("input", (e) => { if (e.target.name) U.form[e.target.name] = e.target.value; });
  document.addEventListener("keydown", (e) => {
    if (e.key !== "Enter") return;
    const el = document.activeElement;
    if (el && el.dataset && el.dataset.enter) { e.preventDefault(); run(el.dataset.enter); }
  });

  // -- the env's view -----------------------------------------------------------------------
  function elements() {
    const vw = window.innerWidth, vh = window.innerHeight, out = [];
    for (const el of document.querySelectorAll("[data-c]")) {
      const r = el.getBoundingClientRect();
      let l = Math.max(r.left, 0), t = Math.max(r.top, 0), rr = Math.min(r.right, vw), b = Math.min(r.bottom, vh);
      const sc = el.closest(".scroll");
      if (sc) { const s = sc.getBoundingClientRect(); t = Math.max(t, s.top); b = Math.min(b, s.bottom); }
      if (rr - l < 2 || b - t < 2) continue;
      const cx = (l + rr) / 2, cy = (t + b) / 2, hit = document.elementFromPoint(cx, cy);
      if (!hit || !(el === hit || el.contains(hit))) continue;
      const editable = el.tagName === "INPUT";
      out.push({
        index: out.length, text: editable ? el.value : (el.dataset.text != null ? el.dataset.text : el.textContent.replace(/\s+/g, " ").trim()),
        content_description: el.getAttribute("aria-label") || (editable ? el.getAttribute("placeholder") || "" : ""),
        class_name: "android.widget." + el.dataset.c, bounds: [Math.round(l), Math.round(t), Math.round(rr), Math.round(b)],
        clickable: !!(el.dataset.act || editable || el.dataset.dbl), long_clickable: !!el.dataset.long,
        checkable: el.hasAttribute("aria-checked"), checked: el.hasAttribute("aria-checked") ? el.getAttribute("aria-checked") === "true" : null,
        editable, focused: document.activeElement === el, scrollable: false, key: el.dataset.key || null,
      });
    }
    return out;
  }
  function find(key) {
    const els = elements(), hit = els.find((e) => e.key === key);
    if (hit) return { index: hit.index };
    const el = document.querySelector(`[data-key="${CSS.escape(key)}"]`), sc = el && el.closest(".scroll");
    if (!sc) return null;
    const r = el.getBoundingClientRect(), s = sc.getBoundingClientRect();
    return { scroll: r.top < s.top ? "up" : "down", x: Math.round((s.left + s.right) / 2), y: Math.round((s.top + s.bottom) / 2) };
  }
  function screenInfo() {
    return { app: U.app, view: U.view, arg: U.arg, menu: U.menu ? U.menu.kind : null, dialog: U.dialog ? U.dialog.kind : null, form: U.form, error: U.error };
  }
  window.phone = {
    apps: APPS.map((a) => ({ id: a.id, name: a.name })),
    setup(state) {
      S = Object.assign(defaults(), JSON.parse(JSON.stringify(state || {})));
      S.settings = Object.assign(defaults().settings, (state || {}).settings || {});
      nextId = 1 + Math.max(0, ...[S.contacts, S.threads, S.alarms, S.notes].flat().map((x) => x.id || 0));
      home(); render(); return true;
    },
    state: () => S,
    screen: screenInfo,
    elements,
    find,
    snapshot: () => ({ state: S, screen: screenInfo(), elements: elements() }),
    openApp(name) { const a = APPS.find((a) => norm(a.name) === norm(name) || a.id === norm(name)); if (!a) return false; openApp(a.id); render(); return true; },
    home() { home(); render(); },
    back() { back(); render(); },
  };
})();
