// stepgym desktop: a window manager, a taskbar and five apps whose state lives in `S`.
// The env reads `desktop.state()` (evaluators, state_key) and drives setup with `desktop.config()`.
// Nothing here reads clocks or random numbers: the same actions give the same state.
(function () {
  "use strict";
  const APPS = {
    files: { title: "Files", icon: "files", x: 150, y: 40, w: 760, h: 470 },
    editor: { title: "Text Editor", icon: "editor", x: 230, y: 70, w: 720, h: 480 },
    sheet: { title: "Spreadsheet", icon: "sheet", x: 170, y: 50, w: 840, h: 520 },
    mail: { title: "Mail", icon: "mail", x: 130, y: 36, w: 940, h: 540 },
    settings: { title: "Settings", icon: "settings", x: 260, y: 80, w: 740, h: 470 },
  };
  const ORDER = ["files", "editor", "sheet", "mail", "settings"];
  const HOME = "/home/user";
  const ROWS = 15, COLS = window.SheetFormula.COLS;
  const WALLPAPERS = ["mountains", "sunset", "forest", "plain"];

  const S = {
    fs: {}, windows: [], focus: null, menu: null, clock: "09:41",
    files: { cwd: HOME, selected: null, dialog: null },
    editor: { path: null, text: "", saved: "", dialog: null, menu: null },
    sheet: { path: null, cells: {}, sel: "A1", edit: null, dialog: null },
    settings: { page: "appearance", theme: "light", wallpaper: "mountains", fontSize: "medium", wifi: true,
                bluetooth: false, airplane: false, volume: 50, dnd: false, username: "User", usernameDraft: null },
    mail: { folder: "inbox", messages: [], open: null, compose: null, nextId: 1 },
  };

  // ---------- virtual file system ------------------------------------------------------------
  const parent = (p) => p.slice(0, p.lastIndexOf("/")) || "/";
  const base = (p) => p.slice(p.lastIndexOf("/") + 1);
  const norm = (p) => { p = String(p || "").trim(); if (!p.startsWith("/")) p = HOME + "/" + p; return p.replace(/\/+$/, "") || "/"; };
  function mkdirs(p) { p = norm(p); const parts = p.split("/").filter(Boolean); let cur = ""; for (const x of parts) { cur += "/" + x; if (!S.fs[cur]) S.fs[cur] = { type: "dir" }; } }
  function writeFile(p, content) { p = norm(p); mkdirs(parent(p)); S.fs[p] = { type: "file", content: String(content) }; }
  function children(dir) { return Object.keys(S.fs).filter((p) => p !== dir && parent(p) === dir && !base(p).startsWith(".")).sort((a, b) => (S.fs[a].type === S.fs[b].type ? a.localeCompare(b) : S.fs[a].type === "dir" ? -1 : 1)); }
  function movePath(src, dstDir) {
    const dst = dstDir + "/" + base(src);
    if (src === dstDir || dstDir.startsWith(src + "/") || S.fs[dst]) return false;
    for (const p of Object.keys(S.fs)) if (p === src || p.startsWith(src + "/")) { S.fs[dst + p.slice(src.length)] = S.fs[p]; delete S.fs[p]; }
    return true;
  }
  function removePath(src) { for (const p of Object.keys(S.fs)) if (p === src || p.startsWith(src + "/")) delete S.fs[p]; }
  function uniqueIn(dir, name) { let n = name, i = 2; while (S.fs[dir + "/" + n]) n = `${name} ${i++}`; return n; }

  // ---------- window manager -----------------------------------------------------------------
  const win = (app) => S.windows.find((w) => w.app === app);
  function launch(app) {
    if (!APPS[app]) throw new Error("unknown app " + app);
    let w = win(app);
    if (!w) { const a = APPS[app]; w = { app, x: a.x, y: a.y, w: a.w, h: a.h, min: false, max: false }; S.windows.push(w); }
    w.min = false; focusWin(app); S.menu = null;
  }
  function focusWin(app) { const w = win(app); if (!w) return; S.windows = S.windows.filter((x) => x !== w).concat([w]); S.focus = app; }
  function closeWin(app) { S.windows = S.windows.filter((w) => w.app !== app); const top = S.windows.filter((w) => !w.min).pop(); S.focus = top ? top.app : null; if (app === "editor") Object.assign(S.editor, { path: null, text: "", saved: "", dialog: null }); }
  function openPath(p) {
    const node = S.fs[p]; if (!node) return;
    if (node.type === "dir") { launch("files"); S.files.cwd = p; S.files.selected = null; return; }
    if (p.endsWith(".csv")) { loadSheet(p); launch("sheet"); return; }
    S.editor.path = p; S.editor.text = S.editor.saved = node.content; S.editor.dialog = null; launch("editor");
  }

  // ---------- spreadsheet model --------------------------------------------------------------
  function cellValue(ref, depth) {
    const raw = S.sheet.cells[ref]; if (raw === undefined || raw === "") return "";
    if (!String(raw).startsWith("=")) { const n = Number(raw); return raw.trim() !== "" && !isNaN(n) ? n : raw; }
    if ((depth || 0) > 40) return "#REF!";
    try { return window.SheetFormula.evaluate(String(raw), (r) => { const v = cellValue(r, (depth || 0) + 1); if (typeof v === "string" && v.startsWith("#")) throw new Error(v); return v; }); }
    catch (e) { return "#ERR"; }
  }
  function loadSheet(p) {
    S.sheet.cells = {}; S.sheet.path = p; S.sheet.sel = "A1"; S.sheet.edit = null;
    const lines = (S.fs[p] && S.fs[p].content || "").split("\n").filter((l) => l.length);
    lines.slice(0, ROWS).forEach((line, r) => line.split(",").slice(0, COLS.length).forEach((v, c) => { if (v !== "") S.sheet.cells[COLS[c] + (r + 1)] = v; }));
  }
  function sheetCsv() {
    let last = 0, lastC = 0;
    for (const ref of Object.keys(S.sheet.cells)) if (S.sheet.cells[ref] !== "") { last = Math.max(last, +ref.slice(1)); lastC = Math.max(lastC, COLS.indexOf(ref[0]) + 1); }
    const out = [];
    for (let r = 1; r <= last; r++) { const row = []; for (let c = 0; c < lastC; c++) row.push(String(cellValue(COLS[c] + r))); out.push(row.join(",")); }
    return out.join("\n") + (out.length ? "\n" : "");
  }
  function moveSel(dc, dr) { const c = COLS.indexOf(S.sheet.sel[0]), r = +S.sheet.sel.slice(1); S.sheet.sel = COLS[Math.min(COLS.length - 1, Math.max(0, c + dc))] + Math.min(ROWS, Math.max(1, r + dr)); }
  function commitEdit() { if (S.sheet.edit !== null) { S.sheet.cells[S.sheet.sel] = S.sheet.edit; if (S.sheet.edit === "") delete S.sheet.cells[S.sheet.sel]; S.sheet.edit = null; } }

  // ---------- mail model ---------------------------------------------------------------------
  function addMessage(m) { const msg = Object.assign({ folder: "inbox", from: "", to: "user@desk.local", subject: "", body: "", read: false, starred: false }, m, { id: S.mail.nextId++ }); S.mail.messages.push(msg); return msg; }
  const msgById = (id) => S.mail.messages.find((m) => m.id === id);

  // ---------- icons (inline SVG: no network, no emoji font needed) ----------------------------
  const ICON = {
    files: '<svg viewBox="0 0 48 48"><rect x="3" y="8" width="42" height="34" rx="5" fill="#f4b942"/><path d="M3 14h42v24a4 4 0 0 1-4 4H7a4 4 0 0 1-4-4z" fill="#ffd36b"/><rect x="3" y="8" width="18" height="8" rx="3" fill="#e9a92c"/></svg>',
    editor: '<svg viewBox="0 0 48 48"><rect x="8" y="4" width="32" height="40" rx="4" fill="#fff" stroke="#5b7bd5" stroke-width="2.5"/><path d="M14 14h20M14 21h20M14 28h14" stroke="#5b7bd5" stroke-width="3" stroke-linecap="round"/><path d="M30 38l10-14 4 3-10 14-5 1z" fill="#ef6c5a"/></svg>',
    sheet: '<svg viewBox="0 0 48 48"><rect x="5" y="5" width="38" height="38" rx="5" fill="#1f9d55"/><path d="M12 16h24M12 24h24M12 32h24M21 12v26M30 12v26" stroke="#e8fff1" stroke-width="2.2"/></svg>',
    mail: '<svg viewBox="0 0 48 48"><rect x="4" y="10" width="40" height="28" rx="4" fill="#3b82f6"/><path d="M6 13l18 14 18-14" stroke="#fff" stroke-width="3" fill="none" stroke-linejoin="round"/></svg>',
    settings: '<svg viewBox="0 0 48 48"><circle cx="24" cy="24" r="19" fill="#6b7280"/><circle cx="24" cy="24" r="11" fill="none" stroke="#f3f4f6" stroke-width="5" stroke-dasharray="6 3.3"/><circle cx="24" cy="24" r="5" fill="#f3f4f6"/></svg>',
    folder: '<svg viewBox="0 0 48 48"><path d="M4 12a4 4 0 0 1 4-4h11l4 5h17a4 4 0 0 1 4 4v21a4 4 0 0 1-4 4H8a4 4 0 0 1-4-4z" fill="#f4b942"/><path d="M4 18h40v20a4 4 0 0 1-4 4H8a4 4 0 0 1-4-4z" fill="#ffd36b"/></svg>',
    file: '<svg viewBox="0 0 48 48"><path d="M10 4h20l10 10v30H10z" fill="#fff" stroke="#94a3b8" stroke-width="2"/><path d="M30 4v10h10" fill="#e2e8f0" stroke="#94a3b8" stroke-width="2"/><path d="M16 22h16M16 28h16M16 34h10" stroke="#94a3b8" stroke-width="2"/></svg>',
    csv: '<svg viewBox="0 0 48 48"><path d="M10 4h20l10 10v30H10z" fill="#e9fbe9" stroke="#1f9d55" stroke-width="2"/><path d="M16 22h16M16 29h16M16 36h16M24 18v22" stroke="#1f9d55" stroke-width="2"/></svg>',
    trash: '<svg viewBox="0 0 48 48"><path d="M12 14h24l-2 28H14z" fill="#cbd5e1" stroke="#64748b" stroke-width="2"/><rect x="9" y="9" width="30" height="5" rx="2" fill="#64748b"/></svg>',
  };
  const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
  const fileIcon = (p) => S.fs[p].type === "dir" ? (p === "/trash" ? ICON.trash : ICON.folder) : p.endsWith(".csv") ? ICON.csv : ICON.file;

  // ---------- rendering --------------------------------------------------------------------
  function renderDesktop() {
    document.body.className = `theme-${S.settings.theme} wall-${S.settings.wallpaper} font-${S.settings.fontSize}`;
    const icons = ORDER.map((a) => `<div class="dicon" role="button" data-k="icon-${a}" data-act="launch" data-app="${a}" tabindex="-1">${ICON[APPS[a].icon]}<span>${APPS[a].title}</span></div>`);
    icons.push(`<div class="dicon" role="button" data-k="icon-trash" data-act="open-path" data-path="/trash" tabindex="-1">${ICON.trash}<span>Trash</span></div>`);
    setHTML(document.getElementById("desktop"), icons.join(""));
  }
  function renderTaskbar() {
    const btns = S.windows.slice().sort((a, b) => ORDER.indexOf(a.app) - ORDER.indexOf(b.app)).map((w) =>
      `<button class="tb-app${S.focus === w.app && !w.min ? " active" : ""}" data-k="task-${w.app}" data-act="task" data-app="${w.app}">${ICON[APPS[w.app].icon]}<span>${APPS[w.app].title}</span></button>`).join("");
    const tray = `${S.settings.wifi && !S.settings.airplane ? "Wi-Fi" : "Offline"}${S.settings.dnd ? " · DND" : ""} · Vol ${S.settings.volume}%`;
    setHTML(document.getElementById("taskbar"), `<button class="start" data-k="start" data-act="start" aria-label="Start"><svg viewBox="0 0 20 20"><rect x="1" y="1" width="8" height="8" rx="1.5"/><rect x="11" y="1" width="8" height="8" rx="1.5"/><rect x="1" y="11" width="8" height="8" rx="1.5"/><rect x="11" y="11" width="8" height="8" rx="1.5"/></svg></button><div class="tb-apps">${btns}</div><div class="tray" data-k="tray">${tray}</div><div class="clock">${S.clock}</div>`);
  }
  function renderOverlay() {
    const m = S.menu; let html = "";
    if (m && m.kind === "start") {
      html = `<div class="menu start-menu" style="left:6px;bottom:50px" data-k="start-menu"><div class="menu-head">${esc(S.settings.username)}</div>` +
        ORDER.map((a) => `<div class="menu-item" role="menuitem" data-k="start-${a}" data-act="launch" data-app="${a}">${ICON[APPS[a].icon]}${APPS[a].title}</div>`).join("") + "</div>";
    } else if (m && m.kind === "files-ctx") {
      const items = [["open", "Open"], ["rename", "Rename"], ["delete", "Move to Trash"]];
      html = `<div class="menu" style="left:${m.x}px;top:${m.y}px" data-k="ctx-menu">` + items.map(([k, t]) => `<div class="menu-item" role="menuitem" data-k="ctx-${k}" data-act="ctx" data-cmd="${k}">${t}</div>`).join("") + "</div>";
    }
    setHTML(document.getElementById("overlay"), html);
  }
  function dialog(app, d, title, label) {
    return `<div class="modal-back"><div class="modal" data-k="${app}-dialog"><div class="modal-title">${title}</div><label>${label}<input data-k="${app}-dialog-input" data-field="${app}.dialog.value" value="${esc(d.value)}" autocomplete="off"></label>` +
      `<div class="modal-btns"><button data-k="${app}-dialog-cancel" data-act="dialog-cancel" data-app="${app}">Cancel</button><button class="primary" data-k="${app}-dialog-ok" data-act="dialog-ok" data-app="${app}">OK</button></div></div></div>`;
  }
  function renderFiles() {
    const f = S.files, places = [["Home", HOME], ["Documents", HOME + "/Documents"], ["Downloads", HOME + "/Downloads"], ["Pictures", HOME + "/Pictures"], ["Trash", "/trash"]];
    const side = places.map(([t, p]) => `<div class="place${f.cwd === p ? " on" : ""}" role="treeitem" data-k="place-${t.toLowerCase()}" data-act="cd" data-path="${p}" data-drop="${p}">${fileIcon(p)}${t}</div>`).join("");
    const items = children(f.cwd).map((p) => `<div class="fitem${f.selected === p ? " sel" : ""}" role="listitem" data-k="file-${esc(base(p))}" data-act="fsel" data-path="${esc(p)}" data-drag="${esc(p)}"${S.fs[p].type === "dir" ? ` data-drop="${esc(p)}"` : ""}>${fileIcon(p)}<span>${esc(base(p))}</span></div>`).join("");
    const shown = f.cwd.startsWith(HOME) ? "Home" + f.cwd.slice(HOME.length) : f.cwd;
    return `<div class="toolbar"><button data-k="files-up" data-act="up" aria-label="Up">&#8593;</button><div class="pathbar" data-k="files-path">${esc(shown)}</div>` +
      `<button data-k="files-newfolder" data-act="newfolder">New Folder</button><button data-k="files-newfile" data-act="newfile">New File</button><button data-k="files-rename" data-act="rename">Rename</button><button data-k="files-delete" data-act="delete">Delete</button></div>` +
      `<div class="files-body"><div class="sidebar">${side}</div><div class="fgrid" data-k="files-grid" data-act="fgrid">${items || '<div class="empty">This folder is empty</div>'}</div></div>` +
      `<div class="statusbar">${children(f.cwd).length} items${f.selected ? " · selected: " + esc(base(f.selected)) : ""}</div>` + (f.dialog ? dialog("files", f.dialog, f.dialog.title, "Name") : "");
  }
  function renderEditor() {
    const e = S.editor, m = e.menu;
    const menus = { file: [["new", "New"], ["open", "Open…"], ["save", "Save  (Ctrl+S)"], ["saveas", "Save As…"]], edit: [["selectall", "Select All  (Ctrl+A)"], ["replace", "Replace…  (Ctrl+H)"], ["upper", "UPPERCASE All"]] };
    const bar = ["file", "edit"].map((k) => `<div class="mb${m === k ? " open" : ""}" role="button" data-k="editor-menu-${k}" data-act="emenu" data-menu="${k}">${k === "file" ? "File" : "Edit"}` +
      (m === k ? `<div class="dropdown">${menus[k].map(([c, t]) => `<div class="menu-item" role="menuitem" data-k="editor-${c}" data-act="ecmd" data-cmd="${c}">${t}</div>`).join("")}</div>` : "") + "</div>").join("");
    let dlg = "";
    if (e.dialog && e.dialog.kind === "replace") {
      dlg = `<div class="modal-back"><div class="modal" data-k="editor-dialog"><div class="modal-title">Replace</div><label>Find<input data-k="editor-find" data-field="editor.dialog.find" value="${esc(e.dialog.find)}" autocomplete="off"></label><label>Replace with<input data-k="editor-replacewith" data-field="editor.dialog.repl" value="${esc(e.dialog.repl)}" autocomplete="off"></label>` +
        `<div class="modal-btns"><button data-k="editor-dialog-cancel" data-act="dialog-cancel" data-app="editor">Close</button><button class="primary" data-k="editor-replaceall" data-act="replace-all">Replace All</button></div></div></div>`;
    } else if (e.dialog) dlg = dialog("editor", e.dialog, e.dialog.title, "Path");
    const lines = e.text.split("\n").length;
    return `<div class="menubar">${bar}</div><textarea class="editor-area" data-k="editor-text" data-field="editor.text" spellcheck="false" aria-label="Document">${esc(e.text)}</textarea>` +
      `<div class="statusbar">${esc(e.path || "Untitled")}${e.text !== e.saved ? " · modified" : ""} · ${lines} lines · ${e.text.length} chars</div>` + dlg;
  }
  function renderSheet() {
    const sh = S.sheet; let grid = `<tr><th class="corner"></th>${COLS.split("").map((c) => `<th>${c}</th>`).join("")}</tr>`;
    for (let r = 1; r <= ROWS; r++) {
      grid += `<tr><th>${r}</th>`;
      for (const c of COLS) {
        const ref = c + r, sel = sh.sel === ref, v = sel && sh.edit !== null ? sh.edit : cellValue(ref);
        grid += `<td role="gridcell" aria-label="${ref}${v === "" ? "" : " " + esc(v)}" class="${sel ? "sel" : ""}${typeof v === "number" ? " num" : ""}" data-k="cell-${ref}" data-act="cell" data-ref="${ref}">${esc(v)}${sel && sh.edit !== null ? '<span class="caret"></span>' : ""}</td>`;
      }
      grid += "</tr>";
    }
    const raw = sh.edit !== null ? sh.edit : (sh.cells[sh.sel] || "");
    return `<div class="toolbar"><button data-k="sheet-save" data-act="sheet-save">Save</button><button data-k="sheet-saveas" data-act="sheet-saveas">Save As…</button><button data-k="sheet-clear" data-act="sheet-clear">Clear Cell</button></div>` +
      `<div class="fbar"><span class="ref" data-k="sheet-ref">${sh.sel}</span><span class="fx">fx</span><input data-k="sheet-formula" data-field="sheet.formula" value="${esc(raw)}" aria-label="Formula" autocomplete="off"></div>` +
      `<div class="grid-wrap" role="grid" aria-label="Sheet cells" data-k="sheet-grid" tabindex="0"><table class="grid">${grid}</table></div><div class="statusbar">${esc(sh.path || "Untitled.csv")}</div>` + (sh.dialog ? dialog("sheet", sh.dialog, sh.dialog.title, "Path") : "");
  }
  function renderMail() {
    const m = S.mail, counts = (f) => m.messages.filter((x) => x.folder === f && !x.read).length;
    const folders = [["inbox", "Inbox"], ["sent", "Sent"], ["trash", "Trash"]].map(([k, t]) => `<div class="place${m.folder === k ? " on" : ""}" role="treeitem" data-k="mail-folder-${k}" data-act="mfolder" data-folder="${k}">${t}${counts(k) ? ` <b>${counts(k)}</b>` : ""}</div>`).join("");
    const list = m.messages.filter((x) => x.folder === m.folder).map((x) => `<div class="mrow${m.open === x.id ? " sel" : ""}${x.read ? "" : " unread"}" role="listitem" data-k="mail-msg-${x.id}" data-act="mopen" data-id="${x.id}"><div class="mfrom">${x.starred ? "&#9733; " : ""}${esc(m.folder === "sent" ? "To: " + x.to : x.from)}</div><div class="msubj">${esc(x.subject)}</div></div>`).join("") || '<div class="empty">No messages</div>';
    let pane = '<div class="empty">Select a message</div>';
    if (m.compose) {
      const c = m.compose;
      pane = `<div class="compose" data-k="mail-compose"><label>To<input data-k="mail-to" data-field="mail.compose.to" value="${esc(c.to)}" autocomplete="off"></label><label>Subject<input data-k="mail-subject" data-field="mail.compose.subject" value="${esc(c.subject)}" autocomplete="off"></label>` +
        `<textarea data-k="mail-body" data-field="mail.compose.body" aria-label="Message body">${esc(c.body)}</textarea><div class="modal-btns"><button data-k="mail-discard" data-act="mdiscard">Discard</button><button class="primary" data-k="mail-send" data-act="msend">Send</button></div></div>`;
    } else if (m.open && msgById(m.open)) {
      const x = msgById(m.open);
      pane = `<div class="mview"><div class="mhead"><div class="msubj-big">${esc(x.subject)}</div><div>From: ${esc(x.from)}</div><div>To: ${esc(x.to)}</div></div><pre class="mbody">${esc(x.body)}</pre></div>`;
    }
    return `<div class="toolbar"><button class="primary" data-k="mail-new" data-act="mcompose">Compose</button><button data-k="mail-reply" data-act="mreply">Reply</button><button data-k="mail-forward" data-act="mforward">Forward</button><button data-k="mail-star" data-act="mstar">Star</button><button data-k="mail-delete" data-act="mdelete">Delete</button></div>` +
      `<div class="mail-body"><div class="sidebar">${folders}</div><div class="mlist">${list}</div><div class="mpane">${pane}</div></div>`;
  }
  function renderSettings() {
    const s = S.settings, pages = [["appearance", "Appearance"], ["network", "Network"], ["sound", "Sound"], ["notifications", "Notifications"], ["users", "Users"]];
    const side = pages.map(([k, t]) => `<div class="place${s.page === k ? " on" : ""}" role="tab" data-k="settings-page-${k}" data-act="spage" data-page="${k}">${t}</div>`).join("");
    const toggle = (k, t) => `<div class="row"><span>${t}</span><div class="switch${s[k] ? " on" : ""}" role="switch" aria-checked="${s[k]}" aria-label="${t}" data-k="settings-${k}" data-act="stoggle" data-key="${k}"><i></i></div></div>`;
    const seg = (k, opts, t) => `<div class="row"><span>${t}</span><div class="seg">${opts.map((o) => `<button class="${s[k] === o ? "on" : ""}" role="radio" aria-checked="${s[k] === o}" data-k="settings-${k}-${o}" data-act="sset" data-key="${k}" data-val="${o}">${o[0].toUpperCase() + o.slice(1)}</button>`).join("")}</div></div>`;
    let body = "";
    if (s.page === "appearance") body = `<h2>Appearance</h2>${seg("theme", ["light", "dark"], "Theme")}<div class="row"><span>Wallpaper</span><div class="walls">${WALLPAPERS.map((w) => `<div class="wall wall-${w}${s.wallpaper === w ? " on" : ""}" role="radio" aria-checked="${s.wallpaper === w}" aria-label="${w}" data-k="settings-wallpaper-${w}" data-act="sset" data-key="wallpaper" data-val="${w}"></div>`).join("")}</div></div>${seg("fontSize", ["small", "medium", "large"], "Text size")}`;
    else if (s.page === "network") body = `<h2>Network</h2>${toggle("wifi", "Wi-Fi")}${toggle("bluetooth", "Bluetooth")}${toggle("airplane", "Airplane mode")}`;
    else if (s.page === "sound") body = `<h2>Sound</h2><div class="row"><span>Volume</span><input type="range" min="0" max="100" step="1" value="${s.volume}" data-k="settings-volume" data-field="settings.volume" aria-label="Volume"><b class="vol">${s.volume}%</b></div><div class="row"><span></span><div class="seg">${[0, 25, 50, 75, 100].map((v) => `<button data-k="settings-volume-${v}" data-act="sset" data-key="volume" data-val="${v}">${v}%</button>`).join("")}</div></div>`;
    else if (s.page === "notifications") body = `<h2>Notifications</h2>${toggle("dnd", "Do not disturb")}`;
    else body = `<h2>Users</h2><div class="row"><span>Display name</span><input data-k="settings-username" data-field="settings.usernameDraft" value="${esc(s.usernameDraft === null ? s.username : s.usernameDraft)}" autocomplete="off"><button class="primary" data-k="settings-username-apply" data-act="sname">Apply</button></div>`;
    return `<div class="settings-body"><div class="sidebar">${side}</div><div class="spage">${body}</div></div>`;
  }
  const RENDER = { files: renderFiles, editor: renderEditor, sheet: renderSheet, mail: renderMail, settings: renderSettings };

  // assign innerHTML only when it changed: unchanged windows keep their DOM (and their layout)
  function setHTML(el, html) { if (el._html !== html) { el.innerHTML = html; el._html = html; } }
  function render() {
    const act = document.activeElement, key = act && act.dataset ? act.dataset.k : null;
    const selStart = act && "selectionStart" in act ? act.selectionStart : null, selEnd = act && "selectionEnd" in act ? act.selectionEnd : null;
    renderDesktop(); renderTaskbar(); renderOverlay();
    const box = document.getElementById("windows"), z0 = 10;
    for (const el of [...box.children]) if (!win(el.dataset.app)) el.remove();
    S.windows.forEach((w, i) => {
      let el = box.querySelector(`:scope > [data-app="${w.app}"]`);
      if (!el) { el = document.createElement("div"); el.dataset.app = w.app; el.dataset.k = "win-" + w.app; }
      if (box.children[i] !== el) box.insertBefore(el, box.children[i] || null);
      const st = w.max ? "left:0;top:0;width:100%;height:calc(100% - 48px)" : `left:${w.x}px;top:${w.y}px;width:${w.w}px;height:${w.h}px`;
      const cls = `window${S.focus === w.app ? " focused" : ""}${w.min ? " minimized" : ""}`;
      if (el.className !== cls) el.className = cls;
      if (el.getAttribute("style") !== `${st};z-index:${z0 + i}`) el.setAttribute("style", `${st};z-index:${z0 + i}`);
      setHTML(el, `<div class="titlebar" data-k="title-${w.app}" data-drag-win="${w.app}">${ICON[APPS[w.app].icon]}<span>${APPS[w.app].title}${w.app === "editor" && S.editor.path ? " — " + esc(base(S.editor.path)) : ""}</span>` +
        `<div class="wbtns"><button data-k="min-${w.app}" data-act="wmin" data-app="${w.app}" aria-label="Minimize ${APPS[w.app].title}">&#8211;</button><button data-k="max-${w.app}" data-act="wmax" data-app="${w.app}" aria-label="Maximize ${APPS[w.app].title}">&#9633;</button><button class="close" data-k="close-${w.app}" data-act="wclose" data-app="${w.app}" aria-label="Close ${APPS[w.app].title}">&#10005;</button></div></div>` +
        `<div class="wbody app-${w.app}">${RENDER[w.app]()}</div>`);
    });
    let target = key ? document.querySelector(`[data-k="${CSS.escape(key)}"]`) : null;
    const dlg = document.querySelector(".window.focused .modal input");
    if (dlg && (!target || !target.closest(".modal"))) { target = dlg; }
    if (target && target.focus) {
      target.focus();
      if (selStart !== null && "setSelectionRange" in target && target === document.querySelector(`[data-k="${CSS.escape(key || "")}"]`)) { try { target.setSelectionRange(selStart, selEnd); } catch (e) { /* range inputs */ } }
    }
  }

  // ---------- actions -------------------------------------------------------------------------
  function openDialog(app, d) {
    (app === "files" ? S.files : app === "editor" ? S.editor : S.sheet).dialog = d;
    render();
    const inp = document.querySelector(`[data-k="${app}-dialog-input"]`) || document.querySelector('[data-k="editor-find"]');
    if (inp) { inp.focus(); inp.select(); }
  }
  function dialogOk(app) {
    if (app === "files") {
      const d = S.files.dialog, name = (d.value || "").trim(); if (!name || name.includes("/")) return;
      if (d.kind === "newfolder") { const p = S.files.cwd + "/" + name; if (!S.fs[p]) S.fs[p] = { type: "dir" }; S.files.selected = p; }
      else if (d.kind === "newfile") { const p = S.files.cwd + "/" + name; if (!S.fs[p]) S.fs[p] = { type: "file", content: "" }; S.files.selected = p; }
      else if (d.kind === "rename") { const src = d.path, dst = parent(src) + "/" + name; if (dst !== src && !S.fs[dst]) { for (const p of Object.keys(S.fs)) if (p === src || p.startsWith(src + "/")) { S.fs[dst + p.slice(src.length)] = S.fs[p]; delete S.fs[p]; } S.files.selected = dst; } }
      S.files.dialog = null;
    } else if (app === "editor") {
      const d = S.editor.dialog, p = norm(d.value);
      if (d.kind === "saveas") { writeFile(p, S.editor.text); S.editor.path = p; S.editor.saved = S.editor.text; }
      else if (d.kind === "open") { if (S.fs[p] && S.fs[p].type === "file") openPath(p); else return; }
      S.editor.dialog = null;
    } else if (app === "sheet") {
      const p = norm(S.sheet.dialog.value); writeFile(p, sheetCsv()); S.sheet.path = p; S.sheet.dialog = null;
    }
    render();
  }
  function filesCmd(cmd) {
    const f = S.files, sel = f.selected;
    if (cmd === "open" && sel) openPath(sel);
    else if (cmd === "rename" && sel) return openDialog("files", { kind: "rename", title: "Rename", path: sel, value: base(sel) });
    else if (cmd === "delete" && sel) { if (sel.startsWith("/trash/")) removePath(sel); else { mkdirs("/trash"); const n = uniqueIn("/trash", base(sel)); const dst = "/trash/" + n; for (const p of Object.keys(S.fs)) if (p === sel || p.startsWith(sel + "/")) { S.fs[dst + p.slice(sel.length)] = S.fs[p]; delete S.fs[p]; } } f.selected = null; }
    S.menu = null; render();
  }
  function editorCmd(cmd) {
    const e = S.editor; e.menu = null;
    if (cmd === "new") { e.path = null; e.text = e.saved = ""; }
    else if (cmd === "open") return openDialog("editor", { kind: "open", title: "Open File", value: HOME + "/Documents/" });
    else if (cmd === "save") { if (!e.path) return editorCmd("saveas"); writeFile(e.path, e.text); e.saved = e.text; }
    else if (cmd === "saveas") return openDialog("editor", { kind: "saveas", title: "Save As", value: e.path || HOME + "/Documents/untitled.txt" });
    else if (cmd === "replace") { e.dialog = { kind: "replace", find: "", repl: "" }; render(); const i = document.querySelector('[data-k="editor-find"]'); if (i) i.focus(); return; }
    else if (cmd === "upper") e.text = e.text.toUpperCase();
    else if (cmd === "selectall") { render(); const t = document.querySelector('[data-k="editor-text"]'); t.focus(); t.select(); return; }
    render();
    if (cmd === "new" || cmd === "save" || cmd === "upper") { const t = document.querySelector('[data-k="editor-text"]'); if (t) t.focus(); }
  }
  function sheetSave(as) { const sh = S.sheet; commitEdit(); if (!as && sh.path) { writeFile(sh.path, sheetCsv()); render(); } else openDialog("sheet", { kind: "saveas", title: "Save Spreadsheet As", value: sh.path || HOME + "/Documents/sheet.csv" }); }
  function composeFrom(kind) {
    const x = msgById(S.mail.open); if (kind !== "new" && !x) return;
    S.mail.compose = kind === "new" ? { to: "", subject: "", body: "" } : kind === "reply" ? { to: x.from, subject: "Re: " + x.subject, body: "" } : { to: "", subject: "Fwd: " + x.subject, body: "\n---- Forwarded message ----\n" + x.body };
    render(); const i = document.querySelector(kind === "reply" ? '[data-k="mail-body"]' : '[data-k="mail-to"]'); if (i) { i.focus(); if (kind !== "reply") i.setSelectionRange(0, 0); }
  }

  function act(el, ev) {
    const a = el.dataset.act, app = el.dataset.app;
    const winEl = el.closest(".window"); if (winEl && S.focus !== winEl.dataset.app) focusWin(winEl.dataset.app);
    if (a !== "start" && a !== "emenu" && a !== "ctx") { S.menu = null; if (S.editor.menu && a !== "ecmd") S.editor.menu = null; }
    const dbl = ev.detail >= 2;
    switch (a) {
      case "launch": if (el.classList.contains("dicon") && !dbl) break; launch(app); break;
      case "open-path": if (dbl) openPath(el.dataset.path); break;
      case "start": S.menu = S.menu && S.menu.kind === "start" ? null : { kind: "start" }; break;
      case "task": { const w = win(app); if (S.focus === app && !w.min) w.min = true; else { w.min = false; focusWin(app); } break; }
      case "wmin": win(app).min = true; S.focus = null; break;
      case "wmax": win(app).max = !win(app).max; break;
      case "wclose": closeWin(app); break;
      case "cd": S.files.cwd = el.dataset.path; mkdirs(S.files.cwd); S.files.selected = null; break;
      case "up": if (S.files.cwd !== "/") S.files.cwd = parent(S.files.cwd); S.files.selected = null; break;
      case "fsel": S.files.selected = el.dataset.path; if (dbl) openPath(el.dataset.path); break;
      case "fgrid": S.files.selected = null; break;
      case "newfolder": return openDialog("files", { kind: "newfolder", title: "New Folder", value: uniqueIn(S.files.cwd, "New Folder") });
      case "newfile": return openDialog("files", { kind: "newfile", title: "New File", value: uniqueIn(S.files.cwd, "untitled.txt") });
      case "rename": case "delete": return filesCmd(a);
      case "ctx": return filesCmd(el.dataset.cmd);
      case "dialog-ok": return dialogOk(app);
      case "dialog-cancel": (app === "files" ? S.files : app === "editor" ? S.editor : S.sheet).dialog = null; break;
      case "emenu": S.editor.menu = S.editor.menu === el.dataset.menu ? null : el.dataset.menu; break;
      case "ecmd": return editorCmd(el.dataset.cmd);
      case "replace-all": { const d = S.editor.dialog; if (d.find) S.editor.text = S.editor.text.split(d.find).join(d.repl); S.editor.dialog = null; break; }
      case "cell": if (S.sheet.sel !== el.dataset.ref) commitEdit(); S.sheet.sel = el.dataset.ref; if (dbl) S.sheet.edit = S.sheet.cells[S.sheet.sel] || ""; render(); document.querySelector('[data-k="sheet-grid"]').focus(); return;
      case "sheet-save": return sheetSave(false);
      case "sheet-saveas": return sheetSave(true);
      case "sheet-clear": delete S.sheet.cells[S.sheet.sel]; S.sheet.edit = null; break;
      case "mfolder": S.mail.folder = el.dataset.folder; S.mail.open = null; S.mail.compose = null; break;
      case "mopen": { const x = msgById(+el.dataset.id); x.read = true; S.mail.open = x.id; S.mail.compose = null; break; }
      case "mcompose": return composeFrom("new");
      case "mreply": return composeFrom("reply");
      case "mforward": return composeFrom("forward");
      case "mstar": { const x = msgById(S.mail.open); if (x) x.starred = !x.starred; break; }
      case "mdelete": { const x = msgById(S.mail.open); if (x) { if (x.folder === "trash") S.mail.messages = S.mail.messages.filter((m) => m !== x); else x.folder = "trash"; S.mail.open = null; } break; }
      case "mdiscard": S.mail.compose = null; break;
      case "msend": { const c = S.mail.compose; if (!c.to.includes("@")) return; addMessage({ folder: "sent", from: "user@desk.local", to: c.to.trim(), subject: c.subject, body: c.body, read: true }); S.mail.compose = null; S.mail.folder = "sent"; break; }
      case "spage": S.settings.page = el.dataset.page; break;
      case "stoggle": S.settings[el.dataset.key] = !S.settings[el.dataset.key]; if (el.dataset.key === "airplane" && S.settings.airplane) { S.settings.wifi = false; S.settings.bluetooth = false; } break;
      case "sset": S.settings[el.dataset.key] = el.dataset.key === "volume" ? +el.dataset.val : el.dataset.val; break;
      case "sname": if (S.settings.usernameDraft !== null && S.settings.usernameDraft.trim()) S.settings.username = S.settings.usernameDraft.trim(); S.settings.usernameDraft = null; break;
      default: return;
    }
    render();
  }

  // ---------- events ---------------------------------------------------------------------------
  let drag = null;  // {kind: "win"|"file", ...} while the left button is held
  document.addEventListener("mousedown", (ev) => {
    if (ev.button !== 0) return;
    const winEl = ev.target.closest(".window");
    if (winEl && S.focus !== winEl.dataset.app) { focusWin(winEl.dataset.app); for (const [i, w] of S.windows.entries()) { const e = document.querySelector(`[data-k="win-${w.app}"]`); if (e) { e.style.zIndex = 10 + i; e.classList.toggle("focused", w.app === S.focus); } } }
    const t = ev.target.closest("[data-drag-win]");
    if (t && !ev.target.closest("button")) { const w = win(t.dataset.dragWin); if (!w.max) drag = { kind: "win", w, x0: ev.clientX, y0: ev.clientY, wx: w.x, wy: w.y }; ev.preventDefault(); return; }
    const f = ev.target.closest("[data-drag]");
    if (f) drag = { kind: "file", path: f.dataset.drag, x0: ev.clientX, y0: ev.clientY, moved: false };
  });
  document.addEventListener("mousemove", (ev) => {
    if (!drag) return;
    if (drag.kind === "win") {
      drag.w.x = Math.max(-drag.w.w + 80, Math.min(window.innerWidth - 80, drag.wx + ev.clientX - drag.x0));
      drag.w.y = Math.max(0, Math.min(window.innerHeight - 80, drag.wy + ev.clientY - drag.y0));
      const e = document.querySelector(`[data-k="win-${drag.w.app}"]`); if (e) { e.style.left = drag.w.x + "px"; e.style.top = drag.w.y + "px"; }
    } else if (Math.abs(ev.clientX - drag.x0) + Math.abs(ev.clientY - drag.y0) > 6) {
      drag.moved = true; document.body.classList.add("dragging");
      for (const d of document.querySelectorAll(".drop-hover")) d.classList.remove("drop-hover");
      const over = document.elementFromPoint(ev.clientX, ev.clientY); const d = over && over.closest("[data-drop]"); if (d) d.classList.add("drop-hover");
    }
  });
  document.addEventListener("mouseup", (ev) => {
    if (!drag) return;
    const d = drag; drag = null; document.body.classList.remove("dragging");
    if (d.kind === "win") { render(); return; }
    if (!d.moved) return;
    const over = document.elementFromPoint(ev.clientX, ev.clientY), target = over && over.closest("[data-drop]");
    if (target && S.fs[target.dataset.drop] && S.fs[target.dataset.drop].type === "dir") { if (movePath(d.path, target.dataset.drop)) S.files.selected = null; }
    d.suppressClick = true; suppressNextClick = true; render();
  });
  let suppressNextClick = false;
  document.addEventListener("click", (ev) => {
    if (suppressNextClick) { suppressNextClick = false; return; }
    const el = ev.target.closest("[data-act]");
    if (!el) { if (S.menu || S.editor.menu) { S.menu = null; S.editor.menu = null; render(); } return; }
    if (el.tagName === "INPUT" || el.tagName === "TEXTAREA") return;
    act(el, ev);
  });
  document.addEventListener("contextmenu", (ev) => {
    ev.preventDefault();
    const f = ev.target.closest(".fitem");
    if (f) { S.files.selected = f.dataset.path; S.menu = { kind: "files-ctx", x: ev.clientX, y: ev.clientY }; focusWin("files"); render(); }
  });
  function setField(path, value) {
    const parts = path.split("."); let o = S;
    if (path === "sheet.formula") { S.sheet.edit = value; return; }
    for (const p of parts.slice(0, -1)) { if (!o[p]) return; o = o[p]; }
    o[parts[parts.length - 1]] = path === "settings.volume" ? +value : value;
  }
  document.addEventListener("input", (ev) => {
    const f = ev.target.dataset && ev.target.dataset.field; if (!f) return;
    setField(f, ev.target.value);
    if (f === "editor.text" || f === "settings.volume") { const sb = document.querySelector(f === "editor.text" ? ".app-editor .statusbar" : ".vol"); if (sb) { if (f === "settings.volume") sb.textContent = S.settings.volume + "%"; else sb.textContent = `${S.editor.path || "Untitled"}${S.editor.text !== S.editor.saved ? " · modified" : ""} · ${S.editor.text.split("\n").length} lines · ${S.editor.text.length} chars`; } }
  });
  document.addEventListener("change", (ev) => { if (ev.target.dataset && ev.target.dataset.field === "settings.volume") render(); });

  document.addEventListener("keydown", (ev) => {
    const k = ev.key, ctrl = ev.ctrlKey || ev.metaKey, t = ev.target, app = S.focus;
    if (k === "Escape") { S.menu = null; S.editor.menu = null; if (app && ["files", "editor", "sheet"].includes(app) && S[app].dialog) S[app].dialog = null; else if (app === "sheet") S.sheet.edit = null; render(); return; }
    if (k === "Enter" && t.closest && t.closest(".modal") && t.tagName === "INPUT") { ev.preventDefault(); if (t.dataset.k === "editor-find" || t.dataset.k === "editor-replacewith") act(document.querySelector('[data-k="editor-replaceall"]'), ev); else dialogOk(t.closest(".window").dataset.app); return; }
    if (k === "Enter" && t.dataset && t.dataset.k === "settings-username") { act(document.querySelector('[data-k="settings-username-apply"]'), ev); return; }
    if (ctrl && k.toLowerCase() === "s" && (app === "editor" || app === "sheet")) { ev.preventDefault(); if (app === "editor") editorCmd(ev.shiftKey ? "saveas" : "save"); else sheetSave(ev.shiftKey); return; }
    if (ctrl && k.toLowerCase() === "h" && app === "editor") { ev.preventDefault(); editorCmd("replace"); return; }
    if (ctrl && k.toLowerCase() === "o" && app === "editor") { ev.preventDefault(); editorCmd("open"); return; }
    if (ctrl && k.toLowerCase() === "n" && app === "mail") { ev.preventDefault(); composeFrom("new"); return; }
    if (ctrl && k.toLowerCase() === "n" && app === "editor") { ev.preventDefault(); editorCmd("new"); return; }
    if (app === "files" && !(t.tagName === "INPUT") && !S.files.dialog) {
      if (k === "Delete") { ev.preventDefault(); filesCmd("delete"); return; }
      if (k === "F2") { ev.preventDefault(); filesCmd("rename"); return; }
      if (k === "Enter" && S.files.selected) { ev.preventDefault(); filesCmd("open"); return; }
      if (k === "Backspace") { ev.preventDefault(); act(document.querySelector('[data-k="files-up"]'), ev); return; }
      if (ctrl && k.toLowerCase() === "a") { ev.preventDefault(); return; }
    }
    if (app === "sheet" && !S.sheet.dialog) {
      const inFormula = t.dataset && t.dataset.k === "sheet-formula";
      if (inFormula) { if (k === "Enter" || k === "Tab") { ev.preventDefault(); if (S.sheet.edit === null) S.sheet.edit = t.value; commitEdit(); k === "Enter" ? moveSel(0, 1) : moveSel(1, 0); render(); document.querySelector('[data-k="sheet-grid"]').focus(); } return; }
      if (t.tagName === "INPUT" || t.tagName === "TEXTAREA") return;
      const sh = S.sheet, moves = { ArrowDown: [0, 1], ArrowUp: [0, -1], ArrowLeft: [-1, 0], ArrowRight: [1, 0] };
      if (k === "Enter" || k === "Tab") { ev.preventDefault(); commitEdit(); k === "Enter" ? moveSel(0, ev.shiftKey ? -1 : 1) : moveSel(ev.shiftKey ? -1 : 1, 0); }
      else if (moves[k] && sh.edit === null) { ev.preventDefault(); moveSel(...moves[k]); }
      else if (k === "Backspace" && sh.edit !== null) { ev.preventDefault(); sh.edit = sh.edit.slice(0, -1); }
      else if ((k === "Delete" || k === "Backspace") && sh.edit === null) { ev.preventDefault(); delete sh.cells[sh.sel]; }
      else if (k === "F2") { ev.preventDefault(); sh.edit = sh.cells[sh.sel] || ""; }
      else if (k.length === 1 && !ctrl && !ev.altKey) { ev.preventDefault(); sh.edit = (sh.edit === null ? "" : sh.edit) + k; }
      else return;
      render(); const g = document.querySelector('[data-k="sheet-grid"]'); if (g) g.focus();
    }
  });

  // ---------- API for the env ----------------------------------------------------------------
  const CONFIG = {
    create_file: (p) => writeFile(p.path, p.content || ""),
    mkdir: (p) => mkdirs(p.path),
    remove: (p) => removePath(norm(p.path)),
    launch: (p) => launch(p.app),
    open: (p) => openPath(norm(p.path)),
    settings: (p) => { for (const [k, v] of Object.entries(p)) { if (!(k in S.settings)) throw new Error("unknown setting " + k); S.settings[k] = v; } },
    mail: (p) => { for (const m of p.messages || []) addMessage(m); },
    sheet_cells: (p) => { Object.assign(S.sheet.cells, p.cells); },
    move_window: (p) => { const w = win(p.app); Object.assign(w, { x: p.x, y: p.y }); },
    clock: (p) => { S.clock = p.time; },
  };
  function defaults() {
    writeFile(HOME + "/Documents/notes.txt", "Meeting notes\n- review budget\n- plan the team offsite\n");
    writeFile(HOME + "/Documents/todo.txt", "buy milk\ncall Alice\nfix the printer\n");
    writeFile(HOME + "/Documents/budget.csv", "Item,Cost\nRent,1200\nFood,350\nTravel,180\n");
    writeFile(HOME + "/Downloads/invoice_march.txt", "Invoice #2041\nAmount due: 420 EUR\n");
    writeFile(HOME + "/Downloads/setup_notes.txt", "Install steps:\n1. unpack\n2. run setup\n");
    mkdirs(HOME + "/Pictures"); mkdirs("/trash");
    addMessage({ from: "alice@desk.local", subject: "Lunch on Friday?", body: "Hi! Are you free for lunch on Friday at noon?\n\nAlice" });
    addMessage({ from: "bob@desk.local", subject: "Quarterly report", body: "Please send me the quarterly report by Monday.\n\nThanks,\nBob" });
    addMessage({ from: "it@desk.local", subject: "Password expires soon", body: "Your password expires in 5 days. Change it in the account portal." });
  }
  window.desktop = {
    // setup: reset to the default desktop, then apply OSWorld-style config steps [{type, parameters}]
    setup(steps) {
      Object.assign(S, { fs: {}, windows: [], focus: null, menu: null, clock: "09:41" });
      Object.assign(S.files, { cwd: HOME, selected: null, dialog: null });
      Object.assign(S.editor, { path: null, text: "", saved: "", dialog: null, menu: null });
      Object.assign(S.sheet, { path: null, cells: {}, sel: "A1", edit: null, dialog: null });
      Object.assign(S.settings, { page: "appearance", theme: "light", wallpaper: "mountains", fontSize: "medium", wifi: true, bluetooth: false, airplane: false, volume: 50, dnd: false, username: "User", usernameDraft: null });
      Object.assign(S.mail, { folder: "inbox", messages: [], open: null, compose: null, nextId: 1 });
      defaults();
      for (const step of steps || []) {
        const f = CONFIG[step.type]; if (!f) throw new Error(`unknown config type ${step.type}; expected one of ${Object.keys(CONFIG).join(", ")}`);
        f(step.parameters || {});
      }
      render();
      if (document.activeElement && document.activeElement !== document.body) document.activeElement.blur();
      return true;
    },
    // config: apply more config steps without resetting (the evaluator's postconfig)
    config(steps) { for (const step of steps || []) { const f = CONFIG[step.type]; if (!f) throw new Error("unknown config type " + step.type); f(step.parameters || {}); } render(); return true; },
    // state: everything an evaluator or state_key may read (no pixels, no clocks)
    state() {
      const fe = document.activeElement;
      return JSON.parse(JSON.stringify({
        fs: S.fs, windows: S.windows, focus: S.focus, menu: S.menu,
        files: S.files, editor: S.editor,
        sheet: Object.assign({}, S.sheet, { values: Object.fromEntries(Object.keys(S.sheet.cells).map((r) => [r, cellValue(r)])) }),
        settings: S.settings, mail: S.mail,
        focused: fe && fe.dataset && fe.dataset.k ? fe.dataset.k : null,
        selection: fe && "selectionStart" in fe && fe.dataset && fe.dataset.k ? [fe.selectionStart, fe.selectionEnd] : null,
      }));
    },
    // the centre of the first visible element matching a CSS selector (for the scripted oracle)
    locate(selector) {
      for (const el of document.querySelectorAll(selector)) {
        const r = el.getBoundingClientRect(); if (r.width < 1 || r.height < 1) continue;
        const x = Math.round(r.left + Math.min(r.width / 2, 40)), y = Math.round(r.top + r.height / 2);
        const hit = document.elementFromPoint(x, y); if (hit && (hit === el || el.contains(hit))) return [x, y];
      }
      return null;
    },
  };
  window.desktop.setup([]);
})();
